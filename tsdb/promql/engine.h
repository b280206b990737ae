// The PromQL engine: evaluates a parsed expression (parser.h) against a
// Queryable store, as an instant query (one evaluation time) or a range
// query (every step of [start, end]), with Prometheus 3's semantics.
//
// Evaluation model (as Prometheus's engine): every node is evaluated once
// for all steps of the query; a selector loads its series ONCE for the whole
// span it needs ([start - offset - lookback/range, end - offset], or the
// `@` time) and slices that per step, so a range query never re-reads
// storage per step. Subqueries evaluate their inner expression as a range
// query over the subquery's own aligned steps. docs/promql_engine.md has the
// details, limits and the deliberate differences from Prometheus.
//
// Limits: samples loaded (and points produced) per query, a timeout per
// query, and a bound on concurrently running queries (a counting semaphore;
// a query waits for a slot until its timeout). Every failure is a
// QueryError whose error_type() is Prometheus's API errorType.
//
// Thread-safety: an Engine may be shared by any number of threads; each
// query runs on the calling thread. The Queryable must outlive the Engine
// and be safe for concurrent select() calls (DB is).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tsdb/label_matcher.h"
#include "tsdb/promql/value.h"
#include "tsdb/querier.h"

namespace strata::tsdb::promql {

// Where series come from. select() returns the series matching every
// matcher with their data in [mint, maxt] (both inclusive), sorted by labels.
// DbQueryStore (query_store.h) reads the local DB, FanoutStore the shards.
class Queryable {
 public:
  virtual ~Queryable();
  virtual std::vector<strata::tsdb::Series> select(const std::vector<LabelMatcher>& matchers,
                                                   std::int64_t mint, std::int64_t maxt,
                                                   const SelectHints& hints) const = 0;

  // Aggregation push-down, for a store split into parts that each hold
  // whole series (shards). `expr` is an aggregation (sum, count, min, max,
  // group) over an expression that reads each series on its own; the engine
  // asks this before evaluating such a node and combines what comes back
  // (sum of sums and counts, max of maxes...). Returns each part's result
  // at the steps of [start, end] (instant: start == end), or nullopt when the
  // store cannot push down right now -- then the engine evaluates the node
  // itself from select(). The default: never.
  struct PartsQuery {
    std::string expr;  // PromQL text of the aggregation
    std::int64_t start = 0, end = 0, step = 0;
    bool instant = false;
    std::optional<std::int64_t> resolution;  // max_source_resolution, if forced
  };
  virtual std::optional<std::vector<std::vector<Series>>> evaluate_on_parts(
      const PartsQuery& query, std::vector<std::string>* warnings) const;
};

// Prometheus's API errorType values.
enum class ErrorType { kBadData, kExecution, kTimeout, kCanceled };
std::string_view to_string(ErrorType type);  // "bad_data", "execution", ...

class QueryError : public std::runtime_error {
 public:
  QueryError(ErrorType type, const std::string& message)
      : std::runtime_error(message), type_(type) {}
  ErrorType type() const { return type_; }
  std::string_view error_type() const { return to_string(type_); }

 private:
  ErrorType type_;
};
// The query text does not parse, or its parameters are invalid.
class BadDataError : public QueryError {
 public:
  explicit BadDataError(const std::string& m) : QueryError(ErrorType::kBadData, m) {}
};
// Evaluation failed: too many samples, many-to-many matching, bad arguments.
class ExecutionError : public QueryError {
 public:
  explicit ExecutionError(const std::string& m) : QueryError(ErrorType::kExecution, m) {}
};
class TimeoutError : public QueryError {
 public:
  explicit TimeoutError(const std::string& m) : QueryError(ErrorType::kTimeout, m) {}
};
class CanceledError : public QueryError {
 public:
  explicit CanceledError(const std::string& m) : QueryError(ErrorType::kCanceled, m) {}
};

struct EngineOptions {
  // How far back an instant vector selector looks for a sample.
  std::chrono::milliseconds lookback_delta{std::chrono::minutes(5)};
  // Samples read from storage plus points produced by operators, per query.
  std::size_t max_samples = 50'000'000;
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  int max_concurrent_queries = 20;
  // Step of a subquery written without one (`x[1h:]`); Prometheus's
  // global evaluation_interval.
  std::chrono::milliseconds default_evaluation_interval{std::chrono::minutes(1)};
  // Threads one query may use to decode the samples of a large selection
  // (>= 256 series); 0: the machine's cores, at most 4. Small selections
  // stay on the calling thread.
  unsigned decode_threads = 0;
};

struct QueryOptions {
  // Forces the resolution read (0 raw, 300000 5 m, 3600000 1 h) instead of
  // letting the store pick one from the step.
  std::optional<std::int64_t> max_source_resolution;
  std::optional<std::chrono::milliseconds> lookback_delta;  // overrides the engine's
  // Shortens (never lengthens) the engine's timeout for this query.
  std::optional<std::chrono::milliseconds> timeout;
  // Set to true (from any thread) to abandon the query with a CanceledError.
  const std::atomic<bool>* cancel = nullptr;
};

struct QueryResult {
  Value value;
  std::vector<std::string> warnings;  // Prometheus-style annotations, deduplicated
};

class Engine {
 public:
  explicit Engine(const Queryable& store, EngineOptions options = {});

  // The value of `expr` at `t_ms`: a Scalar, String, Vector or (for a range
  // selector or subquery) Matrix.
  QueryResult instant_query(std::string_view expr, std::int64_t t_ms,
                            const QueryOptions& options = {});
  // A Matrix with one point per step where the series has a value, sorted
  // by labels. `expr` must be a scalar or an instant vector.
  QueryResult range_query(std::string_view expr, std::int64_t start_ms, std::int64_t end_ms,
                          std::int64_t step_ms, const QueryOptions& options = {});

  const EngineOptions& options() const { return options_; }

 private:
  QueryResult run(std::string_view expr, std::int64_t start, std::int64_t end, std::int64_t step,
                  bool instant, const QueryOptions& options);

  const Queryable& store_;
  EngineOptions options_;
  std::counting_semaphore<> slots_;
};

}  // namespace strata::tsdb::promql

// The LogQL evaluator: runs a parsed logql::Query (ast.h) over the parts of
// the log store (the head and the segments, Searcher::parts()) and returns
// what Loki's query API returns -- streams of log lines for a log query, a
// matrix (one value per step) for a metric query.
//
// How a log query is evaluated, per part:
//   1. candidates: the intersection of the kLabel postings of the selector's
//      non-empty equality matchers, and, for a regex matcher that does not
//      match "", the union of the postings of the dictionary's label terms
//      whose value it matches; time pruning by the part's doc range;
//   2. every `|= "text"` line filter narrows the candidates further by the
//      token postings of the terms the text is sure to hold as whole words
//      (a term delimited on both sides inside the text); a term delimited
//      only on its left is looked up as a prefix. A term touching the
//      text's edge may be part of a longer word of the line (`|= "ail"`
//      matches "failed"), so it cannot narrow: |= is a case-sensitive
//      substring match, as in Loki, and is always confirmed on the line;
//   3. each candidate's stream is checked against the whole selector, then
//      the stages run in query order: line filters (substring / RE2),
//      parsers (| json, | logfmt, | regexp add extracted labels; a name the
//      stream already has becomes <name>_extracted, as in Loki), label
//      filters, line_format.
// A log query returns at most `limit` entries, newest first (backward) or
// oldest first (forward), grouped by their final label set.
//
// Metric queries collect the entries of every range function's log query
// once over [start - range, end] and then slide the window (t - range, t]
// over the steps t = start, start + step, ..., end. A step whose window is
// empty has no sample (as in Loki). Aggregations group by the final label
// set (stream + extracted labels); binary operators work between scalars and
// vectors, and between two vectors on identical label sets.
//
// detected_level: when an aggregation groups by `level` or `detected_level`,
// an entry whose labels lack `level` gets `detected_level` from its line
// (severity.h after the detected timestamp; "unknown" when none), as Loki's
// level discovery does for Grafana's log-volume graph.
//
// Limits (EvalError, a 400 for the API): at most max_series series per
// range function, at most max_entries_scanned log lines read per query, at
// most kMaxSteps steps.
//
// Thread-safety: pure functions of their inputs; the parts are immutable or
// internally locked, so queries run concurrently with ingest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "logindex/logql/ast.h"
#include "logindex/query.h"

namespace strata::logindex::logql {

inline constexpr std::size_t kMaxSteps = 11'000;

// A query the store refuses to run (a limit) or cannot evaluate (an
// aggregation over a scalar); the message says which and why.
class EvalError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct EvalLimits {
  std::size_t max_series = 10'000;
  std::uint64_t max_entries_scanned = 20'000'000;
};

enum class Direction { kBackward, kForward };

struct LogRequest {
  std::int64_t start_ns = 0;  // inclusive
  std::int64_t end_ns = 0;    // exclusive, as in Loki
  std::size_t limit = 100;
  Direction direction = Direction::kBackward;
};

struct StreamEntries {
  Labels labels;
  std::vector<std::pair<std::int64_t, std::string>> entries;  // in the request's direction
};

struct EvalStats {
  std::uint64_t entries_scanned = 0;  // lines read and run through the pipeline
  std::uint64_t bytes_scanned = 0;
};

struct LogResult {
  std::vector<StreamEntries> streams;  // sorted by labels
  EvalStats stats;
};

LogResult evaluate_log(const std::vector<SearchPart>& parts, const LogQuery& query,
                       const LogRequest& request, const EvalLimits& limits = {});

struct MetricRequest {
  std::int64_t start_ns = 0;  // first step
  std::int64_t end_ns = 0;    // last step is the last start + k*step <= end
  std::int64_t step_ns = 1;   // > 0
  // Give entries without `level` a detected_level label, as if an outer
  // aggregation grouped by level: what a fan-out node asks a shard for when
  // it evaluates such an aggregation itself over the shard's range series.
  bool detect_level = false;
};

struct Series {
  Labels labels;
  std::vector<std::pair<std::int64_t, double>> points;  // (step time ns, value), ascending
};

struct MetricResult {
  bool scalar = false;         // a scalar expression: one series with empty labels
  std::vector<Series> series;  // sorted by labels; series without points dropped
  EvalStats stats;
};

MetricResult evaluate_metric(const std::vector<SearchPart>& parts, const MetricExpr& expr,
                             const MetricRequest& request, const EvalLimits& limits = {});

// The series of one range function -- a kRange node such as
// count_over_time({job="x"}[5m]) -- at the request's steps: one Series per
// label set (stream plus extracted labels, detected_level when
// `detect_level`), points only at step times, ascending; series without
// points may be left out. It adds what it reads to `stats`.
//
// evaluate_metric(parts, ...) computes them from the store's parts
// (evaluate_range below); a fan-out node (fanout.h) gathers them from its
// shards and evaluates the rest of the expression -- aggregations, binary
// operators -- with evaluate_metric(expr, request, source), so its answer is
// exactly a single node's.
using RangeSource = std::function<std::vector<Series>(const MetricExpr& range, bool detect_level,
                                                      EvalStats& stats)>;

// Evaluates `expr`, asking `source` for every range function it contains
// (once per occurrence, in evaluation order). Validates the request (step,
// end, kMaxSteps) first; EvalError on a bad one.
MetricResult evaluate_metric(const MetricExpr& expr, const MetricRequest& request,
                             const RangeSource& source);

// The range function `range` (a kRange node) over the parts: a RangeSource.
// Enforces max_series and max_entries_scanned.
std::vector<Series> evaluate_range(const std::vector<SearchPart>& parts, const MetricExpr& range,
                                   const MetricRequest& request, bool detect_level,
                                   const EvalLimits& limits, EvalStats& stats);

// The limits' errors, shared with the fan-out, which applies them to what
// its shards sent together: EvalError when `series` exceeds max_series or
// `scanned` exceeds max_entries_scanned.
void check_series_limit(std::size_t series, const EvalLimits& limits);
void check_scan_limit(std::uint64_t scanned, const EvalLimits& limits);

// Shared with the API's series and index-stats endpoints: calls
// fn(stream, ts, line) for every entry of a stream the selector matches with
// start <= ts < end (no pipeline). Counts into `stats` and enforces
// max_entries_scanned.
struct SelectedEntry {
  const Labels& stream;
  std::int64_t timestamp_ns;
  std::string_view line;
  std::size_t part;  // index into parts
};
void scan_selector(const std::vector<SearchPart>& parts, const StreamSelector& selector,
                   std::int64_t start_ns, std::int64_t end_ns, const EvalLimits& limits,
                   EvalStats& stats, const std::function<void(const SelectedEntry&)>& fn);

}  // namespace strata::logindex::logql

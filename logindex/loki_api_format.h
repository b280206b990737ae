// The Loki API's wire format: how a request's parameters are read and how
// the answers are written, in one place, so that the store's API
// (loki_api.h, one node's data) and the fan-out (fanout.h, many shards'
// data merged) accept exactly the same requests and answer byte for byte
// the same JSON. docs/logql.md describes the parameters and envelopes.
//
// Parameter readers throw http::BadData with a message naming the parameter
// and what was expected (a 400 bad_data for the client); LogQL syntax errors
// keep the parser's "parse error at line L, col C: ..." wording.
//
// Pure functions of their inputs; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_server.h"
#include "common/labels.h"
#include "logindex/logql/evaluator.h"
#include "logindex/stream_selector.h"

namespace strata::logindex {

inline constexpr std::int64_t kLokiSecond = 1'000'000'000;
inline constexpr std::int64_t kLokiHour = 3600 * kLokiSecond;

// The request parameter a fan-out node sets when it asks a shard for the
// series of one range function whose outer aggregation groups by level
// (logql::MetricRequest::detect_level). Not part of Loki's API.
inline constexpr std::string_view kDetectLevelParam = "strata_detect_level";

// ---- parameters ----

// A parameter's first value when present and non-empty.
std::optional<std::string> nonempty_param(const http::Request& req, std::string_view name);

// Loki's parseTimestamp: a number with a fraction is float seconds (to the
// millisecond); an integer of at most 10 digits is seconds, a longer one
// nanoseconds; otherwise RFC 3339. nullopt when absent.
std::optional<std::int64_t> time_param(const http::Request& req, std::string_view name,
                                       std::int64_t now_ns);
// `step`: a duration or (fractional) seconds; default max(1s, (end-start)/250).
std::int64_t step_param(const http::Request& req, std::int64_t start_ns, std::int64_t end_ns);
logql::Direction direction_param(const http::Request& req);
// `limit` of a log query: `default_limit` when absent, else 1..max_limit.
std::size_t limit_param(const http::Request& req, std::size_t default_limit, std::size_t max_limit);
// `query`, required, parsed.
logql::Query query_param(const http::Request& req);
// start/end of labels, label values, series and index stats (default: the
// 6 hours up to now): [first, second) with second = end + 1 (end inclusive).
std::pair<std::int64_t, std::int64_t> meta_range(const http::Request& req, std::int64_t now_ns);
// match[] (or match) of /series: at least one, each only a stream selector.
std::vector<StreamSelector> series_selectors(const http::Request& req);
// The <name> of /loki/api/v1/label/<name>/values; nullopt when the path
// does not have that shape. The name is not validated.
std::optional<std::string> label_name_from_path(std::string_view path);
// BadData unless `name` is a valid label name.
void check_label_name(const std::string& name);

// A parsed /query_range or /query request: exactly what the evaluators
// need. For /query a log query covers the hour up to `time`, a metric query
// the single step `time`.
struct LokiQueryRequest {
  logql::Query query;
  logql::LogRequest log;        // when !query.is_metric()
  logql::MetricRequest metric;  // when query.is_metric()
  bool instant = false;
  std::int64_t time_ns = 0;  // instant: the evaluation time
};
LokiQueryRequest query_range_request(const http::Request& req, std::int64_t now_ns,
                                     std::size_t default_limit, std::size_t max_limit);
LokiQueryRequest instant_query_request(const http::Request& req, std::int64_t now_ns,
                                       std::size_t default_limit, std::size_t max_limit);

// ---- answers ----

// Unix seconds with up to 9 decimals, trailing zeros cut (1700000000.5):
// a sample time as Loki writes it. Also a `step` a shard reads back exactly.
std::string format_seconds(std::int64_t ns);
// Prometheus' spelling of a sample value: shortest round-trip, no exponent.
std::string format_value(double v);

std::string streams_json(const logql::LogResult& r);
std::string matrix_json(const logql::MetricResult& r);
// /query's answer: a vector, or a scalar at `time_ns`.
std::string vector_json(const logql::MetricResult& r, std::int64_t time_ns);
// The metric or log answer of a parsed request.
std::string query_json(const LokiQueryRequest& q, const logql::MetricResult& r);
// {"status":"success","data":["a","b"]}: labels and label values.
std::string strings_json(const std::set<std::string>& values);
// {"status":"success","data":[{...},{...}]}: series.
std::string series_json(const std::set<Labels>& series);
// Loki's index/stats answer is a bare object, without the envelope.
std::string index_stats_json(std::uint64_t streams, std::uint64_t chunks, std::uint64_t entries,
                             std::uint64_t bytes);

// ---- routes ----

// The handlers of the Loki API; each path is served for GET and POST.
struct LokiHandlers {
  http::Handler query_range, query, labels, label_values, series, index_stats;
};
// label_values gets every path under /loki/api/v1/label/ (a prefix route).
void add_loki_routes(http::HttpServer& server, const LokiHandlers& handlers);

}  // namespace strata::logindex

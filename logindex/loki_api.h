// LokiApi: the Loki-compatible HTTP API of the log store, so Grafana's
// built-in Loki data source works (Explore, dashboards, the log-volume
// graph, label browsing) without a plugin. docs/logql.md lists the LogQL
// subset and the differences from Loki.
//
//   GET|POST /loki/api/v1/query_range   query, start, end, step, direction, limit
//   GET|POST /loki/api/v1/query         query, time, direction, limit
//   GET|POST /loki/api/v1/labels        start, end
//   GET|POST /loki/api/v1/label/<name>/values   start, end
//   GET|POST /loki/api/v1/series        match[] (repeatable), start, end
//   GET|POST /loki/api/v1/index/stats   query, start, end
//
// Times are unix nanoseconds (an integer of more than 10 digits), unix
// seconds (10 digits or fewer, or with a fraction) or RFC 3339, as Loki
// parses them; `step` is a duration ("15s") or seconds ("15", "0.5").
// Defaults: end = now, start = end - 1h, limit 100, direction backward,
// step = max(1s, (end - start) / 250) as in Loki.
//
// Answers use Loki's envelope:
//   {"status":"success","data":{"resultType":"streams"|"matrix"|"vector"|"scalar",
//    "result":[...],"stats":{...}}}
// Log lines are ["<ns>","line"] pairs; metric samples [<float seconds>,"<value>"].
// A bad request is 400 {"status":"error","errorType":"bad_data","error":"..."}
// (the search API's convention); a LogQL syntax error's message is the
// parser's, "parse error at line L, col C: ...", as Loki words it.
//
// Form-encoded POST bodies arrive merged into Request::params (http_server.h).
// The parameters and answers are loki_api_format.h's, shared with the
// fan-out over shards (fanout.h). One parameter is Strata's own:
// strata_detect_level=1 on a metric query_range labels entries without
// `level` by detected_level, as an outer `by (level)` aggregation would --
// what a fan-out node asks for when it evaluates that aggregation itself.
//
// Thread-safety: handlers only read the store and may run concurrently.
// Ownership: borrows the Searcher, which must outlive the routes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "logindex/logql/evaluator.h"
#include "logindex/loki_api_format.h"
#include "logindex/query.h"

namespace strata::logindex {

struct LokiApiOptions {
  std::size_t default_limit = 100;
  std::size_t max_limit = 5000;
  logql::EvalLimits limits;
  // "Now" in unix ns, for defaults; replaceable in tests.
  std::function<std::int64_t()> now_ns;
};

class LokiApi {
 public:
  LokiApi(const Searcher& index, LokiApiOptions options, metrics::Registry& registry);

  // Registers every route; the handlers share ownership of `api`.
  static void register_routes(const std::shared_ptr<LokiApi>& api, http::HttpServer& server);

  http::Response query_range(const http::Request& req) const;
  http::Response query(const http::Request& req) const;
  http::Response labels(const http::Request& req) const;
  // `name` is the <name> of /loki/api/v1/label/<name>/values.
  http::Response label_values(const http::Request& req, const std::string& name) const;
  // Dispatches /loki/api/v1/label/<name>/values by path.
  http::Response label_values_route(const http::Request& req) const;
  http::Response series(const http::Request& req) const;
  http::Response index_stats(const http::Request& req) const;

 private:
  // The JSON answer of a parsed /query or /query_range request.
  std::string answer(const LokiQueryRequest& q) const;

  const Searcher& index_;
  LokiApiOptions options_;
  metrics::Counter& queries_;
  metrics::Counter& bad_requests_;
  metrics::Histogram& duration_;
};

}  // namespace strata::logindex

// QueryApi: the Prometheus-compatible HTTP query endpoints of the tsdb, so
// that Grafana's built-in Prometheus data source and the alerting service
// can talk to it unchanged.
//
//   GET|POST /api/v1/query               query=<PromQL>, time=<unix s | RFC3339>, timeout=
//   GET|POST /api/v1/query_range         query=, start=, end=, step=<duration | s>, timeout=
//            (both: max_source_resolution=raw|0s|5m|1h|auto forces a resolution)
//   GET|POST /api/v1/labels              match[]=, start=, end=, limit=
//   GET      /api/v1/label/<name>/values match[]=, start=, end=, limit=
//   GET|POST /api/v1/series              match[]= (required), start=, end=, limit=
//   GET|POST /api/v1/format_query        query=: the expression in canonical form
//   GET|POST /api/v1/parse_query         query=: the syntax tree as JSON (promql/ast_json.h)
//   GET      /api/v1/status/buildinfo    version (Prometheus-compatible) and Strata's
//   GET      /api/v1/status/runtimeinfo  start time, storage retention, corruptions
//   GET      /api/v1/status/tsdb         cardinality: head stats, top metrics, labels
//   GET      /api/v1/metadata            {} (metric metadata is not stored)
//   GET|POST /api/v1/query_exemplars     [] (exemplars are not stored)
//
// Responses use Prometheus's JSON envelope byte for byte: sample values are
// strings formatted like Go's strconv.FormatFloat(v, 'f', -1, 64) ("0.5",
// "NaN", "+Inf", "-Inf"), timestamps are float seconds. A bad parameter is
// 400 {"status":"error","errorType":"bad_data","error":"..."}. A listing cut
// by `limit` carries the warning "results truncated due to limit", as
// Prometheus does. Queries are evaluated by the PromQL engine
// (promql/engine.h); its errors map to Prometheus's status codes: bad_data
// 400, execution 422, canceled 499, timeout 503. A range query is refused
// (bad_data) when it would produce more than 11,000 points per series.
//
// Over a FanoutStore (a query node, or a store node given tsdb.query.peers)
// the same endpoints answer for the whole cluster; a shard that did not
// answer adds a line to the response's `warnings` instead of silently
// shrinking the result, and /api/v1/status/tsdb (per-head cardinality) is
// 404 there: ask the shards.
//
// Thread-safety: handlers only read the store and may run concurrently; the
// engine bounds how many queries evaluate at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "tsdb/promql/engine.h"
#include "tsdb/query_store.h"

namespace strata::tsdb {

struct QueryApiOptions {
  std::chrono::milliseconds lookback_delta{std::chrono::minutes(5)};
  // Evaluation time when a query gives none; the system clock by default.
  std::function<std::int64_t()> now_ms;
  // Limits of the PromQL engine (its lookback_delta is taken from above).
  promql::EngineOptions engine;
};

class QueryApi {
 public:
  // `store` (the local DbQueryStore or a FanoutStore) must outlive the API.
  QueryApi(const QueryStore& store, QueryApiOptions options, metrics::Registry& registry);

  // `local` (optional): the node's own API over its DB, which answers
  // requests carrying the fan-out header (http::kFanoutHeader) -- a query node
  // asking this node for its shard only -- so fan-out never recurses.
  void register_routes(http::HttpServer& server, const QueryApi* local = nullptr);

  http::Response query(const http::Request& req) const;
  http::Response query_range(const http::Request& req) const;
  http::Response labels(const http::Request& req) const;
  http::Response label_values(const http::Request& req) const;
  http::Response series(const http::Request& req) const;
  http::Response format_query(const http::Request& req) const;
  http::Response parse_query(const http::Request& req) const;
  http::Response buildinfo(const http::Request& req) const;
  http::Response runtimeinfo(const http::Request& req) const;
  http::Response tsdb_status(const http::Request& req) const;

 private:
  const QueryStore& store_;
  QueryApiOptions options_;
  mutable promql::Engine engine_;
  std::int64_t start_ms_;
  metrics::Counter& queries_;
  metrics::Counter& bad_requests_;
};

// A sample value as Prometheus renders it: Go's FormatFloat(v, 'f', -1, 64),
// i.e. the shortest round-trip decimal without an exponent; "NaN", "+Inf",
// "-Inf" for the non-finite values.
std::string format_sample_value(double v);
// Milliseconds as float seconds: 1700000000123 -> "1700000000.123".
std::string format_timestamp(std::int64_t ms);
// Parses an API time parameter: unix seconds as a float ("1700000000.5") or
// RFC3339 ("2023-11-14T22:13:20.5Z", "...+01:00"). Throws
// std::invalid_argument.
std::int64_t parse_timestamp(std::string_view text);

}  // namespace strata::tsdb

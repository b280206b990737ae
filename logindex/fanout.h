// LogFanout: the log query APIs over several strata-logindex shards. It
// serves the same routes, parameters and JSON as the search API
// (search_api.h) and the Loki API (loki_api.h) --
//
//   /api/v1/logs/search, /api/v1/search
//   /loki/api/v1/query_range, /query, /labels, /label/<name>/values,
//   /series, /index/stats
//
// -- by asking every node in parallel (peer_client.h: every node of every
// replica group, per-node timeout; the answers of one complete group are
// used) and merging their answers. docs/logindex.md ("Fan-out
// over shards") is the user's reference. Merge rules:
//
//   search        hits newest first under the global limit, identical hits
//                 (stream, ns timestamp, line) kept once; `matched` and the
//                 histogram buckets summed (copies held by two shards are
//                 counted twice).
//   log queries   entries of streams with the same label set merged, ordered
//                 by `direction`, global limit, identical entries kept once.
//   metric        exact: each shard evaluates only the range functions
//   queries       (count_over_time, rate, bytes_over_time, bytes_rate) as a
//                 matrix, one series per label set; series with the same
//                 labels from two shards are copies (replicas, a rebalance)
//                 and one is taken; the rest of the expression (sum/avg/
//                 topk by, binary operators) runs here with the store's own
//                 evaluator (logql::evaluate_metric over a RangeSource), at
//                 the same steps -- so the answer is a single node's.
//   labels, label values, series   union, sorted.
//   index/stats   sums (copies counted twice).
//
// Requests are validated here first (search syntax, LogQL, times, limits):
// a bad one is a 400 without contacting any shard. A shard's own 400 is
// passed through. When no replica group answered completely the answer is
// partial: still 200, with a top-level "warnings":["peer <name> did not
// answer ..."] array; no node answering is 503 errorType "unavailable".
//
// Use. A store node (logindex_server.h) with logindex.query.peers set
// registers the fan-out in place of its own APIs and passes them as
// LocalApis: a request carrying the fan-out header (a peer's fan-out asking
// this node) is answered from the local store and never fanned out again.
// A query-only node (no store) does:
//
//   auto fanout = std::make_shared<LogFanout>(fanout_options(cfg), service.metrics());
//   LogFanout::register_routes(fanout, service.http());
//
// after declaring add_query_options() (query_options.h) in its schema; it
// refuses requests carrying the fan-out header (508: it has nothing local).
//
// Thread-safety: handlers may run concurrently. Ownership: the handlers
// share ownership of the LogFanout; LocalApis must outlive the routes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "logindex/logql/evaluator.h"
#include "logindex/loki_api.h"
#include "logindex/loki_api_format.h"
#include "logindex/peer_client.h"
#include "logindex/search_api.h"

namespace strata::logindex {

struct LogFanoutOptions {
  std::vector<PeerNode> peers;  // common/peer_groups.h
  std::chrono::milliseconds peer_timeout{10'000};
  SearchApiOptions search;   // limits, as the shards have them
  logql::EvalLimits limits;  // applied to the shards' series together
  // "Now" in unix ns, for default times; replaceable in tests.
  std::function<std::int64_t()> now_ns;
};

// From logindex.query.peers, logindex.query.peer_timeout and the search
// limits (query_options.h). Throws config::ConfigError naming the key.
LogFanoutOptions fanout_options(const config::Config& cfg);

// A store node's own APIs, for the requests a peer's fan-out sends it.
struct LocalLogApis {
  const SearchApi* search = nullptr;
  std::shared_ptr<const LokiApi> loki;
};

class LogFanout {
 public:
  LogFanout(LogFanoutOptions options, metrics::Registry& registry);

  using LocalApis = LocalLogApis;
  // Registers every route of the search and Loki APIs on `server`
  // (before server.start()).
  static void register_routes(const std::shared_ptr<LogFanout>& fanout, http::HttpServer& server,
                              LocalApis local = {});

  http::Response search(const http::Request& req) const;
  http::Response query_range(const http::Request& req) const;
  http::Response query(const http::Request& req) const;
  http::Response labels(const http::Request& req) const;
  // Dispatches /loki/api/v1/label/<name>/values by path.
  http::Response label_values_route(const http::Request& req) const;
  http::Response series(const http::Request& req) const;
  http::Response index_stats(const http::Request& req) const;

  const std::vector<PeerNode>& peers() const { return peers_.peers(); }

 private:
  struct Gathered;  // warnings of one request
  std::string loki_answer(const http::Request& req, const LokiQueryRequest& q, Gathered& g) const;
  std::vector<logql::Series> range_series(const std::string& text, const logql::MetricExpr& range,
                                          const logql::MetricRequest& request, bool detect_level,
                                          logql::EvalStats& stats, Gathered& g) const;
  // Runs a handler body that returns JSON and collects warnings into it.
  template <typename Fn>
  http::Response answer(const http::Request& req, Fn&& fn) const;

  LogFanoutOptions options_;
  PeerClient peers_;
  metrics::Counter& requests_;
  metrics::Counter& bad_requests_;
  metrics::Counter& partial_;
  metrics::Histogram& duration_;
};

}  // namespace strata::logindex

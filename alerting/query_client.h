// QueryClient: how alerting reads the stores -- only through their HTTP
// query APIs, never by linking a storage engine, so the evaluator runs
// anywhere the APIs are reachable (its own service or the all-in-one):
//   metrics  GET <query_url>/api/v1/query?query=..&time=..       (PromQL)
//   logs     GET <logs_query_url>/loki/api/v1/query?query=..&time=.. (LogQL)
// Both answer Prometheus's JSON shape; an instant vector or a scalar (read
// as one sample without labels) is accepted.
//
// Every query has a deadline (`timeout`) and is not retried: a slow store
// must not stall a group's round, and the rule is marked unhealthy instead.
//
// Not thread-safe (it owns one keep-alive HttpClient); one per group thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "alerting/alert_rule.h"
#include "common/http_client.h"

namespace strata::alerting {

class QueryClient {
 public:
  // `path` is "/api/v1/query" or "/loki/api/v1/query".
  QueryClient(std::string base_url, std::string path, std::chrono::milliseconds timeout);

  // Runs an instant query at `time_ms`. Throws std::runtime_error naming the
  // URL and the API's error on failure (network, timeout, non-2xx,
  // status:"error", or a result type other than vector or scalar).
  std::vector<Sample> instant(const std::string& expr, std::int64_t time_ms);

  // Parses a Prometheus /api/v1/query JSON response (exposed for tests).
  static std::vector<Sample> parse_response(const std::string& body);

 private:
  std::string base_url_;
  std::string path_;
  http::HttpClient client_;
};

}  // namespace strata::alerting

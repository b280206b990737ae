// QueryClient: how alerting reads the time-series store -- only through its
// Prometheus-compatible HTTP API (GET /api/v1/query), never by linking the
// storage engine, so the evaluator runs anywhere the API is reachable.
//
// Not thread-safe (it owns one keep-alive HttpClient); one per evaluator.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alerting/threshold_rule.h"
#include "common/http_client.h"

namespace strata::alerting {

class QueryClient {
 public:
  explicit QueryClient(std::string base_url);

  // Runs an instant query at `time_ms`. Throws std::runtime_error naming the
  // URL and the API's error on failure (network, non-2xx, status:"error",
  // or a result type other than vector).
  std::vector<QueriedSample> instant(const std::string& expr, std::int64_t time_ms);

  // Parses a Prometheus /api/v1/query JSON response (exposed for tests).
  static std::vector<QueriedSample> parse_vector_response(const std::string& body);

 private:
  std::string base_url_;
  http::HttpClient client_;
};

}  // namespace strata::alerting

// json_answer(): how a handler of the log store's JSON APIs (the Loki API,
// loki_api.h, and the fan-out over shards, fanout.h) turns its body into a
// Response, with one error convention:
//
//   - the body returns the JSON of a 200;
//   - http::BadData and logql::EvalError (a request the API cannot serve as
//     asked: a bad parameter, a query over a limit) -> 400 bad_data with the
//     exception's message, counted in `bad`;
//   - ApiFailure -> the Response it carries (a shard's own 400, 503 when no
//     shard answered): failures decided deep inside a handler;
//   - anything else (a damaged segment) -> 500 internal, logged.
//
// Header-only; thread-safe as long as the body is.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/api_error.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "logindex/logql/evaluator.h"

namespace strata::logindex {

class ApiFailure : public std::runtime_error {
 public:
  explicit ApiFailure(http::Response response)
      : std::runtime_error(response.body), response_(std::move(response)) {}
  const http::Response& response() const { return response_; }

 private:
  http::Response response_;
};

template <typename Fn>
http::Response json_answer(const http::Request& req, metrics::Counter& requests,
                           metrics::Counter& bad, metrics::Histogram& duration, Fn&& fn) {
  requests.inc();
  const auto started = std::chrono::steady_clock::now();
  try {
    http::Response r = http::Response::json(200, fn());
    duration.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return r;
  } catch (const http::BadData& e) {
    bad.inc();
    return http::Response::json(400, http::api_error_json("bad_data", e.what()));
  } catch (const logql::EvalError& e) {
    bad.inc();
    return http::Response::json(400, http::api_error_json("bad_data", e.what()));
  } catch (const ApiFailure& e) {
    if (e.response().status == 400) bad.inc();
    return e.response();
  } catch (const std::exception& e) {
    spdlog::error("{}: {} failed: {}", req.path.rfind("/loki/", 0) == 0 ? "loki api" : "log api",
                  req.path, e.what());
    return http::Response::json(500, http::api_error_json("internal", e.what()));
  }
}

}  // namespace strata::logindex

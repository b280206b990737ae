// A fake collector for the agent's integration tests: an HttpServer on a
// free port serving the push API, recording every body it accepts (decoded
// with the real wire decoders) and answering with a scripted status for the
// first requests (e.g. 503 then 204).
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/wire_format.h"

namespace strata::agent::testing {

class FakeCollector {
 public:
  FakeCollector() : server_(http::ServerOptions{}) {
    auto handle = [this](bool metrics, const http::Request& req) {
      std::lock_guard lock(mu_);
      ++requests_;
      int status = 204;
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      }
      if (status == 503 || status == 429) {
        ++refused_;
        return http::Response::retry_later(status, retry_after_, "busy");
      }
      if (status != 204) {
        ++refused_;
        return http::Response::text(status, "bad batch: scripted rejection\n");
      }
      try {
        if (metrics)
          metrics_.push_back(wire::decode_metrics(req.body));
        else
          logs_.push_back(wire::decode_logs(req.body));
      } catch (const wire::WireError& e) {
        ++invalid_;
        return http::Response::text(400, e.what());
      }
      return http::Response::text(204, "");
    };
    server_.add_route("POST", "/api/v1/push/metrics",
                      [handle](const http::Request& r) { return handle(true, r); });
    server_.add_route("POST", "/api/v1/push/logs",
                      [handle](const http::Request& r) { return handle(false, r); });
    server_.start();
  }
  ~FakeCollector() { server_.stop(); }

  std::string url() const { return "http://" + server_.address(); }

  // Statuses for the next requests, in order; 204 once exhausted.
  void script(std::vector<int> statuses, int retry_after_seconds = 0) {
    std::lock_guard lock(mu_);
    script_.assign(statuses.begin(), statuses.end());
    retry_after_ = retry_after_seconds;
  }

  std::vector<wire::MetricsBatch> metrics() const {
    std::lock_guard lock(mu_);
    return metrics_;
  }
  std::vector<wire::LogsBatch> logs() const {
    std::lock_guard lock(mu_);
    return logs_;
  }
  // Every accepted log line, in arrival order.
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& b : logs_)
      for (const auto& s : b.streams)
        for (const auto& e : s.entries) out.push_back(e.line);
    return out;
  }
  int requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int refused() const {
    std::lock_guard lock(mu_);
    return refused_;
  }
  int invalid() const {
    std::lock_guard lock(mu_);
    return invalid_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<int> script_;
  int retry_after_ = 0;
  int requests_ = 0, refused_ = 0, invalid_ = 0;
  std::vector<wire::MetricsBatch> metrics_;
  std::vector<wire::LogsBatch> logs_;
  http::HttpServer server_;  // last: stopped (in the destructor) before the state goes
};

}  // namespace strata::agent::testing

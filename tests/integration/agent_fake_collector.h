// A fake collector for the agent's integration tests: an HttpServer on a
// free port serving the push API, recording every body it accepts (decoded
// with the real wire decoders) and answering with a scripted status for the
// first requests (e.g. 503 then 204).
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/http_server.h"
#include "common/wire_format.h"

namespace strata::agent::testing {

class FakeCollector {
 public:
  // `listen`: host:port, so a test can stop a collector and bring another
  // up at the same address (an outage).
  explicit FakeCollector(const std::string& listen = "127.0.0.1:0")
      : server_(server_options(listen)) {
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
  std::string address() const { return server_.address(); }

  // Every accepted log line per filename label, in arrival order.
  // `distinct`: an entry identical to one already accepted (same stream,
  // timestamp and line: a batch the agent sent again because it died before
  // recording the collector's acknowledgement) counts once, as the log store
  // keeps it once (docs/logindex.md, deduplication). A line the agent READ
  // twice carries a new timestamp and still counts twice.
  std::map<std::string, std::vector<std::string>> lines_by_file(bool distinct = false) const {
    std::lock_guard lock(mu_);
    std::map<std::string, std::vector<std::string>> out;
    std::set<std::tuple<std::string, std::int64_t, std::string>> seen;
    for (const auto& b : logs_)
      for (const auto& s : b.streams)
        for (const auto& e : s.entries) {
          std::string file(s.labels.get("filename"));
          if (distinct && !seen.emplace(file, e.timestamp_ns, e.line).second) continue;
          out[file].push_back(e.line);
        }
    return out;
  }
  std::size_t line_count() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& b : logs_)
      for (const auto& s : b.streams) n += s.entries.size();
    return n;
  }

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
  static http::ServerOptions server_options(const std::string& listen) {
    http::ServerOptions o;
    o.listen = listen;
    o.shutdown_grace = std::chrono::milliseconds(500);
    return o;
  }

  mutable std::mutex mu_;
  std::deque<int> script_;
  int retry_after_ = 0;
  int requests_ = 0, refused_ = 0, invalid_ = 0;
  std::vector<wire::MetricsBatch> metrics_;
  std::vector<wire::LogsBatch> logs_;
  http::HttpServer server_;  // last: stopped (in the destructor) before the state goes
};

}  // namespace strata::agent::testing

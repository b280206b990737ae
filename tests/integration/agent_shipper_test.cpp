#include <catch2/catch.hpp>

#include "agent/shipper.h"
#include "agent_fake_collector.h"
#include "common/metrics_registry.h"

using namespace strata;
using namespace strata::agent;
using strata::agent::testing::FakeCollector;

namespace {

ShipperOptions options_for(const std::string& url, int attempts = 3) {
  ShipperOptions o;
  o.collector_urls = {url};
  o.client.max_attempts = attempts;
  o.client.backoff_initial = std::chrono::milliseconds(10);
  o.client.backoff_max = std::chrono::milliseconds(200);
  o.client.request_timeout = std::chrono::milliseconds(3000);
  return o;
}

wire::LogsBatch logs_batch(std::vector<std::string> lines) {
  std::vector<TailEntry> entries;
  std::int64_t ts = 1'700'000'000'000'000'000;
  for (auto& l : lines) entries.push_back({"/var/log/app.log", l, ts++, false});
  auto batches = make_log_batches(entries, Labels({{"job", "strata-agent"}, {"instance", "h"}}));
  REQUIRE(batches.size() == 1);
  return batches[0];
}

wire::MetricsBatch metrics_batch(double value) {
  wire::MetricsBatch b;
  wire::Series s;
  s.labels = Labels({{"__name__", "node_load1"}, {"instance", "h"}, {"job", "node"}});
  s.samples.push_back({1'700'000'000'000, value});
  b.series.push_back(s);
  return b;
}

double counter(metrics::Registry& r, const std::string& name, const Labels& labels = {}) {
  return r.counter(name, "", labels).value();
}

}  // namespace

TEST_CASE("shipper: batches arrive decoded, exactly once, in order",
          "[integration][agent][shipper]") {
  FakeCollector collector;
  metrics::Registry reg;
  Shipper logs(Kind::kLogs, options_for(collector.url()), reg);
  Shipper metrics(Kind::kMetrics, options_for(collector.url()), reg);
  CHECK(logs.endpoint() == collector.url() + "/api/v1/push/logs");

  logs.enqueue(logs_batch({"one", "two"}));
  logs.enqueue(logs_batch({"three"}));
  CHECK(logs.queue().size() == 2);
  CHECK(logs.flush());
  CHECK(logs.queue().size() == 0);
  CHECK(collector.lines() == std::vector<std::string>{"one", "two", "three"});
  auto got = collector.logs();
  REQUIRE(got.size() == 2);
  CHECK(got[0].streams[0].labels.get("filename") == "/var/log/app.log");
  CHECK(got[0].streams[0].entries[1].timestamp_ns == 1'700'000'000'000'000'001);

  metrics.enqueue(metrics_batch(0.5));
  CHECK(metrics.flush());
  auto m = collector.metrics();
  REQUIRE(m.size() == 1);
  CHECK(m[0].series[0].labels.get("__name__") == "node_load1");
  CHECK(m[0].series[0].samples[0].value == 0.5);

  CHECK(counter(reg, "strata_agent_log_lines_shipped_total") == 3);
  CHECK(counter(reg, "strata_agent_samples_shipped_total") == 1);
  CHECK(counter(reg, "strata_agent_ship_failures_total", Labels({{"kind", "logs"}})) == 0);
  CHECK_THROWS_AS(logs.enqueue(metrics_batch(1)), std::logic_error);

  // Empty batches are not sent at all.
  logs.enqueue(wire::LogsBatch{});
  CHECK(logs.queue().empty());
  CHECK(collector.requests() == 3);
}

TEST_CASE("shipper: 503 then 204 -- delivered after the client's retry, once",
          "[integration][agent][shipper]") {
  FakeCollector collector;
  collector.script({503, 503}, /*retry_after_seconds=*/0);
  metrics::Registry reg;
  Shipper logs(Kind::kLogs, options_for(collector.url(), 3), reg);
  logs.enqueue(logs_batch({"retried line"}));
  CHECK(logs.flush());
  CHECK(collector.requests() == 3);
  CHECK(collector.refused() == 2);
  CHECK(collector.lines() == std::vector<std::string>{"retried line"});
  CHECK(counter(reg, "strata_agent_ship_failures_total", Labels({{"kind", "logs"}})) == 0);
}

TEST_CASE("shipper: collector down for a whole round -- kept queued, sent next round",
          "[integration][agent][shipper]") {
  FakeCollector collector;
  collector.script({503, 503, 429}, 0);
  metrics::Registry reg;
  Shipper logs(Kind::kLogs, options_for(collector.url(), 2), reg);
  logs.enqueue(logs_batch({"a"}));
  CHECK_FALSE(logs.flush());  // 2 attempts, both 503
  CHECK(logs.queue().size() == 1);
  CHECK(collector.lines().empty());
  CHECK(counter(reg, "strata_agent_ship_failures_total", Labels({{"kind", "logs"}})) == 1);
  CHECK(reg.render().find("strata_agent_queue_batches{kind=\"logs\"} 1") != std::string::npos);

  logs.enqueue(logs_batch({"b"}));  // queued behind "a"
  CHECK(logs.flush());              // 429, then 204 for both
  CHECK(collector.lines() == std::vector<std::string>{"a", "b"});
  CHECK(logs.queue().empty());
  CHECK(reg.render().find("strata_agent_queue_batches{kind=\"logs\"} 0") != std::string::npos);
  CHECK(counter(reg, "strata_agent_log_lines_shipped_total") == 2);
}

TEST_CASE("shipper: collector unreachable, then up", "[integration][agent][shipper]") {
  metrics::Registry reg;
  std::string url;
  {
    FakeCollector gone;  // take a port, then free it: nothing listens there
    url = gone.url();
  }
  Shipper logs(Kind::kLogs, options_for(url, 1), reg);
  logs.enqueue(logs_batch({"x"}));
  CHECK_FALSE(logs.flush());
  CHECK_FALSE(logs.flush_final());
  CHECK(logs.queue().size() == 1);
  CHECK(counter(reg, "strata_agent_ship_failures_total", Labels({{"kind", "logs"}})) == 2);
}

TEST_CASE("shipper: 400 -- batch dropped and counted, later batches still go",
          "[integration][agent][shipper]") {
  FakeCollector collector;
  collector.script({400});
  metrics::Registry reg;
  Shipper logs(Kind::kLogs, options_for(collector.url()), reg);
  logs.enqueue(logs_batch({"bad 1", "bad 2"}));
  logs.enqueue(logs_batch({"good"}));
  CHECK(logs.flush());
  CHECK(collector.requests() == 2);  // a 400 is not retried
  CHECK(collector.lines() == std::vector<std::string>{"good"});
  CHECK(counter(reg, "strata_agent_items_dropped_total",
                Labels({{"kind", "logs"}, {"reason", "rejected"}})) == 2);
  CHECK(counter(reg, "strata_agent_ship_failures_total", Labels({{"kind", "logs"}})) == 1);
}

TEST_CASE("shipper: bounded queue drops the oldest and counts them",
          "[integration][agent][shipper]") {
  FakeCollector collector;
  metrics::Registry reg;
  ShipperOptions o = options_for(collector.url(), 1);
  o.queue_max_bytes = 600;
  collector.script(std::vector<int>(10, 503), 0);
  Shipper logs(Kind::kLogs, o, reg);
  for (int i = 0; i < 10; ++i) {
    logs.enqueue(logs_batch({"line " + std::to_string(i)}));
    logs.flush();
  }
  CHECK(logs.queue().bytes() <= 600);
  std::size_t kept = logs.queue().size();
  CHECK(kept >= 1);
  CHECK(kept < 10);
  CHECK(counter(reg, "strata_agent_items_dropped_total",
                Labels({{"kind", "logs"}, {"reason", "queue_full"}})) == 10.0 - kept);
  CHECK(logs.flush());
  auto lines = collector.lines();
  REQUIRE(lines.size() == kept);
  CHECK(lines.back() == "line 9");  // the newest survive
}

TEST_CASE("shipper: final flush makes one attempt", "[integration][agent][shipper]") {
  FakeCollector collector;
  collector.script({503, 204}, 0);
  metrics::Registry reg;
  Shipper logs(Kind::kLogs, options_for(collector.url(), 5), reg);
  logs.enqueue(logs_batch({"late"}));
  CHECK_FALSE(logs.flush_final());
  CHECK(collector.requests() == 1);
  CHECK(logs.flush_final());
  CHECK(collector.lines() == std::vector<std::string>{"late"});
}

TEST_CASE("shipper: bodies are zstd-compressed unless configured off",
          "[integration][agent][shipper]") {
  // The collector's HTTP server decodes Content-Encoding: zstd before the
  // handler (the fake collector) sees the body, so arriving intact is the
  // proof that the encoding was declared and correct.
  FakeCollector collector;
  metrics::Registry reg;
  Shipper zstd(Kind::kLogs, options_for(collector.url()), reg);
  zstd.enqueue(logs_batch({std::string(10'000, 'z')}));
  // Compressed before it is queued: 10 kB of one letter is a few bytes.
  CHECK(zstd.queue().bytes() < 500);
  CHECK(zstd.queue().front().zstd);
  CHECK(zstd.flush());
  ShipperOptions plain_options = options_for(collector.url());
  plain_options.zstd = false;
  metrics::Registry reg2;
  Shipper plain(Kind::kLogs, plain_options, reg2);
  plain.enqueue(logs_batch({std::string(10'000, 'p')}));
  CHECK(plain.queue().bytes() > 10'000);
  CHECK_FALSE(plain.queue().front().zstd);
  CHECK(plain.flush());
  CHECK(collector.requests() == 2);
  CHECK(collector.lines() ==
        std::vector<std::string>{std::string(10'000, 'z'), std::string(10'000, 'p')});
}

TEST_CASE("shipper: fails over to the next collector and stays there",
          "[integration][agent][shipper]") {
  std::string dead;
  {
    FakeCollector gone;
    dead = gone.url();
  }
  FakeCollector second;
  metrics::Registry reg;
  ShipperOptions o = options_for(dead, 1);
  o.collector_urls.push_back(second.url());
  Shipper logs(Kind::kLogs, o, reg);
  CHECK(logs.endpoint() == dead + "/api/v1/push/logs");
  logs.enqueue(logs_batch({"a"}));
  CHECK(logs.flush());
  CHECK(logs.endpoint() == second.url() + "/api/v1/push/logs");
  logs.enqueue(logs_batch({"b"}));
  CHECK(logs.flush());
  CHECK(second.lines() == std::vector<std::string>{"a", "b"});
  CHECK(second.requests() == 2);  // the second batch went straight there
  // 503 from the one in use: over to the next (the dead one); each is tried
  // once per batch and round, so the round fails, and the next round starts
  // with the one after the dead one again.
  second.script({503});
  logs.enqueue(logs_batch({"c"}));
  CHECK_FALSE(logs.flush());
  CHECK(logs.endpoint() == second.url() + "/api/v1/push/logs");
  CHECK(logs.flush());
  CHECK(second.lines() == std::vector<std::string>{"a", "b", "c"});
}

// Per-tenant rate limits (collector.limits.tenant_samples_per_second,
// tenant_log_bytes_per_second) over HTTP against the embedded broker: a
// tenant over its limit gets 429 with Retry-After and a message naming it and
// the limit, on every protocol; other tenants are unaffected; a refused
// request publishes nothing.
#include <catch2/catch.hpp>

#include <fstream>

#include "collector/collector_server.h"
#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "tests/support/process.h"
#include "tests/unit/collector_test_util.h"

using namespace strata;
using namespace std::chrono_literals;
using strata::testing::Pb;
using strata::testing::pb_label;
using strata::testing::pb_sample;
using strata::testing::snappy_compress;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

config::Config collector_config(const std::string& brokers,
                                std::vector<std::pair<std::string, std::string>> extra) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  collector::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("collector.listen", "127.0.0.1:0", "test");
  c.set("collector.ack_timeout", "5s", "test");
  for (auto& [k, v] : extra) c.set(k, v, "test");
  return c;
}

// `n` samples of one series, as a native batch.
std::string samples(int n, const std::string& name = "m") {
  wire::MetricsBatch batch;
  wire::Series s{Labels{{"__name__", name}}, {}};
  for (int i = 0; i < n; ++i) s.samples.push_back({1000 + i, double(i)});
  batch.series.push_back(std::move(s));
  return wire::encode(batch);
}

std::string remote_write(int n) {
  Pb ts;
  ts.msg(1, pb_label("__name__", "rw"));
  for (int i = 0; i < n; ++i) ts.msg(2, pb_sample(double(i), 1000 + i));
  return snappy_compress(Pb().msg(1, ts).str());
}

std::string log_bytes(std::size_t bytes) {
  wire::LogsBatch batch;
  batch.streams.push_back({Labels{{"job", "j"}}, {{1, std::string(bytes, 'x'), {}}}});
  return wire::encode(batch);
}

http::HttpClient no_retry_client() {
  http::ClientOptions o;
  o.max_attempts = 1;
  return http::HttpClient(o);
}

}  // namespace

TEST_CASE("collector: a tenant over its samples-per-second limit gets 429 naming it and the limit",
          "[collector][rate_limit]") {
  const std::string dir = testing::temp_dir("collector-rate-it");
  std::ofstream(dir + "/tokens.yaml") << "tokens:\n"
                                         "  team-a-secret-token: {tenant: team-a}\n"
                                         "  team-b-secret-token: {tenant: team-b}\n";
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  // 10 samples/s with a bucket of 100: after 100 samples, 50 more need up to
  // 5 s, far longer than this test takes between two requests, even under
  // ASan (the first push's wait for Kafka refills a little).
  collector::CollectorServer server(
      collector_config(broker.bootstraps(), {{"collector.auth.tokens_file", dir + "/tokens.yaml"},
                                             {"collector.limits.tenant_samples_per_second", "10"},
                                             {"collector.limits.tenant_samples_burst", "100"}}));
  server.start();
  auto client = no_retry_client();
  const std::string url = server.url();
  const Headers a = {{"Authorization", "Bearer team-a-secret-token"}};
  const Headers b = {{"Authorization", "Bearer team-b-secret-token"}};

  REQUIRE(client.post(url + "/api/v1/push/metrics", samples(100), a).status == 204);
  auto r = client.post(url + "/api/v1/push/metrics", samples(50, "refused"), a);
  REQUIRE(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains("tenant \"team-a\" is over its rate limit of 10 samples per "
                                     "second (collector.limits.tenant_samples_per_second, burst "
                                     "100); this request of 50 samples was rejected"));
  REQUIRE(r.headers.count("retry-after") == 1);
  const int retry_after = std::stoi(r.headers["retry-after"]);
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 5);

  // The same limit on remote-write; logs are not counted against samples.
  Headers rw = a;
  rw.emplace_back("Content-Encoding", "snappy");
  rw.emplace_back("Content-Type", "application/x-protobuf");
  CHECK(client.post(url + "/api/v1/write", remote_write(50), rw).status == 429);
  CHECK(client.post(url + "/api/v1/push/logs", log_bytes(100'000), a).status == 204);

  // team-b has its own bucket.
  CHECK(client.post(url + "/api/v1/push/metrics", samples(100), b).status == 204);
  CHECK(client.post(url + "/api/v1/push/metrics", samples(1), b).status == 429);

  // Nothing refused reached Kafka: only the two accepted 100-sample pushes.
  kafka::KafkaOptions ko;
  ko.brokers = broker.bootstraps();
  kafka::KafkaProducer(ko).send({{"metrics", "marker", "marker"}}, 10s);
  kafka::KafkaConsumer consumer(ko, "rate-limit-check", {"metrics"});
  std::vector<kafka::InMessage> seen;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline &&
         (seen.empty() || seen.back().key != "marker")) {
    auto batch = consumer.poll(100, 200ms);
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  REQUIRE(seen.size() == 3);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto m = wire::decode_metrics(seen[i].value);
    CHECK(m.series.at(0).labels.get("__name__") == "m");
    CHECK(m.series.at(0).samples.size() == 100);
  }
  auto metrics = client.get(url + "/metrics").body;
  CHECK_THAT(metrics,
             Catch::Contains("strata_collector_rate_limited_requests_total{limit=\"samples\"} 3"));
}

TEST_CASE("collector: log bytes per second limit, one bucket for all when auth is off",
          "[collector][rate_limit]") {
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  // 100 bytes/s, bucket 1000: after 900 bytes, 900 more need about 8 s (the
  // first push's wait for Kafka refills a little): much longer than the test.
  collector::CollectorServer server(collector_config(
      broker.bootstraps(), {{"collector.limits.tenant_log_bytes_per_second", "100"},
                            {"collector.limits.tenant_log_bytes_burst", "1000"}}));
  server.start();
  auto client = no_retry_client();
  const std::string url = server.url();

  REQUIRE(client.post(url + "/api/v1/push/logs", log_bytes(900)).status == 204);
  auto r = client.post(url + "/api/v1/push/logs", log_bytes(900));
  REQUIRE(r.status == 429);
  CHECK_THAT(r.body, Catch::Contains("tenant \"\" (authentication is off: one limit for all "
                                     "clients) is over its rate limit of 100 log bytes per "
                                     "second (collector.limits.tenant_log_bytes_per_second"));
  CHECK(r.headers.count("retry-after") == 1);
  // Loki push is limited the same way.
  const std::string loki =
      R"({"streams":[{"stream":{"job":"x"},"values":[["1",")" + std::string(900, 'y') + R"("]]}]})";
  CHECK(
      client.post(url + "/loki/api/v1/push", loki, {{"Content-Type", "application/json"}}).status ==
      429);
  // Metrics are not limited here. (A request larger than the whole burst,
  // admitted once the bucket is full, is covered by the unit tests.)
  CHECK(client.post(url + "/api/v1/push/metrics", samples(10'000)).status == 204);
}

// The collector against a real Kafka-protocol broker (the embedded one):
// what it publishes, and how it answers every kind of bad input.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <set>

#include <fmt/format.h>

#include "collector/collector_server.h"
#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/service.h"
#include "common/wire_format.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

kafka::KafkaOptions kafka_at(const std::string& brokers) {
  kafka::KafkaOptions o;
  o.brokers = brokers;
  return o;
}

config::Config collector_config(const std::string& brokers,
                                std::vector<std::pair<std::string, std::string>> extra = {}) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  collector::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("collector.listen", "127.0.0.1:0", "test");
  c.set("collector.static_labels", "region=eu,host_id=h1", "test");
  c.set("collector.ack_timeout", "3s", "test");
  for (auto& [k, v] : extra) c.set(k, v, "test");
  return c;
}

std::vector<kafka::InMessage> consume_all(const std::string& brokers, const std::string& topic,
                                          std::size_t expected) {
  kafka::KafkaConsumer consumer(kafka_at(brokers), "collector-test-" + topic, {topic});
  std::vector<kafka::InMessage> all;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (all.size() < expected && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer.poll(1000, 500ms);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  return all;
}

std::string gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

TEST_CASE("collector publishes one keyed, enriched message per series and stream", "[collector]") {
  kafka::EmbeddedBroker broker({{"metrics", 4}, {"logs", 4}});
  collector::CollectorServer server(collector_config(broker.bootstraps()));
  server.start();
  http::HttpClient client;

  wire::MetricsBatch batch;
  for (int i = 0; i < 20; ++i)
    batch.series.push_back(
        {Labels{{"__name__", "m"}, {"i", std::to_string(i)}, {"region", "client"}},
         {{1000, double(i)}, {2000, wire::stale_nan()}}});
  auto r = client.post(server.url() + "/api/v1/push/metrics", gzip(wire::encode(batch)),
                       {{"Content-Encoding", "gzip"}});
  REQUIRE(r.status == 204);

  auto msgs = consume_all(broker.bootstraps(), "metrics", 20);
  REQUIRE(msgs.size() == 20);
  std::set<std::string> seen;
  for (const auto& m : msgs) {
    auto b = wire::decode_metrics(m.value);
    REQUIRE(b.series.size() == 1);
    const auto& s = b.series[0];
    CHECK(m.key == fmt::format("{:016x}", s.labels.fingerprint()));
    CHECK(s.labels.get("region") == "client");  // the client's own label wins
    CHECK(s.labels.get("host_id") == "h1");
    REQUIRE(s.samples.size() == 2);
    CHECK(wire::is_stale_nan(s.samples[1].value));
    seen.insert(std::string(s.labels.get("i")));
  }
  CHECK(seen.size() == 20);

  wire::LogsBatch logs;
  logs.streams.push_back({Labels{{"job", "a"}}, {{1, "one", {}}, {2, "two", {{"level", "info"}}}}});
  logs.streams.push_back({Labels{{"job", "b"}}, {{3, "three", {}}}});
  REQUIRE(client.post(server.url() + "/api/v1/push/logs", wire::encode(logs)).status == 204);
  auto lmsgs = consume_all(broker.bootstraps(), "logs", 2);
  REQUIRE(lmsgs.size() == 2);
  std::size_t lines = 0;
  for (const auto& m : lmsgs) {
    auto b = wire::decode_logs(m.value);
    CHECK(b.streams[0].labels.get("region") == "eu");
    lines += b.streams[0].entries.size();
  }
  CHECK(lines == 3);
}

TEST_CASE("collector rejects bad input with a clear error and publishes nothing", "[collector]") {
  kafka::EmbeddedBroker broker({{"metrics", 2}, {"logs", 2}});
  collector::CollectorServer server(
      collector_config(broker.bootstraps(), {{"collector.http.max_body_bytes", "65536"},
                                             {"collector.limits.max_labels_per_series", "4"},
                                             {"collector.limits.max_line_bytes", "1000"}}));
  server.start();
  http::ClientOptions o;
  o.max_attempts = 1;
  http::HttpClient client(o);
  auto push = [&](const std::string& path, const std::string& body) {
    return client.post(server.url() + path, body);
  };

  auto r = push("/api/v1/push/metrics", "{not json");
  CHECK(r.status == 400);
  r = push("/api/v1/push/metrics",
           R"({"version":1,"series":[{"labels":{"__name__":"x"},"samples":[[1,true]]}]})");
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("series[0].samples[0][1]"));
  r = push("/api/v1/push/metrics", R"({"version":2,"series":[]})");
  CHECK(r.status == 400);
  r = push("/api/v1/push/metrics",
           "{\"version\":1,\"series\":[{\"labels\":{\"__name__\":\"x\",\"a\":\"\xff\xfe\"},"
           "\"samples\":[[1,1]]}]}");
  CHECK(r.status == 400);
  r = push(
      "/api/v1/push/metrics",
      R"({"version":1,"series":[{"labels":{"__name__":"x","a":"1","b":"2","c":"3","d":"4"},"samples":[[1,1]]}]})");
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("limit is 4"));
  r = push("/api/v1/push/metrics", std::string(100'000, ' '));
  CHECK(r.status == 413);
  r = push("/api/v1/push/logs",
           fmt::format(
               R"({{"version":1,"streams":[{{"labels":{{"job":"x"}},"entries":[["1","{}"]]}}]}})",
               std::string(2000, 'a')));
  CHECK(r.status == 400);
  CHECK_THAT(r.body, Catch::Contains("streams[0].entries[0]: log line is 2000 bytes; the limit is "
                                     "1000 (collector.limits.max_line_bytes)"));
  r = client.get(server.url() + "/api/v1/push/metrics");
  CHECK(r.status == 405);

  // Nothing of the above reached Kafka: publish a marker after them and read
  // until the marker arrives; the marker must be the only message.
  kafka::KafkaProducer producer(kafka_at(broker.bootstraps()));
  producer.send({{"metrics", "marker", "marker"}}, 10s);
  kafka::KafkaConsumer consumer(kafka_at(broker.bootstraps()), "bad-input-check",
                                {"metrics", "logs"});
  std::vector<kafka::InMessage> seen;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         (seen.empty() || seen.back().key != "marker")) {
    auto batch = consumer.poll(100, 500ms);
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].key == "marker");
}

TEST_CASE("collector answers 503 + Retry-After while Kafka is down, and recovers", "[collector]") {
  kafka::EmbeddedBroker broker({{"metrics", 2}, {"logs", 2}});
  collector::CollectorServer server(collector_config(broker.bootstraps()));
  server.start();
  http::ClientOptions o;
  o.max_attempts = 1;
  o.request_timeout = 20s;
  http::HttpClient client(o);
  wire::MetricsBatch batch;
  batch.series.push_back({Labels{{"__name__", "x"}}, {{1, 1}}});
  REQUIRE(client.post(server.url() + "/api/v1/push/metrics", wire::encode(batch)).status == 204);

  broker.set_down(true);
  auto r = client.post(server.url() + "/api/v1/push/metrics", wire::encode(batch));
  CHECK(r.status == 503);
  CHECK(r.headers.count("retry-after") == 1);

  broker.set_down(false);
  bool recovered = false;
  for (int i = 0; i < 20 && !recovered; ++i)
    recovered =
        client.post(server.url() + "/api/v1/push/metrics", wire::encode(batch)).status == 204;
  CHECK(recovered);
}

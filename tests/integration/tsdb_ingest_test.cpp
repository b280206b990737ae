// strata-tsdb's pieces together: an embedded Kafka-protocol broker, a real
// producer publishing wire-format batches, the TsdbServer consuming them,
// and the Prometheus API queried over HTTP.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/kafka_bus.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "tests/support/process.h"
#include "tsdb/tsdb_server.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

config::Config tsdb_config(const std::string& brokers, const std::string& group = "strata-tsdb") {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  tsdb::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("tsdb.listen", "127.0.0.1:0", "test");
  c.set("tsdb.consumer_group", group, "test");
  c.set("tsdb.ingest.poll_timeout", "100ms", "test");
  // A fresh store per server: nothing carries over between tests.
  c.set("tsdb.data_dir", testing::temp_dir("tsdb-ingest"), "test");
  return c;
}

template <typename F>
bool eventually(F&& f, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

// One message per series, keyed by fingerprint, as the collector publishes.
std::vector<kafka::OutMessage> messages_for(const wire::MetricsBatch& batch) {
  std::vector<kafka::OutMessage> out;
  for (const auto& s : batch.series) {
    wire::MetricsBatch one;
    one.series.push_back(s);
    out.push_back({"metrics", std::to_string(s.labels.fingerprint()), wire::encode(one)});
  }
  return out;
}

double metric(http::HttpClient& client, const std::string& url, const std::string& name) {
  auto r = client.get(url + "/metrics");
  auto pos = r.body.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(r.body.substr(pos + name.size() + 2));
}

std::string query(http::HttpClient& client, const std::string& url, const std::string& q,
                  const std::string& time) {
  auto r =
      client.get(url + "/api/v1/query?query=" + http::HttpClient::url_encode(q) + "&time=" + time);
  REQUIRE(r.status == 200);
  return r.body;
}

}  // namespace

TEST_CASE("tsdb: samples published on Kafka are queryable, exactly once", "[tsdb][integration]") {
  kafka::EmbeddedBroker broker({{"metrics", 4}, {"logs", 1}});
  tsdb::TsdbServer server(tsdb_config(broker.bootstraps()));
  server.start();
  http::HttpClient client;
  const std::string url = server.url();

  const std::int64_t t0 = 1'700'000'000'000;
  wire::MetricsBatch batch;
  for (int s = 0; s < 20; ++s) {
    wire::Series series;
    series.labels = Labels{{"__name__", "it_metric"}, {"series", fmt::format("{:02}", s)}};
    for (int i = 0; i < 10; ++i) series.samples.push_back({t0 + i * 1000, s * 100.0 + i + 0.5});
    batch.series.push_back(std::move(series));
  }
  batch.series.push_back(
      {Labels{{"__name__", "it_special"}, {"kind", "nan"}}, {{t0, std::nan("")}}});
  batch.series.push_back({Labels{{"__name__", "it_special"}, {"kind", "inf"}},
                          {{t0, std::numeric_limits<double>::infinity()}}});
  batch.series.push_back({Labels{{"__name__", "it_special"}, {"kind", "stale"}},
                          {{t0 - 1000, 1}, {t0, wire::stale_nan()}}});
  auto messages = messages_for(batch);
  // A poison message in the middle must not wedge its partition.
  messages.insert(messages.begin() + 5, {"metrics", "poison", "{not json"});

  kafka::KafkaOptions ko;
  ko.brokers = broker.bootstraps();
  kafka::KafkaProducer producer(ko);
  producer.send(messages, 10s);

  const std::int64_t total_samples = 20 * 10 + 1 + 1 + 2;
  REQUIRE(eventually([&] {
    return static_cast<std::int64_t>(server.db().sample_count()) == total_samples &&
           metric(client, url, "strata_tsdb_ingest_rejected_messages_total") == 1;
  }));
  REQUIRE(eventually([&] { return client.get(url + "/readyz").status == 200; }));

  // Exact values at several evaluation times.
  for (int i : {0, 4, 9}) {
    std::string at = tsdb::format_timestamp(t0 + i * 1000);
    std::string body = query(client, url, "it_metric{series=~\"0[0-2]\"}", at);
    std::string expected = R"({"status":"success","data":{"resultType":"vector","result":[)";
    for (int s = 0; s <= 2; ++s) {
      if (s) expected += ',';
      expected += fmt::format(
          R"({{"metric":{{"__name__":"it_metric","series":"{:02}"}},"value":[{},"{}"]}})", s, at,
          tsdb::format_sample_value(s * 100.0 + i + 0.5));
    }
    expected += "]}}";
    CHECK(body == expected);
  }
  CHECK(query(client, url, "it_special", tsdb::format_timestamp(t0)) ==
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{"__name__":"it_special","kind":"inf"},"value":[1700000000,"+Inf"]},)"
        R"({"metric":{"__name__":"it_special","kind":"nan"},"value":[1700000000,"NaN"]}]}})");

  // POST with a form body, RFC3339 time.
  auto post = client.post(url + "/api/v1/query",
                          "query=" + http::HttpClient::url_encode("it_metric{series=\"07\"}") +
                              "&time=2023-11-14T22:13:25Z",
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(post.status == 200);
  CHECK(post.body ==
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{"__name__":"it_metric","series":"07"},"value":[1700000005,"705.5"]}]}})");

  // Grafana's metadata endpoints.
  auto labels = client.get(url + "/api/v1/labels");
  CHECK(labels.body == R"({"status":"success","data":["__name__","kind","series"]})");
  auto values = client.get(url + "/api/v1/label/__name__/values");
  CHECK(values.body == R"({"status":"success","data":["it_metric","it_special"]})");
  auto series = client.get(
      url + "/api/v1/series?match[]=" + http::HttpClient::url_encode("it_special") + "&limit=2");
  CHECK(
      series.body ==
      R"({"status":"success","data":[{"__name__":"it_special","kind":"inf"},)"
      R"({"__name__":"it_special","kind":"nan"}],"warnings":["results truncated due to limit"]})");

  // Errors over HTTP.
  auto bad = client.get(url + "/api/v1/query?query=" + http::HttpClient::url_encode("up{"));
  CHECK(bad.status == 400);
  CHECK(bad.body.find(R"("errorType":"bad_data")") != std::string::npos);

  // Re-publishing everything (an at-least-once resend) changes nothing.
  producer.send(messages, 10s);
  REQUIRE(eventually(
      [&] { return metric(client, url, "strata_tsdb_duplicate_samples_total") == total_samples; }));
  CHECK(static_cast<std::int64_t>(server.db().sample_count()) == total_samples);
  CHECK(server.db().series_count() == 23);
  CHECK(metric(client, url, "strata_tsdb_appended_samples_total") == total_samples);
  CHECK(metric(client, url, "strata_tsdb_ingest_rejected_messages_total") == 2);
  CHECK(metric(client, url, "strata_tsdb_head_series") == 23);

  // A conflicting value is rejected and counted, the first value stays.
  wire::MetricsBatch conflict;
  conflict.series.push_back(
      {Labels{{"__name__", "it_metric"}, {"series", "07"}}, {{t0 + 5000, 1}}});
  producer.send(messages_for(conflict), 10s);
  REQUIRE(eventually(
      [&] { return metric(client, url, "strata_tsdb_conflicting_samples_total") == 1; }));
  CHECK(query(client, url, "it_metric{series=\"07\"}", "1700000005").find("\"705.5\"") !=
        std::string::npos);

  server.stop();
  server.stop();  // idempotent
}

TEST_CASE("tsdb: a second node of another group replays the topic from the start",
          "[tsdb][integration]") {
  kafka::EmbeddedBroker broker({{"metrics", 2}, {"logs", 1}});
  kafka::KafkaOptions ko;
  ko.brokers = broker.bootstraps();
  kafka::KafkaProducer producer(ko);
  wire::MetricsBatch batch;
  batch.series.push_back({Labels{{"__name__", "replayed"}}, {{1000, 1}, {2000, 2}}});
  producer.send(messages_for(batch), 10s);

  for (const char* group : {"g1", "g2"}) {
    tsdb::TsdbServer server(tsdb_config(broker.bootstraps(), group));
    server.start();
    REQUIRE(eventually([&] { return server.db().sample_count() == 2; }));
    server.stop();
  }
}

// The collector's foreign protocols over HTTP against the embedded broker:
// Prometheus remote-write, Loki push (JSON and protobuf) and Prometheus text
// import publish exactly the Kafka messages a native push of the same data
// does; bad input on every endpoint gets its documented status and message
// and publishes nothing; tokens, tenant labels and relabel rules apply.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <limits>

#include <fmt/format.h>

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
using strata::testing::pb_entry;
using strata::testing::pb_label;
using strata::testing::pb_sample;
using strata::testing::snappy_compress;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

using Headers = std::vector<std::pair<std::string, std::string>>;
const Headers kRemoteWrite = {{"Content-Encoding", "snappy"},
                              {"Content-Type", "application/x-protobuf"},
                              {"X-Prometheus-Remote-Write-Version", "0.1.0"}};

config::Config collector_config(const std::string& brokers,
                                std::vector<std::pair<std::string, std::string>> extra = {}) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  collector::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("collector.listen", "127.0.0.1:0", "test");
  c.set("collector.static_labels", "region=eu", "test");
  c.set("collector.ack_timeout", "5s", "test");
  for (auto& [k, v] : extra) c.set(k, v, "test");
  return c;
}

kafka::KafkaOptions kafka_at(const std::string& brokers) {
  kafka::KafkaOptions o;
  o.brokers = brokers;
  return o;
}

// Single-partition topics keep a total order, so a marker produced after the
// requests tells when everything before it has been read.
std::vector<kafka::InMessage> drain(const std::string& brokers, const std::string& topic,
                                    const std::string& group) {
  const std::string marker = "marker-" + group;
  kafka::KafkaProducer producer(kafka_at(brokers));
  producer.send({{topic, marker, "marker"}}, 10s);
  kafka::KafkaConsumer consumer(kafka_at(brokers), group, {topic});
  std::vector<kafka::InMessage> seen;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    for (auto& m : consumer.poll(1000, 200ms)) {
      if (m.key == marker) done = true;
      // Markers of earlier drains are not data.
      if (!m.key.starts_with("marker-")) seen.push_back(std::move(m));
    }
  }
  REQUIRE(done);
  return seen;
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

std::string write_request(const wire::MetricsBatch& batch) {
  Pb req;
  for (const auto& s : batch.series) {
    Pb ts;
    for (const auto& [n, v] : s.labels.items()) ts.msg(1, pb_label(n, v));
    for (const auto& smp : s.samples) ts.msg(2, pb_sample(smp.value, smp.timestamp_ms));
    req.msg(1, ts);
  }
  return snappy_compress(req.str());
}

http::HttpClient no_retry_client() {
  http::ClientOptions o;
  o.max_attempts = 1;
  return http::HttpClient(o);
}

}  // namespace

TEST_CASE("collector: remote write, Loki push and text import publish what a native push does",
          "[collector][integration]") {
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(collector_config(broker.bootstraps()));
  server.start();
  http::ClientOptions o;
  o.max_attempts = 1;
  http::HttpClient client(o);
  const std::string url = server.url();

  wire::MetricsBatch batch;
  batch.series.push_back({Labels{{"__name__", "rw_metric"}, {"job", "a"}},
                          {{kT0, 1.5}, {kT0 + 1000, wire::stale_nan()}}});
  batch.series.push_back({Labels{{"__name__", "rw_metric"}, {"job", "b"}},
                          {{kT0, std::numeric_limits<double>::infinity()}, {kT0 + 1, -0.0}}});
  auto r = client.post(url + "/api/v1/write", write_request(batch), kRemoteWrite);
  REQUIRE(r.status == 204);
  CHECK(r.body.empty());
  REQUIRE(client.post(url + "/api/v1/push/metrics", wire::encode(batch)).status == 204);

  auto metrics = drain(broker.bootstraps(), "metrics", "check-metrics");
  REQUIRE(metrics.size() == 4);
  for (int i = 0; i < 2; ++i) {
    CHECK(metrics[i].key == metrics[i + 2].key);
    CHECK(metrics[i].value == metrics[i + 2].value);
  }
  auto first = wire::decode_metrics(metrics[0].value);
  CHECK(first.series[0].labels ==
        Labels{{"__name__", "rw_metric"}, {"job", "a"}, {"region", "eu"}});
  CHECK(wire::is_stale_nan(first.series[0].samples[1].value));
  CHECK(metrics[0].key == fmt::format("{:016x}", first.series[0].labels.fingerprint()));

  // Logs: Loki JSON (gzip'd), Loki protobuf, native: identical messages.
  const std::string loki_json =
      R"({"streams":[{"stream":{"job":"loki","host":"h1"},"values":[)"
      R"(["1700000000000000001","first"],["1700000000000000002","second",{"trace_id":"t1"}]]}]})";
  r = client.post(url + "/loki/api/v1/push", gzip(loki_json),
                  {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}});
  REQUIRE(r.status == 204);
  Pb stream;
  stream.bytes(1, R"({host="h1", job="loki"})");
  stream.msg(2, pb_entry(1'700'000'000, 1, "first"));
  stream.msg(2,
             pb_entry(1'700'000'000, 2, "second").msg(3, Pb().bytes(1, "trace_id").bytes(2, "t1")));
  r = client.post(url + "/loki/api/v1/push", snappy_compress(Pb().msg(1, stream).str()),
                  {{"Content-Type", "application/x-protobuf"}});
  REQUIRE(r.status == 204);
  wire::LogsBatch logs;
  logs.streams.push_back({Labels{{"host", "h1"}, {"job", "loki"}},
                          {{1'700'000'000'000'000'001, "first", {}},
                           {1'700'000'000'000'000'002, "second", {{"trace_id", "t1"}}}}});
  REQUIRE(client.post(url + "/api/v1/push/logs", wire::encode(logs)).status == 204);
  auto lmsgs = drain(broker.bootstraps(), "logs", "check-logs");
  REQUIRE(lmsgs.size() == 3);
  CHECK(lmsgs[0].value == lmsgs[2].value);
  CHECK(lmsgs[1].value == lmsgs[2].value);
  CHECK(wire::decode_logs(lmsgs[0].value).streams[0].labels.get("region") == "eu");

  // Text import; a sample without timestamp gets the receive time.
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  r = client.post(url + "/api/v1/import/prometheus?extra_label=src%3Dimport",
                  "# TYPE imp gauge\nimp{a=\"1\"} 5 1700000000000\nimp{a=\"2\"} NaN\n");
  REQUIRE(r.status == 204);
  auto imported = drain(broker.bootstraps(), "metrics", "check-import");
  REQUIRE(imported.size() == 6);  // the 4 above, then 2
  auto a1 = wire::decode_metrics(imported[4].value).series[0];
  auto a2 = wire::decode_metrics(imported[5].value).series[0];
  CHECK(a1.labels == Labels{{"__name__", "imp"}, {"a", "1"}, {"region", "eu"}, {"src", "import"}});
  CHECK(a1.samples[0].timestamp_ms == kT0);
  CHECK(a1.samples[0].value == 5);
  CHECK(std::isnan(a2.samples[0].value));
  CHECK(a2.samples[0].timestamp_ms >= before);
}

TEST_CASE("collector: bad input on every endpoint is answered as documented, nothing published",
          "[collector][integration]") {
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(
      collector_config(broker.bootstraps(), {{"collector.http.max_body_bytes", "100000"},
                                             {"collector.limits.max_labels_per_series", "3"},
                                             {"collector.limits.max_line_bytes", "100"}}));
  server.start();
  auto client = no_retry_client();
  const std::string url = server.url();

  auto one_series = [](Labels labels, std::int64_t ts = kT0) {
    wire::MetricsBatch b;
    b.series.push_back({std::move(labels), {{ts, 1}}});
    return b;
  };
  Pb raw_series;
  raw_series.msg(1, Pb().msg(1, pb_label("__name__", "x"))
                        .msg(1, pb_label("bad-name", "v"))
                        .msg(2, pb_sample(1, kT0)));
  const std::string future = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(2))
          .count());

  struct Case {
    const char* name;
    std::string path;
    Headers headers;
    std::string body;
    int status;
    std::string message;
  };
  const Headers json = {{"Content-Type", "application/json"}};
  const std::vector<Case> cases = {
      {"rw: not snappy", "/api/v1/write", kRemoteWrite, "\xff\xff\xff\xff\xff", 400,
       "invalid remote-write request: corrupt snappy data"},
      {"rw: not protobuf", "/api/v1/write", kRemoteWrite, snappy_compress("\xff\xff"), 400,
       "not a valid protobuf prometheus.WriteRequest"},
      {"rw: wrong content type",
       "/api/v1/write",
       {{"Content-Encoding", "snappy"}, {"Content-Type", "application/json"}},
       write_request(one_series(Labels{{"__name__", "x"}})),
       415,
       "unsupported Content-Type application/json for remote write"},
      {"rw: remote write 2.0",
       "/api/v1/write",
       {{"Content-Encoding", "snappy"},
        {"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"}},
       write_request(one_series(Labels{{"__name__", "x"}})),
       415,
       "this receiver speaks remote-write 1.0"},
      {"rw: version 2",
       "/api/v1/write",
       {{"Content-Encoding", "snappy"},
        {"Content-Type", "application/x-protobuf"},
        {"X-Prometheus-Remote-Write-Version", "2.0.0"}},
       write_request(one_series(Labels{{"__name__", "x"}})),
       415,
       "unsupported X-Prometheus-Remote-Write-Version 2.0.0"},
      {"rw: unknown coding",
       "/api/v1/write",
       {{"Content-Encoding", "br"}},
       "x",
       415,
       "unsupported Content-Encoding: br"},
      {"rw: invalid metric name", "/api/v1/write", kRemoteWrite,
       write_request(one_series(Labels{{"__name__", "1bad"}})), 400,
       "invalid remote-write request: 1 problem; the whole request was rejected and nothing of "
       "it was stored:\n  timeseries[0]: invalid metric name \"1bad\""},
      {"rw: invalid label name", "/api/v1/write", kRemoteWrite, snappy_compress(raw_series.str()),
       400, "timeseries[0]: invalid label name \"bad-name\""},
      {"rw: too many labels", "/api/v1/write", kRemoteWrite,
       write_request(one_series(Labels{{"__name__", "x"}, {"a", "1"}, {"b", "2"}, {"c", "3"}})),
       400, "timeseries[0]: 4 labels; the limit is 3 (collector.limits.max_labels_per_series)"},
      {"rw: decompresses too large", "/api/v1/write", kRemoteWrite,
       snappy_compress(std::string(200'000, '\0')), 413, "the limit is 100000"},
      {"rw: future sample", "/api/v1/write", kRemoteWrite,
       write_request(one_series(Labels{{"__name__", "x"}}, std::stoll(future))), 400,
       "timeseries[0].samples[0]: timestamp " + future +
           " ms is more than 10m in the future (collector.limits.max_future_skew)"},
      {"loki: bad JSON", "/loki/api/v1/push", json, "{\"streams\":[", 400,
       "invalid Loki push request: invalid JSON"},
      {"loki: bad timestamp", "/loki/api/v1/push", json,
       R"({"streams":[{"stream":{"a":"b"},"values":[["12x","l"]]}]})", 400,
       "streams[0].values[0][0]: expected a string of nanoseconds"},
      {"loki: no labels", "/loki/api/v1/push", json,
       R"({"streams":[{"stream":{},"values":[["1","l"]]}]})", 400, "streams[0]: empty label set"},
      {"loki: line too long", "/loki/api/v1/push", json,
       R"({"streams":[{"stream":{"a":"b"},"values":[["1",")" + std::string(101, 'x') + R"("]]}]})",
       400, "streams[0].values[0]: log line is 101 bytes; the limit is 100"},
      {"loki: wrong content type",
       "/loki/api/v1/push",
       {{"Content-Type", "text/plain"}},
       "x",
       415,
       "unsupported Content-Type text/plain for Loki push"},
      {"loki: protobuf not snappy",
       "/loki/api/v1/push",
       {{"Content-Type", "application/x-protobuf"}},
       "\xff\xff\xff\xff\xff",
       400,
       "corrupt snappy data"},
      {"loki: bad label string",
       "/loki/api/v1/push",
       {{"Content-Type", "application/x-protobuf"}},
       snappy_compress(Pb().msg(1, Pb().bytes(1, "{a=1}").msg(2, pb_entry(1, 0, "l"))).str()),
       400,
       "streams[0].labels: label set \"{a=1}\": at byte 3: expected a quoted label value"},
      {"import: syntax error",
       "/api/v1/import/prometheus",
       {},
       "ok 1\nbad{a=\"1\" 2\n",
       400,
       "invalid Prometheus text format: line 2, column 11: expected ',' or '}' after a label "
       "value, got '2'"},
      {"import: snappy",
       "/api/v1/import/prometheus",
       {{"Content-Encoding", "snappy"}},
       snappy_compress("ok 1\n"),
       415,
       "unsupported Content-Encoding snappy"},
      {"import: invalid label value",
       "/api/v1/import/prometheus",
       {},
       "ok 1\nm{a=\"\xff\"} 1\n",
       400,
       "line 2: value of label \"a\" is not valid UTF-8"},
      {"native: snappy",
       "/api/v1/push/metrics",
       {{"Content-Encoding", "snappy"}},
       snappy_compress(wire::encode(one_series(Labels{{"__name__", "x"}}))),
       415,
       "snappy only on /api/v1/write and /loki/api/v1/push"},
      {"native: invalid metric name",
       "/api/v1/push/metrics",
       {},
       wire::encode(one_series(Labels{{"__name__", "a-b"}})),
       400,
       "series[0]: invalid metric name \"a-b\""},
      {"body too large", "/api/v1/import/prometheus", {}, std::string(150'000, '#'), 413, ""},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = client.post(url + c.path, c.body, c.headers);
    CHECK(r.status == c.status);
    CHECK_THAT(r.body, Catch::Contains(c.message));
  }
  CHECK(client.get(url + "/api/v1/write").status == 405);

  // Nothing of the above was published...
  CHECK(drain(broker.bootstraps(), "metrics", "bad-metrics").empty());
  CHECK(drain(broker.bootstraps(), "logs", "bad-logs").empty());
  // ... and every endpoint still serves.
  CHECK(client
            .post(url + "/api/v1/write", write_request(one_series(Labels{{"__name__", "ok"}})),
                  kRemoteWrite)
            .status == 204);
  CHECK(client
            .post(url + "/loki/api/v1/push",
                  R"({"streams":[{"stream":{"a":"b"},"values":[["1","l"]]}]})", json)
            .status == 204);
  CHECK(client.post(url + "/api/v1/import/prometheus", "ok 1\n").status == 204);
  CHECK(
      client
          .post(url + "/api/v1/push/metrics", wire::encode(one_series(Labels{{"__name__", "ok"}})))
          .status == 204);
}

TEST_CASE("collector: tokens, tenant labels and relabel rules", "[collector][integration]") {
  const std::string dir = testing::temp_dir("collector-auth-it");
  std::ofstream(dir + "/tokens.yaml") << "tokens:\n"
                                         "  team-a-secret-token:\n"
                                         "    tenant: team-a\n"
                                         "    labels: {env: prod}\n";
  std::ofstream(dir + "/relabel.yaml")
      << "metrics:\n"
         "  - {source_labels: [__name__], regex: 'drop_me_.*', action: drop}\n"
         "  - {source_labels: [instance], regex: '(.*):\\d+', target_label: host}\n"
         "logs:\n"
         "  - {regex: filename, action: labeldrop}\n";
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(
      collector_config(broker.bootstraps(), {{"collector.auth.tokens_file", dir + "/tokens.yaml"},
                                             {"collector.relabel.file", dir + "/relabel.yaml"}}));
  server.start();
  auto client = no_retry_client();
  const std::string url = server.url();

  wire::MetricsBatch batch;
  batch.series.push_back(
      {Labels{{"__name__", "kept"}, {"instance", "web-1:9100"}, {"tenant", "team-b"}}, {{kT0, 1}}});
  batch.series.push_back({Labels{{"__name__", "drop_me_please"}}, {{kT0, 1}}});
  const std::string body = write_request(batch);

  auto none = client.post(url + "/api/v1/write", body, kRemoteWrite);
  Headers wrong = kRemoteWrite;
  wrong.emplace_back("Authorization", "Bearer not-a-known-token");
  auto unknown = client.post(url + "/api/v1/write", body, wrong);
  CHECK(none.status == 401);
  CHECK(unknown.status == 401);
  CHECK(none.body == unknown.body);
  CHECK(none.headers.count("www-authenticate") == 1);
  CHECK(
      client.post(url + "/loki/api/v1/push", "{}", {{"Content-Type", "application/json"}}).status ==
      401);
  CHECK(client.post(url + "/api/v1/import/prometheus", "x 1").status == 401);

  Headers good = kRemoteWrite;
  good.emplace_back("Authorization", "Bearer team-a-secret-token");
  REQUIRE(client.post(url + "/api/v1/write", body, good).status == 204);
  auto msgs = drain(broker.bootstraps(), "metrics", "auth-metrics");
  REQUIRE(msgs.size() == 1);  // drop_me_please was dropped by the rules
  auto s = wire::decode_metrics(msgs[0].value).series[0];
  // The tenant's labels override the client's; static labels fill in; the
  // relabel rule derived host.
  CHECK(s.labels == Labels{{"__name__", "kept"},
                           {"env", "prod"},
                           {"host", "web-1"},
                           {"instance", "web-1:9100"},
                           {"region", "eu"},
                           {"tenant", "team-a"}});

  auto r = client.post(
      url + "/loki/api/v1/push",
      R"({"streams":[{"stream":{"job":"j","filename":"/var/log/x"},)"
      R"("values":[["1","l"]]}]})",
      {{"Content-Type", "application/json"}, {"Authorization", "Bearer team-a-secret-token"}});
  REQUIRE(r.status == 204);
  auto lmsgs = drain(broker.bootstraps(), "logs", "auth-logs");
  REQUIRE(lmsgs.size() == 1);
  CHECK(wire::decode_logs(lmsgs[0].value).streams[0].labels ==
        Labels{{"env", "prod"}, {"job", "j"}, {"region", "eu"}, {"tenant", "team-a"}});
}

TEST_CASE("collector: remote write answers 503 + Retry-After while Kafka is down",
          "[collector][integration]") {
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 1}});
  collector::CollectorServer server(
      collector_config(broker.bootstraps(), {{"collector.ack_timeout", "2s"}}));
  server.start();
  auto client = no_retry_client();
  wire::MetricsBatch b;
  b.series.push_back({Labels{{"__name__", "x"}}, {{kT0, 1}}});
  REQUIRE(client.post(server.url() + "/api/v1/write", write_request(b), kRemoteWrite).status ==
          204);
  broker.set_down(true);
  auto r = client.post(server.url() + "/api/v1/write", write_request(b), kRemoteWrite);
  CHECK(r.status == 503);
  CHECK(r.headers.count("retry-after") == 1);
  CHECK_THAT(r.body, Catch::Contains("nothing of it was accepted, retry later"));
  broker.set_down(false);
}

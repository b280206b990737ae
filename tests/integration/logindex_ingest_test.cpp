// strata-logindex's pieces together: an embedded Kafka-protocol broker, a
// real producer publishing wire-format log batches, the LogIndexServer
// consuming them, and the search API queried over HTTP.
#include <catch2/catch.hpp>

#include <thread>

#include <fmt/format.h>

#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/kafka_bus.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "logindex/logindex_server.h"
#include "tests/support/process.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

config::Config logindex_config(const std::string& brokers) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  logindex::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("logindex.listen", "127.0.0.1:0", "test");
  c.set("logindex.ingest.poll_timeout", "100ms", "test");
  c.set("logindex.data_dir", testing::temp_dir("logindex-ingest"), "test");
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

std::vector<kafka::OutMessage> messages_for(const wire::LogsBatch& batch) {
  std::vector<kafka::OutMessage> out;
  for (const auto& s : batch.streams) {
    wire::LogsBatch one;
    one.streams.push_back(s);
    out.push_back({"logs", std::to_string(s.labels.fingerprint()), wire::encode(one)});
  }
  return out;
}

double metric(http::HttpClient& client, const std::string& url, const std::string& name) {
  auto r = client.get(url + "/metrics");
  auto pos = r.body.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(r.body.substr(pos + name.size() + 2));
}

}  // namespace

TEST_CASE("logindex: lines published on Kafka are searchable, exactly once",
          "[logindex][integration]") {
  kafka::EmbeddedBroker broker({{"metrics", 1}, {"logs", 4}});
  logindex::LogIndexServer server(logindex_config(broker.bootstraps()));
  server.start();
  http::HttpClient client;
  const std::string url = server.url();

  const std::int64_t t0 = 1'700'000'000'000'000'000;
  wire::LogsBatch batch;
  for (int s = 0; s < 5; ++s) {
    wire::LogStream stream;
    stream.labels = Labels{{"job", "it"}, {"pod", fmt::format("pod-{}", s)}};
    for (int i = 0; i < 40; ++i)
      stream.entries.push_back(
          {t0 + s * 1000 + i,
           fmt::format("request {} of pod {} finished needle{}x", i, s, s * 40 + i),
           {}});
    batch.streams.push_back(std::move(stream));
  }
  batch.streams.push_back({Labels{{"job", "quotes"}}, {{t0, "say \"hi\"\tand caf\xC3\xA9", {}}}});
  auto messages = messages_for(batch);
  messages.insert(messages.begin() + 2, {"logs", "poison", "[1,2,3]"});

  kafka::KafkaOptions ko;
  ko.brokers = broker.bootstraps();
  kafka::KafkaProducer producer(ko);
  producer.send(messages, 10s);

  const std::size_t total = 5 * 40 + 1;
  REQUIRE(eventually([&] {
    return server.store().entry_count() == total &&
           metric(client, url, "strata_logindex_ingest_rejected_messages_total") == 1;
  }));
  REQUIRE(eventually([&] { return client.get(url + "/readyz").status == 200; }));

  auto one = client.get(url + "/api/v1/search?q=needle123x");
  REQUIRE(one.status == 200);
  // needle123x = stream 3, i = 3.
  CHECK(one.body ==
        R"({"status":"success","data":{"result":[{"stream":{"job":"it","pod":"pod-3"},)"
        R"("ts":"1700000000000003003","line":"request 3 of pod 3 finished needle123x"}],)"
        R"("stats":{"matched":1}}})");
  auto quotes =
      client.get(url + "/api/v1/search?q=" + http::HttpClient::url_encode("CAF\xC3\xA9 hi"));
  CHECK(quotes.body == R"({"status":"success","data":{"result":[{"stream":{"job":"quotes"},)"
                       R"("ts":"1700000000000000000","line":"say \"hi\"\tand caf)"
                       "\xC3\xA9"
                       R"("}],"stats":{"matched":1}}})");

  auto newest = client.get(url + "/api/v1/search?q=finished&limit=2");
  CHECK(newest.body.find(R"("stats":{"matched":200})") != std::string::npos);
  CHECK(newest.body.find("needle199x") < newest.body.find("needle198x"));
  auto pod = client.get(url + "/api/v1/search?q=finished&stream=pod%3Dpod-1&limit=1000&start=" +
                        std::to_string(t0 + 1010) + "&end=" + std::to_string(t0 + 1019));
  CHECK(pod.body.find(R"("stats":{"matched":10})") != std::string::npos);

  auto bad = client.get(url + "/api/v1/search?q=x&limit=abc");
  CHECK(bad.status == 400);
  CHECK(client.get(url + "/api/v1/search").status == 400);

  // Re-publishing everything (an at-least-once resend) changes nothing.
  producer.send(messages, 10s);
  REQUIRE(eventually([&] {
    return metric(client, url, "strata_logindex_duplicate_entries_total") ==
           static_cast<double>(total);
  }));
  CHECK(server.store().entry_count() == total);
  CHECK(client.get(url + "/api/v1/search?q=finished&limit=1").body.find(R"("matched":200)") !=
        std::string::npos);
  CHECK(metric(client, url, "strata_logindex_entries") == static_cast<double>(total));
  CHECK(metric(client, url, "strata_logindex_ingest_rejected_messages_total") == 2);

  server.stop();
  server.stop();
}

// Broker outage under load: clients push continuously while the embedded
// broker goes down and comes back. While it is down they get 503 with
// Retry-After; afterwards every sample that got a 2xx is in the topic --
// nothing acknowledged is lost (what was refused may be there too: at-least-
// once, the stores deduplicate).
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "collector/collector_server.h"
#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "tests/support/process.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

constexpr int kClients = 3;
constexpr int kSeriesPerRequest = 5;

config::Config collector_config(const std::string& brokers) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  collector::add_options(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  c.set("collector.listen", "127.0.0.1:0", "test");
  // Short, so that requests during the outage answer 503 quickly.
  c.set("collector.ack_timeout", "1s", "test");
  return c;
}

// What one client thread saw. `acked` holds the request numbers that got 2xx.
struct ClientLog {
  std::mutex mu;
  std::set<int> acked;
  int unavailable = 0;
  int acked_after_recovery = 0;
  std::vector<std::string> unexpected;  // any other answer
};

std::string request(int client, int seq) {
  wire::MetricsBatch batch;
  for (int s = 0; s < kSeriesPerRequest; ++s)
    batch.series.push_back({Labels{{"__name__", "outage_test"},
                                   {"client", std::to_string(client)},
                                   {"seq", std::to_string(seq)},
                                   {"s", std::to_string(s)}},
                            {{1000 + seq, double(seq)}}});
  return wire::encode(batch);
}

}  // namespace

TEST_CASE("collector: broker outage under load loses nothing that was acknowledged",
          "[collector][outage]") {
  kafka::EmbeddedBroker broker({{"metrics", 4}, {"logs", 1}});
  collector::CollectorServer server(collector_config(broker.bootstraps()));
  server.start();
  const std::string url = server.url() + "/api/v1/push/metrics";

  std::atomic<bool> stop{false};
  std::atomic<bool> recovered{false};
  ClientLog logs[kClients];
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      http::ClientOptions o;
      o.max_attempts = 1;  // the test looks at every answer itself
      o.request_timeout = 20s;
      http::HttpClient client(o);
      ClientLog& log = logs[c];
      for (int seq = 0; !stop.load(); ++seq) {
        const bool after = recovered.load();
        auto r = client.post(url, request(c, seq));
        std::lock_guard lock(log.mu);
        if (r.status >= 200 && r.status < 300) {
          log.acked.insert(seq);
          if (after) ++log.acked_after_recovery;
        } else if (r.status == 503 && r.headers.count("retry-after") == 1) {
          ++log.unavailable;
          std::this_thread::sleep_for(50ms);  // a real client would back off
        } else {
          log.unexpected.push_back(fmt::format("{} {}{}", r.status, r.error, r.body));
        }
      }
    });
  }
  const auto total = [&](auto field) {
    int n = 0;
    for (auto& l : logs) {
      std::lock_guard lock(l.mu);
      n += field(l);
    }
    return n;
  };
  const auto acked = [&] { return total([](ClientLog& l) { return int(l.acked.size()); }); };
  const auto unavailable = [&] { return total([](ClientLog& l) { return l.unavailable; }); };

  const bool flowing = testing::eventually([&] { return acked() >= 3 * kClients; }, 15s);
  broker.set_down(true);
  const bool refused = testing::eventually([&] { return unavailable() >= kClients; }, 15s);
  std::this_thread::sleep_for(500ms);
  broker.set_down(false);
  recovered = true;
  const bool back = testing::eventually(
      [&] { return total([](ClientLog& l) { return l.acked_after_recovery; }) >= 3 * kClients; },
      20s);
  stop = true;
  for (auto& t : clients) t.join();
  CHECK(flowing);
  CHECK(refused);
  CHECK(back);
  for (auto& l : logs) {
    INFO(fmt::format("unexpected answers: {}", fmt::join(l.unexpected, "; ")));
    CHECK(l.unexpected.empty());
  }

  // Every acknowledged request's series, each with its sample, is in the topic.
  std::set<std::string> missing;
  for (int c = 0; c < kClients; ++c)
    for (int seq : logs[c].acked)
      for (int s = 0; s < kSeriesPerRequest; ++s)
        missing.insert(fmt::format("{}/{}/{}", c, seq, s));
  const std::size_t expected = missing.size();
  kafka::KafkaOptions ko;
  ko.brokers = broker.bootstraps();
  kafka::KafkaConsumer consumer(ko, "outage-check", {"metrics"});
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!missing.empty() && std::chrono::steady_clock::now() < deadline) {
    for (const auto& m : consumer.poll(10'000, 200ms)) {
      for (const auto& s : wire::decode_metrics(m.value).series) {
        const int seq = std::stoi(std::string(s.labels.get("seq")));
        REQUIRE(s.samples.size() == 1);
        CHECK(s.samples[0].timestamp_ms == 1000 + seq);
        missing.erase(fmt::format("{}/{}/{}", s.labels.get("client"), seq, s.labels.get("s")));
      }
    }
  }
  INFO(fmt::format("{} of {} acknowledged series missing, e.g. {}", missing.size(), expected,
                   missing.empty() ? "" : *missing.begin()));
  CHECK(missing.empty());
}

// Crash test: a real strata-logindex process consuming from the embedded
// broker is killed with SIGKILL while log lines flow -- once right after it
// has written a segment (so the WAL, the head and segments are all in play)
// and once more at a random point -- and restarted each time. At the end every
// line must be searchable exactly once. This is the claim of
// logindex/ingester.h and log_store.h: offsets are committed only after the
// WAL is fsynced, and what Kafka or the WAL replays is absorbed by the
// store's deduplication (head and segments alike).
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "common/http_client.h"
#include "common/kafka_bus.h"
#include "common/wire_format.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kMessages = 60;
constexpr int kStreams = 4;
constexpr int kPerMessage = 25;  // lines per stream per message
constexpr std::int64_t kBase = 1'700'000'000'000'000'000;
constexpr int kTotal = kMessages * kStreams * kPerMessage;

std::string line_of(int m, int s, int k) {
  return "crashline m" + std::to_string(m) + " s" + std::to_string(s) + " k" + std::to_string(k) +
         " padding to make the head fill up a little faster than it otherwise would";
}

double metric(http::HttpClient& client, int port, const std::string& name) {
  try {
    auto r = client.get("http://127.0.0.1:" + std::to_string(port) + "/metrics");
    auto pos = r.body.find("\n" + name + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(r.body.substr(pos + name.size() + 2));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

TEST_CASE("logindex crash: SIGKILL mid-ingest loses nothing and duplicates nothing",
          "[e2e][logindex][crash]") {
  const std::string dir = temp_dir("logindex-crash");
  const std::string addr_file = dir + "/broker.addr";
  ChildProcess broker("broker", STRATA_BROKER_BIN,
                      {"--broker.address_file=" + addr_file, "--broker.partitions=4"});
  std::string brokers;
  REQUIRE(eventually(
      [&] {
        std::ifstream in(addr_file);
        return bool(std::getline(in, brokers)) && !brokers.empty();
      },
      20s));

  std::unique_ptr<ChildProcess> logindex;
  int port = 0;
  int starts = 0;
  auto start = [&] {
    port = free_port();
    logindex = std::make_unique<ChildProcess>(
        "logindex-" + std::to_string(++starts), STRATA_LOGINDEX_BIN,
        std::vector<std::string>{
            "--kafka.brokers=" + brokers, "--logindex.listen=127.0.0.1:" + std::to_string(port),
            "--logindex.data_dir=" + dir + "/data", "--logindex.wal.fsync=batch",
            "--logindex.ingest.poll_timeout=50ms", "--logindex.ingest.max_poll_messages=7",
            // Flush (and merge) often, so the kills meet segments too.
            "--logindex.head.max_bytes=150000", "--logindex.maintenance_interval=100ms",
            "--logindex.merge.min_segments=3", "--logindex.search.max_limit=100000",
            // A killed member's partitions go to its successor after 3 s, not
            // 6 s, keeping the test short (the embedded broker accepts it).
            "--kafka.properties=session.timeout.ms=3000,heartbeat.interval.ms=300"});
  };
  start();

  std::atomic<bool> produced{false};
  std::thread producer([&] {
    kafka::KafkaOptions ko;
    ko.brokers = brokers;
    kafka::KafkaProducer p(ko);
    for (int m = 0; m < kMessages; ++m) {
      std::vector<kafka::OutMessage> out;
      for (int s = 0; s < kStreams; ++s) {
        wire::LogsBatch b;
        wire::LogStream stream;
        stream.labels = Labels{{"job", "crash"}, {"s", std::to_string(s)}};
        for (int k = 0; k < kPerMessage; ++k)
          stream.entries.push_back({kBase + (m * kPerMessage + k) * 1000LL, line_of(m, s, k), {}});
        b.streams.push_back(std::move(stream));
        out.push_back({"logs", std::to_string(b.streams[0].labels.fingerprint()), wire::encode(b)});
      }
      p.send(out, 10s);
      std::this_thread::sleep_for(50ms);
    }
    produced = true;
  });

  http::HttpClient client;
  // Kill 1: right after the first segment was written, while lines flow.
  const bool flushed =
      eventually([&] { return metric(client, port, "strata_logindex_flushes") >= 1; }, 20s);
  if (!flushed) {
    logindex->dump();
    try {
      std::cerr << client.get("http://127.0.0.1:" + std::to_string(port) + "/metrics").body;
    } catch (const std::exception&) {
    }
  }
  REQUIRE(flushed);
  logindex->kill9();
  start();
  // Kill 2: at a random point of the next second (replay, group join, a batch).
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 1000)(rng)));
  logindex->kill9();
  start();
  producer.join();
  REQUIRE(produced);

  // Everything must arrive, exactly once.
  std::map<std::string, int> seen;
  std::uint64_t matched = 0;
  auto fetch = [&] {
    seen.clear();
    http::ClientResponse r;
    try {
      // `port` changes with every start().
      r = client.get("http://127.0.0.1:" + std::to_string(port) +
                     "/api/v1/search?q=crashline&limit=100000");
    } catch (const std::exception&) {
      return false;
    }
    if (r.status != 200) return false;
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(r.body);
    matched = std::uint64_t(doc["data"]["stats"]["matched"]);
    for (auto hit : doc["data"]["result"].get_array())
      ++seen[std::string(std::string_view(hit["line"]))];
    return matched >= static_cast<std::uint64_t>(kTotal);
  };
  const bool complete = eventually(fetch, 30s);
  INFO("last log:\n" << logindex->output());
  if (!complete) logindex->dump();
  REQUIRE(complete);
  CHECK(matched == static_cast<std::uint64_t>(kTotal));  // none twice
  REQUIRE(seen.size() == static_cast<std::size_t>(kTotal));
  int missing = 0, twice = 0;
  for (int m = 0; m < kMessages; ++m)
    for (int s = 0; s < kStreams; ++s)
      for (int k = 0; k < kPerMessage; ++k) {
        auto it = seen.find(line_of(m, s, k));
        if (it == seen.end())
          ++missing;
        else if (it->second != 1)
          ++twice;
      }
  CHECK(missing == 0);
  CHECK(twice == 0);
  // The data really went through segments, and the store still says so after
  // a graceful restart.
  CHECK(metric(client, port, "strata_logindex_segments") >= 1);
  CHECK(logindex->stop() == 0);
  start();
  const bool reopened = eventually([&] { return fetch(); }, 20s);
  if (!reopened) logindex->dump();
  REQUIRE(reopened);
  CHECK(matched == static_cast<std::uint64_t>(kTotal));
  logindex.reset();
  std::filesystem::remove_all(dir);
}

// Crash test: a real strata-tsdb process consuming from the embedded broker
// is killed with SIGKILL at random points (several times) while samples
// flow; after the last restart every sample must be queryable with its
// exact value, and none may appear twice. This is the exactly-once claim of
// tsdb/ingester.h: offsets are committed only after the WAL is durable, and
// replays are absorbed by the head's duplicate detection.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
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

constexpr int kMessages = 160;
constexpr int kSeries = 20;
constexpr int kPerMessage = 10;  // samples per series per message
constexpr std::int64_t kBase = 1'700'000'000'000;

double value_of(int message, int k) { return message * 1000 + k + 0.25; }

}  // namespace

TEST_CASE("tsdb crash: SIGKILL at random points loses nothing and duplicates nothing",
          "[e2e][tsdb][crash]") {
  const std::string dir = temp_dir("tsdb-crash");
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

  std::unique_ptr<ChildProcess> tsdb;
  int port = 0;
  int starts = 0;
  auto start = [&] {
    port = free_port();
    tsdb = std::make_unique<ChildProcess>(
        "tsdb-" + std::to_string(++starts), STRATA_TSDB_BIN,
        std::vector<std::string>{
            "--kafka.brokers=" + brokers, "--tsdb.listen=127.0.0.1:" + std::to_string(port),
            "--tsdb.data_dir=" + dir + "/data", "--tsdb.wal.fsync=batch",
            "--tsdb.ingest.poll_timeout=50ms", "--tsdb.ingest.max_poll_messages=7"});
  };
  start();

  std::atomic<bool> produced{false};
  std::thread producer([&] {
    kafka::KafkaOptions ko;
    ko.brokers = brokers;
    kafka::KafkaProducer p(ko);
    for (int m = 0; m < kMessages; ++m) {
      std::vector<kafka::OutMessage> out;
      for (int s = 0; s < kSeries; ++s) {
        wire::MetricsBatch b;
        wire::Series series{Labels{{"__name__", "crash_test"}, {"s", std::to_string(s)}}, {}};
        for (int k = 0; k < kPerMessage; ++k)
          series.samples.push_back({kBase + (m * kPerMessage + k) * 1000LL, value_of(m, k)});
        b.series.push_back(std::move(series));
        out.push_back(
            {"metrics", std::to_string(b.series[0].labels.fingerprint()), wire::encode(b)});
      }
      p.send(out, 10s);
      std::this_thread::sleep_for(60ms);
    }
    produced = true;
  });

  // Kill at random points while the samples flow: during replay, during the
  // group join, mid-batch -- wherever the dice land.
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  while (kills < 4) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(700, 3500)(rng)));
    tsdb->kill9();
    ++kills;
    start();
  }
  producer.join();
  REQUIRE(produced);
  INFO("killed " << kills << " times; last log:\n" << tsdb->output());

  // Everything must arrive, exactly once.
  http::HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) +
                          "/api/v1/query?query=crash_test%5B1d%5D&time=" +
                          std::to_string((kBase + kMessages * kPerMessage * 1000LL) / 1000 + 10);
  std::map<std::string, std::vector<std::pair<double, double>>> got;
  auto fetch = [&] {
    got.clear();
    http::ClientResponse r;
    try {
      r = client.get(url);
    } catch (const std::exception&) {
      return false;
    }
    if (r.status != 200) return false;
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(r.body);
    std::size_t total = 0;
    for (auto series : doc["data"]["result"].get_array()) {
      std::string s{std::string_view(series["metric"]["s"])};
      for (auto pair : series["values"].get_array()) {
        auto a = pair.get_array();
        double t = a.at(0).get_double();
        double v = std::stod(std::string{std::string_view(a.at(1))});
        got[s].emplace_back(t, v);
        ++total;
      }
    }
    return total >= static_cast<std::size_t>(kMessages * kSeries * kPerMessage);
  };
  const bool complete = eventually(fetch, 90s);
  if (!complete) tsdb->dump();
  REQUIRE(complete);
  REQUIRE(got.size() == kSeries);
  for (const auto& [s, values] : got) {
    INFO("series s=" << s);
    REQUIRE(values.size() == static_cast<std::size_t>(kMessages * kPerMessage));  // none twice
    for (int m = 0; m < kMessages; ++m)
      for (int k = 0; k < kPerMessage; ++k) {
        const auto& [t, v] = values[static_cast<std::size_t>(m * kPerMessage + k)];
        CHECK(static_cast<std::int64_t>(t * 1000 + 0.5) == kBase + (m * kPerMessage + k) * 1000LL);
        CHECK(v == value_of(m, k));
      }
  }
  tsdb.reset();
  std::filesystem::remove_all(dir);
}

// KafkaProducer / KafkaConsumer against the EmbeddedBroker (librdkafka's mock
// cluster): the same code paths as against real Kafka.
//
// Timing note: the mock cluster holds a consumer group's first JoinGroup for
// a fixed 3 s (its stand-in for group.initial.rebalance.delay.ms), so every
// fresh group costs ~3 s before the first message. The tests join groups
// concurrently where they can.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "common/embedded_broker.h"
#include "common/kafka_bus.h"

using namespace strata::kafka;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::vector<std::string> kTopics = {"metrics", "logs"};
constexpr int kPartitions = 4;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Kafka's Java client partitioner (Utils.murmur2, toPositive, modulo): the
// producer is configured with librdkafka's murmur2_random to agree with it.
int32_t java_partition(const std::string& key, int partitions) {
  const uint32_t m = 0x5bd1e995;
  const auto len = static_cast<uint32_t>(key.size());
  uint32_t h = 0x9747b28c ^ len;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  std::size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) |
                 (static_cast<uint32_t>(data[i + 3]) << 24);
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (len % 4) {
    case 3:
      h ^= static_cast<uint32_t>(data[i + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(data[i + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= data[i];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>((h & 0x7fffffff) % static_cast<uint32_t>(partitions));
}

// Polls until `done(received)` or the deadline; returns everything received.
template <typename Done>
std::vector<InMessage> poll_until(KafkaConsumer& c, Clock::duration limit, Done done) {
  std::vector<InMessage> got;
  const auto deadline = Clock::now() + limit;
  while (!done(got) && Clock::now() < deadline) {
    auto batch = c.poll(64, 200ms);
    got.insert(got.end(), batch.begin(), batch.end());
  }
  return got;
}

std::vector<OutMessage> make_batch(int n, const std::string& prefix) {
  std::vector<OutMessage> out;
  for (int i = 0; i < n; ++i) {
    OutMessage m;
    m.topic = kTopics[i % 3 == 0 ? 1 : 0];
    // 16 hex digits like the real series/stream fingerprints; 23 distinct
    // keys so that every key repeats and lands in several messages.
    m.key = fmt::format("{:016x}", 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i % 23 + 1));
    m.value = fmt::format("{}-{}", prefix, i);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

TEST_CASE("kafka bus: produce, consume in a group, commit, replay in a new group", "[kafka]") {
  EmbeddedBroker broker({{"metrics", kPartitions}, {"logs", kPartitions}});
  KafkaOptions opts;
  opts.brokers = broker.bootstraps();
  REQUIRE_THAT(opts.brokers, Catch::StartsWith("127.0.0.1:"));

  KafkaProducer producer(opts);
  constexpr int kN = 500;
  auto batch = make_batch(kN, "v");
  auto t0 = Clock::now();
  producer.send(batch, 10s);
  WARN(fmt::format("send of {} messages: {:.3f} s", kN, seconds_since(t0)));
  REQUIRE(producer.messages_acked() == kN);
  REQUIRE(producer.messages_failed() == 0);
  REQUIRE(producer.connected());

  std::map<std::string, std::string> sent;  // value -> key
  for (const auto& m : batch) sent[m.value] = m.key;

  // check(received): every sent message exactly once, equal keys in one
  // partition (the one the Java client would pick), offsets increasing.
  auto check_all_once = [&](const std::vector<InMessage>& got) {
    std::map<std::string, int> seen;
    std::map<std::pair<std::string, std::string>, std::set<int32_t>> partitions_of_key;
    std::map<std::pair<std::string, int32_t>, int64_t> last_offset;
    for (const auto& m : got) {
      ++seen[m.value];
      REQUIRE(sent.count(m.value) == 1);
      REQUIRE(sent[m.value] == m.key);
      REQUIRE((m.topic == "metrics" || m.topic == "logs"));
      partitions_of_key[{m.topic, m.key}].insert(m.partition);
      REQUIRE(m.partition == java_partition(m.key, kPartitions));
      auto [it, first] = last_offset.try_emplace({m.topic, m.partition}, m.offset);
      if (!first) {
        REQUIRE(m.offset > it->second);
        it->second = m.offset;
      }
    }
    REQUIRE(seen.size() == sent.size());
    for (const auto& [value, count] : seen) {
      INFO(value);
      REQUIRE(count == 1);
    }
    for (const auto& [key, parts] : partitions_of_key) REQUIRE(parts.size() == 1);
    // 23 keys over 4 partitions of two topics: the data is spread out.
    REQUIRE(last_offset.size() >= 4);
  };

  {
    KafkaConsumer first(opts, "stores", kTopics);
    t0 = Clock::now();
    double first_message_at = -1;
    auto got = poll_until(first, 30s, [&](const std::vector<InMessage>& g) {
      if (first_message_at < 0 && !g.empty()) first_message_at = seconds_since(t0);
      return g.size() >= static_cast<std::size_t>(kN);
    });
    WARN(fmt::format("group join + first message: {:.3f} s, all {} messages: {:.3f} s",
                     first_message_at, got.size(), seconds_since(t0)));
    // Duplicates would arrive right behind the originals.
    auto extra = first.poll(kN, 500ms);
    got.insert(got.end(), extra.begin(), extra.end());
    REQUIRE(got.size() == static_cast<std::size_t>(kN));
    check_all_once(got);
    first.commit(got);
    // Committing the same offsets again is harmless.
    first.commit(got);
    first.commit({});
  }

  // After the commit, a new member of the same group starts behind the last
  // message; a marker proves it is assigned and reading, not just idle.
  producer.send({{"metrics", "marker-key", "marker"}}, 5s);

  KafkaConsumer same_group(opts, "stores", kTopics);
  KafkaConsumer new_group(opts, "replay", kTopics);
  std::vector<InMessage> resumed, replayed;
  t0 = Clock::now();
  const auto deadline = t0 + 30s;
  while (Clock::now() < deadline && (resumed.empty() || replayed.size() < kN + 1u)) {
    for (auto& m : same_group.poll(64, 100ms)) resumed.push_back(std::move(m));
    for (auto& m : new_group.poll(64, 100ms)) replayed.push_back(std::move(m));
  }
  WARN(fmt::format("second join (two groups concurrently): {:.3f} s", seconds_since(t0)));
  for (auto& m : same_group.poll(kN, 500ms)) resumed.push_back(std::move(m));
  for (auto& m : new_group.poll(kN, 500ms)) replayed.push_back(std::move(m));

  REQUIRE(resumed.size() == 1);
  REQUIRE(resumed[0].value == "marker");
  REQUIRE(resumed[0].key == "marker-key");
  REQUIRE(resumed[0].partition == java_partition("marker-key", kPartitions));

  REQUIRE(replayed.size() == kN + 1u);
  std::vector<InMessage> without_marker;
  for (const auto& m : replayed) {
    if (m.value != "marker") without_marker.push_back(m);
  }
  check_all_once(without_marker);
}

TEST_CASE("kafka bus: send fails within its timeout while the broker is down, then recovers",
          "[kafka]") {
  EmbeddedBroker broker({{"metrics", kPartitions}, {"logs", kPartitions}});
  KafkaOptions opts;
  opts.brokers = broker.bootstraps();
  opts.compression = "zstd";
  KafkaProducer producer(opts);
  producer.send({{"metrics", "k", "warm-up"}}, 10s);
  REQUIRE(producer.connected());

  broker.set_down(true);
  auto t0 = Clock::now();
  try {
    producer.send(make_batch(20, "down"), 2s);
    FAIL("send succeeded with every broker down");
  } catch (const KafkaError& e) {
    double took = seconds_since(t0);
    WARN(fmt::format("send with broker down threw after {:.3f} s: {}", took, e.what()));
    REQUIRE(took < 3.0);
    REQUIRE_THAT(e.what(), Catch::Contains("metrics"));
    REQUIRE_THAT(e.what(), Catch::Contains(opts.brokers));
    REQUIRE_THAT(e.what(), Catch::Contains("of 20 messages not acknowledged"));
  }
  t0 = Clock::now();
  while (producer.connected() && seconds_since(t0) < 10) std::this_thread::sleep_for(50ms);
  WARN(fmt::format("connected() went false {:.3f} s later", seconds_since(t0)));
  REQUIRE_FALSE(producer.connected());

  broker.set_down(false);
  t0 = Clock::now();
  auto after = make_batch(50, "up");
  producer.send(after, 10s);
  WARN(fmt::format("first send after recovery: {:.3f} s", seconds_since(t0)));
  REQUIRE(producer.connected());

  // Messages of the failed call were still queued when the broker came back
  // (within delivery.timeout.ms): their late delivery reports reach the
  // completion state of a send() that has long returned.
  t0 = Clock::now();
  while (producer.messages_acked() + producer.messages_failed() < 71 && seconds_since(t0) < 10) {
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(producer.messages_acked() + producer.messages_failed() == 71);
  WARN(fmt::format("acked {}, failed {}", producer.messages_acked(), producer.messages_failed()));

  KafkaConsumer consumer(opts, "after-outage", {"metrics", "logs"});
  std::set<std::string> values;
  std::size_t total = 0;
  auto got = poll_until(consumer, 30s, [&](const std::vector<InMessage>& g) {
    std::set<std::string> v;
    for (const auto& m : g) v.insert(m.value);
    return v.count("up-49") && v.count("warm-up") && g.size() >= producer.messages_acked();
  });
  for (auto& m : consumer.poll(1000, 500ms)) got.push_back(std::move(m));
  for (const auto& m : got) {
    values.insert(m.value);
    ++total;
  }
  REQUIRE(values.count("warm-up") == 1);
  for (const auto& m : after) REQUIRE(values.count(m.value) == 1);
  // The idempotent producer does not duplicate messages across the outage.
  REQUIRE(total == values.size());
  REQUIRE(total == producer.messages_acked());
}

TEST_CASE("kafka bus: producer to an unreachable broker fails sends and shuts down promptly",
          "[kafka]") {
  KafkaOptions opts;
  {
    // A port that nothing listens on: bind an embedded broker, note its
    // address, shut it down.
    EmbeddedBroker gone({{"metrics", 1}});
    opts.brokers = gone.bootstraps();
  }
  auto t0 = Clock::now();
  {
    KafkaProducer producer(opts);
    REQUIRE_FALSE(producer.connected());
    REQUIRE_THROWS_AS(producer.send({{"metrics", "k", "v"}}, 500ms), KafkaError);
    REQUIRE(seconds_since(t0) < 1.5);
    REQUIRE_FALSE(producer.connected());
    REQUIRE_NOTHROW(producer.send({}, 10ms));
  }
  // The destructor's bounded flush, then purge: no hang, and (under ASan) no
  // leak of the state the unacknowledged message pointed at.
  WARN(fmt::format("producer lifetime with unreachable broker: {:.3f} s", seconds_since(t0)));
  REQUIRE(seconds_since(t0) < 3.0);
}

TEST_CASE("kafka bus: configuration errors are KafkaErrors", "[kafka]") {
  KafkaOptions opts;
  REQUIRE_THROWS_AS(KafkaProducer(opts), KafkaError);  // no brokers
  opts.brokers = "127.0.0.1:1";
  opts.compression = "brotli";
  REQUIRE_THROWS_WITH(KafkaProducer(opts), Catch::Contains("compression.type=brotli"));
  opts.compression = "lz4";
  opts.extra["no.such.property"] = "1";
  REQUIRE_THROWS_WITH(KafkaConsumer(opts, "g", {"metrics"}), Catch::Contains("no.such.property"));
  REQUIRE_THROWS_AS(EmbeddedBroker({{"metrics", 0}}), KafkaError);
  REQUIRE_THROWS_AS(EmbeddedBroker({{"metrics", 1}}, 0), KafkaError);
}

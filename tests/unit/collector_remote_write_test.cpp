// Remote-write decoding: snappy block format + prometheus.WriteRequest, built
// byte by byte here, and the Kafka messages the collector makes of it.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>

#include "collector/publisher.h"
#include "collector/remote_write.h"
#include "tests/unit/collector_test_util.h"

using namespace strata;
using namespace strata::collector;
using strata::testing::Pb;
using strata::testing::pb_label;
using strata::testing::pb_sample;
using strata::testing::snappy_compress;

namespace {

std::string decode_error(const std::string& body, std::size_t max = 1 << 20,
                         int* status = nullptr) {
  try {
    decode_remote_write(body, max);
  } catch (const DecodeError& e) {
    if (status) *status = e.status();
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("remote write: a byte-exact WriteRequest decodes", "[collector][remote_write]") {
  // WriteRequest{timeseries: [{labels: [{__name__, up}], samples: [{1.0, 1000}]}]}
  const std::string fixture(
      "\x0a\x1e"                                                   // timeseries, 30 bytes
      "\x0a\x0e\x0a\x08__name__\x12\x02up"                         // label, 14 bytes
      "\x12\x0c\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x10\xe8\x07",  // sample 1.0 @ 1000
      32);
  // The test's writer produces the same bytes as written out by hand.
  REQUIRE(Pb().msg(1, Pb().msg(1, pb_label("__name__", "up")).msg(2, pb_sample(1.0, 1000))).str() ==
          fixture);
  auto batch = decode_remote_write(snappy_compress(fixture), 1 << 20);
  REQUIRE(batch.series.size() == 1);
  CHECK(batch.series[0].labels == Labels{{"__name__", "up"}});
  REQUIRE(batch.series[0].samples.size() == 1);
  CHECK(batch.series[0].samples[0].timestamp_ms == 1000);
  CHECK(batch.series[0].samples[0].value == 1.0);
}

TEST_CASE("remote write: labels, special values and the stale marker pass through",
          "[collector][remote_write]") {
  const double stale = std::bit_cast<double>(wire::kStaleNaNBits);
  const double normal_nan = std::bit_cast<double>(wire::kNormalNaNBits);
  Pb req;
  req.msg(1, Pb().msg(1, pb_label("job", "node"))  // unsorted, as some senders do
                 .msg(1, pb_label("__name__", "node_load1"))
                 .msg(1, pb_label("empty", ""))  // absent
                 .msg(2, pb_sample(0.5, 1'700'000'000'000))
                 .msg(2, pb_sample(stale, 1'700'000'015'000))
                 .msg(2, pb_sample(normal_nan, 1'700'000'030'000))
                 .msg(2, pb_sample(-std::numeric_limits<double>::infinity(), -5))
                 .bytes(3, "exemplar-bytes"));
  req.msg(1, Pb().msg(1, pb_label("__name__", "b")).bytes(4, "h1").bytes(4, "h2"));
  req.bytes(3, "metadata is ignored");
  RemoteWriteDropped dropped;
  auto batch = decode_remote_write(snappy_compress(req.str()), 1 << 20, &dropped);
  REQUIRE(batch.series.size() == 2);
  const auto& s = batch.series[0];
  CHECK(s.labels == Labels{{"__name__", "node_load1"}, {"job", "node"}});
  REQUIRE(s.samples.size() == 4);
  CHECK(s.samples[0].value == 0.5);
  CHECK(std::bit_cast<std::uint64_t>(s.samples[1].value) == wire::kStaleNaNBits);
  CHECK(std::bit_cast<std::uint64_t>(s.samples[2].value) == wire::kNormalNaNBits);
  CHECK(s.samples[3].value == -std::numeric_limits<double>::infinity());
  CHECK(s.samples[3].timestamp_ms == -5);
  CHECK(batch.series[1].samples.empty());
  CHECK(dropped.exemplars == 1);
  CHECK(dropped.histograms == 2);

  // The Kafka message is byte-identical to what a native push of the same
  // series produces, stale marker included.
  wire::MetricsBatch native;
  native.series.push_back(s);
  auto msgs = Publisher::messages_for(s, "metrics");
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].value == wire::encode(native));
  CHECK(msgs[0].value.find("\"StaleNaN\"") != std::string::npos);
  auto back = wire::decode_metrics(msgs[0].value);
  CHECK(wire::is_stale_nan(back.series[0].samples[1].value));
}

TEST_CASE("remote write: malformed bodies are rejected with a reason",
          "[collector][remote_write]") {
  int status = 0;
  CHECK_THAT(decode_error("not snappy at all \xff\xff\xff\xff\xff", 1 << 20, &status),
             Catch::Contains("corrupt snappy"));
  CHECK(status == 400);
  CHECK_THAT(decode_error("", 1 << 20, &status), Catch::Contains("snappy"));
  // A valid snappy header declaring far more than the limit: 413 before
  // anything is allocated.
  std::string big = snappy_compress(std::string(5000, 'a'));
  CHECK_THAT(decode_error(big, 1000, &status), Catch::Contains("limit is 1000"));
  CHECK(status == 413);
  // Valid snappy, not a protobuf.
  CHECK_THAT(decode_error(snappy_compress("\xff\xff\xff\xff"), 1 << 20, &status),
             Catch::Contains("not a valid protobuf prometheus.WriteRequest"));
  CHECK(status == 400);
  // Truncated protobuf: length prefix longer than the data.
  CHECK_THAT(decode_error(snappy_compress(std::string("\x0a\x30\x0a", 3))),
             Catch::Contains("not a valid protobuf"));
  // Duplicate label names name the series.
  Pb dup;
  dup.msg(1, Pb().msg(1, pb_label("__name__", "x")));
  dup.msg(
      1,
      Pb().msg(1, pb_label("__name__", "x")).msg(1, pb_label("a", "1")).msg(1, pb_label("a", "2")));
  CHECK_THAT(decode_error(snappy_compress(dup.str())),
             Catch::Contains("timeseries[1].labels: duplicate label name \"a\""));
}

TEST_CASE("publisher splits a series too large for one Kafka message", "[collector]") {
  wire::Series s;
  s.labels = Labels{{"__name__", "big"}};
  for (int i = 0; i < 100'000; ++i) s.samples.push_back({1'700'000'000'000 + i, i * 0.123456789});
  auto msgs = Publisher::messages_for(s, "metrics");
  REQUIRE(msgs.size() > 1);
  std::size_t total = 0;
  for (const auto& m : msgs) {
    CHECK(m.value.size() <= Publisher::kMaxMessageBytes);
    CHECK(m.key == msgs[0].key);
    auto b = wire::decode_metrics(m.value);
    CHECK(b.series[0].samples.front().timestamp_ms == 1'700'000'000'000 + std::int64_t(total));
    total += b.series[0].samples.size();
  }
  CHECK(total == 100'000);
}

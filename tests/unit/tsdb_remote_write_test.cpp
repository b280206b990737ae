// The tsdb's Prometheus remote-write receiver (tsdb/remote_write_receiver.h):
// what it stores and how it answers, driven through its handler with bodies
// made by the shared codec (common/remote_write.h).
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>

#include "common/metrics_registry.h"
#include "common/remote_write.h"
#include "common/snappy_codec.h"
#include "tests/unit/tsdb_test_db.h"
#include "tsdb/remote_write_receiver.h"

using namespace strata;

namespace {

http::Request post(std::string body) {
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/write";
  r.headers["content-encoding"] = "snappy";
  r.headers["content-type"] = "application/x-protobuf";
  r.body = std::move(body);
  return r;
}

wire::MetricsBatch one(Labels labels, std::vector<wire::Sample> samples) {
  wire::MetricsBatch b;
  b.series.push_back({std::move(labels), std::move(samples)});
  return b;
}

const Labels kUp{{"__name__", "up"}, {"job", "api"}};

}  // namespace

TEST_CASE("remote write receiver: samples and stale markers are stored, 204",
          "[tsdb][remote_write]") {
  tsdb::testdb::TempDb tmp;
  metrics::Registry reg;
  tsdb::RemoteWriteReceiver rw(*tmp.db, 1 << 20, reg);
  wire::MetricsBatch b = one(kUp, {{1000, 1}, {2000, 0}, {3000, wire::stale_nan()}});
  b.series.push_back({Labels{{"__name__", "load"}, {"host", "h1"}}, {{1000, 0.5}}});
  auto resp = rw.write(post(remote_write::encode(b)));
  CHECK(resp.status == 204);
  auto s = tmp.db->samples(kUp);
  REQUIRE(s.size() == 3);
  CHECK(s[0].value == 1);
  CHECK(s[1].value == 0);
  CHECK(std::bit_cast<std::uint64_t>(s[2].value) == wire::kStaleNaNBits);
  CHECK(tmp.db->samples(Labels{{"__name__", "load"}, {"host", "h1"}}).size() == 1);
  // The stale marker hides the series from an instant query after it.
  auto sel = std::vector<tsdb::LabelMatcher>{{tsdb::MatchOp::kEqual, "__name__", "up"}};
  CHECK(tmp.db->instant(sel, 2500, std::chrono::minutes(5)).size() == 1);
  CHECK(tmp.db->instant(sel, 3500, std::chrono::minutes(5)).empty());
  CHECK(reg.render().find("strata_tsdb_remote_write_requests_total 1") != std::string::npos);
}

TEST_CASE("remote write receiver: duplicates, conflicts and too-old samples answer as Prometheus",
          "[tsdb][remote_write]") {
  tsdb::testdb::TempDb tmp;
  metrics::Registry reg;
  tsdb::RemoteWriteReceiver rw(*tmp.db, 1 << 20, reg);
  REQUIRE(rw.write(post(remote_write::encode(one(kUp, {{900'000, 1}, {1'200'000, 1}})))).status ==
          204);
  // The same request again: identical samples are duplicates, not errors.
  CHECK(rw.write(post(remote_write::encode(one(kUp, {{900'000, 1}, {1'200'000, 1}})))).status ==
        204);
  CHECK(tmp.db->samples(kUp).size() == 2);
  // Another value at a stored timestamp: 400 naming the series, first write wins.
  auto conflict = rw.write(post(remote_write::encode(one(kUp, {{900'000, 7}, {1'260'000, 2}}))));
  CHECK(conflict.status == 400);
  CHECK_THAT(conflict.body, Catch::Contains("duplicate sample for timestamp") &&
                                Catch::Contains("up") && Catch::Contains("900000 ms"));
  auto s = tmp.db->samples(kUp);
  REQUIRE(s.size() == 3);  // the request's other sample is stored
  CHECK(s[0].value == 1);
  CHECK(s[2].value == 2);
  // Older than the out-of-order window (10 m) behind the series' newest.
  auto old = rw.write(post(remote_write::encode(one(kUp, {{1000, 1}}))));
  CHECK(old.status == 400);
  CHECK_THAT(old.body, Catch::Contains("out of bounds"));
  // Within the window: stored out of order.
  CHECK(rw.write(post(remote_write::encode(one(kUp, {{1'230'000, 5}})))).status == 204);
  CHECK(tmp.db->samples(kUp).size() == 4);
}

TEST_CASE("remote write receiver: bad bodies and series are refused before anything is stored",
          "[tsdb][remote_write]") {
  tsdb::testdb::TempDb tmp;
  metrics::Registry reg;
  tsdb::RemoteWriteReceiver rw(*tmp.db, 4096, reg);
  auto not_snappy = rw.write(post("definitely not snappy"));
  CHECK(not_snappy.status == 400);
  CHECK_THAT(not_snappy.body, Catch::Contains("snappy"));
  auto not_proto = rw.write(post(snappy_codec::compress("\xff\xff\xff garbage")));
  CHECK(not_proto.status == 400);
  CHECK_THAT(not_proto.body, Catch::Contains("not a valid protobuf prometheus.WriteRequest"));
  auto too_large = rw.write(post(snappy_codec::compress(std::string(10'000, 'a'))));
  CHECK(too_large.status == 413);
  CHECK_THAT(too_large.body, Catch::Contains("tsdb.http.max_body_bytes"));

  wire::MetricsBatch b = one(kUp, {{1000, 1}});
  b.series.push_back({Labels{{"__name__", "x"}, {"bad-name", "v"}}, {{1000, 1}}});
  auto bad_label = rw.write(post(remote_write::encode(b)));
  CHECK(bad_label.status == 400);
  CHECK_THAT(bad_label.body, Catch::Contains("timeseries[1]") &&
                                 Catch::Contains("invalid label name \"bad-name\""));
  auto bad_name = rw.write(post(remote_write::encode(one({{"__name__", "1up"}}, {{1000, 1}}))));
  CHECK(bad_name.status == 400);
  CHECK_THAT(bad_name.body, Catch::Contains("invalid metric name \"1up\""));
  auto no_labels = rw.write(post(remote_write::encode(one({}, {{1000, 1}}))));
  CHECK(no_labels.status == 400);
  CHECK(tmp.db->series_count() == 0);  // nothing of the refused requests
}

TEST_CASE("remote write codec: encode and decode round-trip, stale marker bits included",
          "[tsdb][remote_write]") {
  wire::MetricsBatch b = one(kUp, {{-5000, 1.5}, {0, std::nan("")}, {7, wire::stale_nan()}});
  b.series.push_back({Labels{{"a", "b"}}, {}});
  auto back = remote_write::decode(remote_write::encode(b), 1 << 20, "limit");
  REQUIRE(back.series.size() == 2);
  CHECK(back.series[0].labels == kUp);
  REQUIRE(back.series[0].samples.size() == 3);
  CHECK(back.series[0].samples[0].timestamp_ms == -5000);
  CHECK(back.series[0].samples[0].value == 1.5);
  CHECK(std::isnan(back.series[0].samples[1].value));
  CHECK(std::bit_cast<std::uint64_t>(back.series[0].samples[2].value) == wire::kStaleNaNBits);
  CHECK(back.series[1].labels == Labels{{"a", "b"}});
  CHECK_THROWS_AS(remote_write::decode(remote_write::encode(b), 10, "limit"),
                  remote_write::RemoteWriteError);
}

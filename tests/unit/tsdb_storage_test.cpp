// DB as a whole: restart from the WAL, head cuts into blocks, compaction,
// downsampling (with a counter-aware aggregate), retention, resolution
// choice, out-of-order window, and corruption found at open.
#include <catch2/catch.hpp>

#include <bit>
#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "tests/unit/tsdb_test_db.h"

using namespace strata;
using namespace strata::tsdb;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kHour = 3600'000;

Labels series_labels(int i) {
  return Labels{
      {"__name__", "node_cpu_seconds_total"}, {"cpu", std::to_string(i)}, {"job", "node"}};
}

// `hours` of 15 s samples for `n` series: counters growing by i+1 per scrape.
void fill(DB& db, int n, std::int64_t from, double hours) {
  const auto steps = static_cast<int>(hours * 240);
  for (int k = 0; k < steps; ++k)
    for (int i = 0; i < n; ++i) {
      wire::Sample s{from + k * 15'000LL, static_cast<double>((k + 1) * (i + 1))};
      REQUIRE(db.append(series_labels(i), std::span(&s, 1)).appended == 1);
    }
}

std::vector<LabelMatcher> all_cpu() {
  return {LabelMatcher(MatchOp::kEqual, "__name__", "node_cpu_seconds_total")};
}

std::size_t count_samples(const DB& db, const SelectHints& h = {0, "", 0}) {
  std::size_t n = 0;
  for (const auto& s : db.select(all_cpu(), kMinTime, kMaxTime, h)) n += s.samples().size();
  return n;
}

}  // namespace

TEST_CASE("db: every sample survives a restart through the WAL", "[tsdb][storage]") {
  testdb::TempDb t;
  fill(*t.db, 10, 0, 1);
  t.db->sync();
  auto& db = t.reopen();
  CHECK(db.open_report().wal.samples == 2400);
  CHECK(count_samples(db) == 2400);
  CHECK(db.series_count() == 10);
  // Replaying the same data again (Kafka redelivery) stores nothing twice.
  wire::Sample again{15'000, 2};
  auto r = db.append(series_labels(0), std::span(&again, 1));
  CHECK(r.duplicates == 1);
  CHECK(count_samples(db) == 2400);
}

TEST_CASE("db: the head is cut into 2h blocks at 1.5 ranges and queries span both",
          "[tsdb][storage]") {
  testdb::TempDb t;
  fill(*t.db, 5, 0, 3.5);
  t.db->maintain();
  auto blocks = t.db->blocks();
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0]->meta().min_time == 0);
  CHECK(blocks[0]->meta().max_time == 2 * kHour);
  CHECK(blocks[0]->meta().num_samples == 5 * 480);
  CHECK(t.db->head().min_valid_time() == 2 * kHour);
  CHECK(count_samples(*t.db) == 5 * 840);

  // Older than the cut: rejected as too old, not duplicated.
  wire::Sample old{kHour, 123};
  CHECK(t.db->append(series_labels(0), std::span(&old, 1)).too_old == 1);

  // After a restart: blocks load, the WAL checkpoint + segments rebuild the
  // rest of the head, nothing appears twice.
  t.db->sync();
  auto& db = t.reopen();
  CHECK(db.blocks().size() == 1);
  CHECK(count_samples(db) == 5 * 840);
  auto one = db.samples(series_labels(3));
  REQUIRE(one.size() == 840);
  for (std::size_t k = 0; k < one.size(); ++k) {
    CHECK(one[k].timestamp_ms == static_cast<std::int64_t>(k) * 15'000);
    CHECK(one[k].value == (k + 1) * 4.0);
  }
}

TEST_CASE("db: blocks in one 6h window are compacted into one", "[tsdb][storage]") {
  testdb::TempDb t;
  fill(*t.db, 3, 0, 7.5);
  t.db->maintain();
  auto blocks = t.db->blocks();
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0]->meta().min_time == 0);
  CHECK(blocks[0]->meta().max_time == 6 * kHour);
  CHECK(blocks[0]->meta().level == 2);
  CHECK(blocks[0]->meta().parents.size() == 3);
  CHECK(t.db->compactions() == 1);
  CHECK(count_samples(*t.db) == 3 * 1800);
  // Only the compacted block is left on disk.
  std::size_t dirs = 0;
  for (const auto& e : fs::directory_iterator(t.options.dir / "blocks")) dirs += e.is_directory();
  CHECK(dirs == 1);
}

TEST_CASE("db: flush cuts the whole head, later data is still accepted", "[tsdb][storage]") {
  testdb::TempDb t;
  fill(*t.db, 2, 0, 1);
  t.db->maintain(true);
  CHECK(t.db->head().series_count() == 0);
  REQUIRE(t.db->blocks().size() == 1);
  CHECK(count_samples(*t.db) == 480);
  wire::Sample next{kHour, 1e6};
  CHECK(t.db->append(series_labels(0), std::span(&next, 1)).appended == 1);
  CHECK(count_samples(*t.db) == 481);
}

TEST_CASE("db: downsampling keeps count/sum/min/max and rate-safe counters, retention drops raw",
          "[tsdb][storage]") {
  DBOptions o;
  o.downsample_5m_after_ms = 2 * kHour;
  o.retention_raw_ms = 5 * kHour;
  testdb::TempDb t(o);
  // One counter that resets in the middle of the first block.
  const auto lbl = Labels{{"__name__", "requests_total"}, {"job", "api"}};
  double v = 0;
  for (int k = 0; k < 240 * 12; ++k) {
    v = (k == 200) ? 1 : v + 10;  // reset at k = 200 (50 min)
    wire::Sample s{k * 15'000LL, v};
    t.db->append(lbl, std::span(&s, 1));
  }
  t.db->maintain();
  std::size_t five_minute = 0;
  for (const auto& b : t.db->blocks()) five_minute += b->meta().resolution == kRes5m;
  CHECK(five_minute >= 1);

  std::vector<LabelMatcher> m{LabelMatcher(MatchOp::kEqual, "__name__", "requests_total")};
  // The counter aggregate removes the reset: increase over the first 2 h
  // equals the raw increase with the reset corrected.
  auto ctr = t.db->select(m, 0, 2 * kHour - 1, SelectHints{0, "rate", kRes5m});
  REQUIRE(ctr.size() == 1);
  auto cs = ctr[0].samples();
  REQUIRE(cs.size() == 24);  // one point per 5 m window
  for (std::size_t i = 1; i < cs.size(); ++i) CHECK(cs[i].value >= cs[i - 1].value);
  // Raw: 0..199 -> 10..2000, reset to 1, then +10 each up to k = 479.
  CHECK(cs.back().value == 2000 + 1 + 10 * (479 - 200));
  CHECK(cs.back().timestamp_ms == 479 * 15'000);

  auto avg = t.db->select(m, 0, 5 * 60'000 - 1, SelectHints{0, "", kRes5m});
  REQUIRE(avg.size() == 1);
  auto as = avg[0].samples();
  REQUIRE(as.size() == 1);
  CHECK(as[0].value == Approx((10 + 200) / 2.0));  // mean of 10, 20, ..., 200
  auto mx = t.db->select(m, 0, 5 * 60'000 - 1, SelectHints{0, "max_over_time", kRes5m});
  CHECK(mx[0].samples()[0].value == 200);

  // Auto resolution: a 30 m step reads 5 m data, a 15 s step raw data.
  CHECK(pick_resolution(SelectHints{30 * 60'000, "", {}}) == kRes5m);
  CHECK(pick_resolution(SelectHints{15'000, "", {}}) == 0);
  CHECK(pick_resolution(SelectHints{6 * kHour, "", {}}) == kRes1h);

  // Retention (5 h): the newest data is at 12 h; raw blocks ending before 7 h are
  // gone, their 5 m rollups stay and still answer raw-resolution queries.
  for (const auto& b : t.db->blocks())
    if (b->meta().resolution == 0) CHECK(b->meta().max_time > 7 * kHour);
  auto fallback = t.db->select(m, 0, kHour, SelectHints{0, "", 0});
  REQUIRE(fallback.size() == 1);
  CHECK(fallback[0].samples().size() == 12);  // 5 m points where raw is gone
}

TEST_CASE("db: out-of-order window, duplicates and conflicts", "[tsdb][storage]") {
  DBOptions o;
  o.head.ooo_window_ms = 60'000;
  testdb::TempDb t(o);
  auto lbl = series_labels(0);
  std::vector<wire::Sample> in{{100'000, 1}, {200'000, 2}};
  t.db->append(lbl, in);
  std::vector<wire::Sample> late{{150'000, 1.5}, {130'000, 1.3}, {100'000, 1}, {200'000, 9}};
  auto r = t.db->append(lbl, late);
  CHECK(r.appended == 1);    // 150 s is within 60 s of 200 s
  CHECK(r.too_old == 1);     // 130 s is not
  CHECK(r.duplicates == 1);  // 100 s, same value
  CHECK(r.conflicts == 1);   // 200 s, other value
  auto s = t.db->samples(lbl);
  REQUIRE(s.size() == 3);
  CHECK(s[1].timestamp_ms == 150'000);
  // Out-of-order samples survive a restart too.
  t.db->sync();
  CHECK(t.reopen().samples(lbl).size() == 3);
}

TEST_CASE("db: a corrupt block is set aside and reported, the rest is served", "[tsdb][storage]") {
  testdb::TempDb t;
  fill(*t.db, 4, 0, 5);
  t.db->maintain();  // one block [0, 2h), head keeps the rest
  REQUIRE(t.db->blocks().size() == 1);
  auto dir = t.db->blocks()[0]->dir();
  t.db->sync();
  t.db.reset();
  {
    std::string idx = read_file(dir / "index");
    idx[idx.size() / 2] ^= 0x40;
    std::ofstream(dir / "index", std::ios::binary | std::ios::trunc) << idx;
  }
  auto& db = t.reopen();
  REQUIRE(db.open_report().corruptions.size() == 1);
  CHECK(db.open_report().corruptions[0].find((dir / "index").string()) != std::string::npos);
  CHECK(db.open_report().corruptions[0].find("offset") != std::string::npos);
  CHECK(fs::exists(dir.string() + ".corrupt"));
  CHECK(db.blocks().empty());
  CHECK(count_samples(db) == 4 * (1200 - 480));  // the head's part is still served
}

TEST_CASE("db: a second process cannot open the same directory", "[tsdb][storage]") {
  testdb::TempDb t;
  CHECK_THROWS_WITH(DB(t.options), Catch::Contains("in use by another process"));
}

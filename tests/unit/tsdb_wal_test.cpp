// WAL: round trip, torn tails, corruption reported with file and offset
// (and the rest replayed), segment rotation and checkpoints.
#include <catch2/catch.hpp>

#include <bit>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/file.h"
#include "tests/support/process.h"
#include "tsdb/wal.h"

using namespace strata;
using namespace strata::tsdb;
namespace fs = std::filesystem;

namespace {

struct Replayed {
  std::map<std::uint64_t, Labels> series;
  std::map<std::uint64_t, std::vector<wire::Sample>> samples;
};

Replayed replay(Wal& wal, WalReplayStats* stats = nullptr) {
  Replayed r;
  auto s = wal.replay([&](std::uint64_t ref, const Labels& l) { r.series[ref] = l; },
                      [&](std::uint64_t ref, std::span<const wire::Sample> s) {
                        auto& v = r.samples[ref];
                        v.insert(v.end(), s.begin(), s.end());
                      });
  if (stats) *stats = s;
  return r;
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().size() == 8) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void write_some(Wal& wal, std::uint64_t ref, std::int64_t t0, int n) {
  wal.log_series(ref, Labels{{"__name__", "m"}, {"i", std::to_string(ref)}});
  std::vector<wire::Sample> s;
  for (int i = 0; i < n; ++i) s.push_back({t0 + i * 15'000, i * 1.5});
  wal.log_samples(ref, s);
  wal.sync();
}

}  // namespace

TEST_CASE("wal: series and samples round-trip bit-exactly across a restart", "[tsdb][wal]") {
  auto dir = testing::temp_dir("wal");
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                             std::bit_cast<double>(wire::kStaleNaNBits),
                             -0.0,
                             std::numeric_limits<double>::infinity(),
                             -1e308,
                             5e-324};
  {
    Wal wal({dir});
    replay(wal);
    wal.log_series(7, Labels{{"__name__", "x"}, {"job", "a"}});
    std::vector<wire::Sample> s;
    std::int64_t t = -5'000;
    for (double v : specials) s.push_back({t += 1234567, v});
    s.push_back({std::numeric_limits<std::int64_t>::max(), 1});
    wal.log_samples(7, s);
    wal.sync();
  }
  Wal wal({dir});
  WalReplayStats st;
  auto r = replay(wal, &st);
  REQUIRE(r.series.size() == 1);
  CHECK(r.series[7] == Labels{{"__name__", "x"}, {"job", "a"}});
  REQUIRE(r.samples[7].size() == 7);
  for (std::size_t i = 0; i < 6; ++i)
    CHECK(std::bit_cast<std::uint64_t>(r.samples[7][i].value) ==
          std::bit_cast<std::uint64_t>(specials[i]));
  CHECK(r.samples[7][6].timestamp_ms == std::numeric_limits<std::int64_t>::max());
  CHECK(st.corruptions.empty());
  CHECK_FALSE(st.torn_tail);
  fs::remove_all(dir);
}

TEST_CASE("wal: a torn last record is truncated, everything before it replays", "[tsdb][wal]") {
  auto dir = testing::temp_dir("wal");
  {
    Wal wal({dir});
    replay(wal);
    write_some(wal, 1, 0, 10);
    write_some(wal, 2, 0, 10);
  }
  auto seg = segments(dir).back();
  auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 5);  // a crash mid-write
  {
    Wal wal({dir});
    WalReplayStats st;
    auto r = replay(wal, &st);
    CHECK(st.torn_tail);
    CHECK(st.corruptions.empty());
    CHECK(r.samples[1].size() == 10);
    CHECK(r.samples.count(2) == 0);        // its samples record was the torn one
    CHECK(fs::file_size(seg) < size - 5);  // repaired
  }
  // Reported once: the next start finds a clean log.
  Wal wal({dir});
  WalReplayStats st;
  replay(wal, &st);
  CHECK_FALSE(st.torn_tail);
  CHECK(st.corruptions.empty());
  fs::remove_all(dir);
}

TEST_CASE("wal: a flipped bit is reported with file and offset, later segments replay",
          "[tsdb][wal]") {
  auto dir = testing::temp_dir("wal");
  {
    Wal wal({dir, 256});  // tiny segments: one batch each
    replay(wal);
    for (std::uint64_t ref = 1; ref <= 4; ++ref) write_some(wal, ref, 0, 20);
  }
  auto segs = segments(dir);
  REQUIRE(segs.size() >= 4);
  // Flip a bit in the payload of the second segment's second record.
  std::string data = read_file(segs[1]);
  const std::size_t flip_at = data.size() - 10;
  data[flip_at] ^= 0x10;
  { std::ofstream(segs[1], std::ios::binary | std::ios::trunc) << data; }

  Wal wal({dir, 256});
  WalReplayStats st;
  auto r = replay(wal, &st);
  REQUIRE(st.corruptions.size() == 1);
  CHECK(st.corruptions[0].file == segs[1].string());
  CHECK(st.corruptions[0].offset <= flip_at);
  CHECK(st.corruptions[0].reason.find("CRC") != std::string::npos);
  CHECK(r.samples[1].size() == 20);
  CHECK(r.samples.count(2) == 0);  // the damaged record
  CHECK(r.samples[3].size() == 20);
  CHECK(r.samples[4].size() == 20);
  fs::remove_all(dir);
}

TEST_CASE("wal: a checkpoint replaces the segments it covers", "[tsdb][wal]") {
  auto dir = testing::temp_dir("wal");
  {
    Wal wal({dir});
    replay(wal);
    write_some(wal, 1, 0, 5);
    auto upto = wal.cut_segment();
    write_some(wal, 2, 100'000, 5);
    wal.write_checkpoint(upto, [](WalEncoder& e) {
      e.series(1, Labels{{"__name__", "m"}, {"i", "1"}});
      std::vector<wire::Sample> keep{{60'000, 4 * 1.5}};
      e.samples(1, keep);
    });
    for (const auto& p : segments(dir)) CHECK(p.filename().string() > "00000001");
  }
  Wal wal({dir});
  auto r = replay(wal);
  CHECK(r.samples[1].size() == 1);  // only what the checkpoint kept
  CHECK(r.samples[2].size() == 5);
  fs::remove_all(dir);
}

TEST_CASE("wal: bad fsync policy names are refused", "[tsdb][wal]") {
  CHECK(parse_fsync_policy("batch") == FsyncPolicy::kBatch);
  CHECK(parse_fsync_policy("never") == FsyncPolicy::kNever);
  CHECK_THROWS_WITH(parse_fsync_policy("always"), Catch::Contains("expected batch or never"));
}

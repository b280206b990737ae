// The log store's WAL: round trip, torn tails repaired, CRC damage reported
// with file and offset (and the other files still replayed), file rotation,
// removal of flushed files.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "logindex/wal.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::logindex;
namespace fs = std::filesystem;

namespace {

struct Replayed {
  std::vector<std::pair<Labels, wire::LogEntry>> entries;
  WalReplayStats stats;
};

Replayed replay(Wal& wal) {
  Replayed r;
  r.stats = wal.replay([&](const Labels& l, std::vector<wire::LogEntry>& es) {
    for (auto& e : es) r.entries.emplace_back(l, e);
  });
  return r;
}

std::vector<fs::path> wal_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().size() == 8) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void log_lines(Wal& wal, const Labels& l, int from, int to) {
  std::vector<std::string> lines;
  for (int i = from; i < to; ++i) lines.push_back("line number " + std::to_string(i));
  std::vector<WalEntry> es;
  for (int i = from; i < to; ++i)
    es.push_back({1'700'000'000'000'000'000 + i, lines[static_cast<std::size_t>(i - from)]});
  wal.log(l, es);
}

const Labels kApp{{"job", "app"}};

}  // namespace

TEST_CASE("log wal: entries round trip across restarts", "[logindex][wal]") {
  auto dir = fs::path(testing::temp_dir("lwal")) / "wal";
  {
    Wal wal({dir});
    CHECK(replay(wal).entries.empty());
    log_lines(wal, kApp, 0, 10);
    log_lines(wal, Labels{{"job", "db"}, {"pod", "p-1"}}, 10, 12);
    // Negative and out-of-order timestamps survive the delta encoding.
    std::vector<WalEntry> odd{{-5, "neg"}, {9'000'000'000'000'000'000, "big"}, {3, ""}};
    wal.log(kApp, odd);
    wal.sync();
    CHECK(wal.syncs() == 1);
  }
  Wal wal({dir});
  auto r = replay(wal);
  REQUIRE(r.entries.size() == 15);
  CHECK(r.stats.entries == 15);
  CHECK_FALSE(r.stats.torn_tail);
  CHECK(r.stats.corruptions.empty());
  CHECK(r.entries[0].second.line == "line number 0");
  CHECK(r.entries[0].second.timestamp_ns == 1'700'000'000'000'000'000);
  CHECK(r.entries[10].first == (Labels{{"job", "db"}, {"pod", "p-1"}}));
  CHECK(r.entries[12].second.timestamp_ns == -5);
  CHECK(r.entries[13].second.timestamp_ns == 9'000'000'000'000'000'000);
  CHECK(r.entries[14].second.line.empty());
  fs::remove_all(dir.parent_path());
}

TEST_CASE("log wal: a torn tail is truncated and everything before it kept", "[logindex][wal]") {
  auto dir = fs::path(testing::temp_dir("lwal")) / "wal";
  {
    Wal wal({dir});
    replay(wal);
    log_lines(wal, kApp, 0, 5);
    wal.sync();
    log_lines(wal, kApp, 5, 6);
    wal.sync();
  }
  auto files = wal_files(dir);
  REQUIRE(files.size() == 1);
  auto full = fs::file_size(files[0]);
  // Cut into the last record: a crash in the middle of write().
  fs::resize_file(files[0], full - 7);
  {
    Wal wal({dir});
    auto r = replay(wal);
    CHECK(r.entries.size() == 5);
    CHECK(r.stats.torn_tail);
    CHECK(r.stats.corruptions.empty());
    CHECK(fs::file_size(files[0]) < full - 7);  // repaired
  }
  // A file cut inside its header (a crash right after creating it) holds
  // nothing and is dropped without a corruption report.
  {
    std::ofstream(dir / "00000009", std::ios::binary) << "LW";
    Wal wal({dir});
    auto r = replay(wal);
    CHECK(r.entries.size() == 5);
    CHECK(r.stats.corruptions.empty());
    CHECK_FALSE(fs::exists(dir / "00000009"));
  }
  fs::remove_all(dir.parent_path());
}

TEST_CASE("log wal: a CRC mismatch is reported with file and offset, other files replay",
          "[logindex][wal]") {
  auto dir = fs::path(testing::temp_dir("lwal")) / "wal";
  {
    Wal wal({dir});
    replay(wal);
    log_lines(wal, kApp, 0, 3);
    wal.cut();  // file 1 closed, file 2 open
    log_lines(wal, kApp, 3, 6);
    wal.sync();
  }
  auto files = wal_files(dir);
  REQUIRE(files.size() == 2);
  {
    // Flip a byte inside the first record's payload of file 1.
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(kWalFileHeader + kWalRecordHeader + 6));
    char c;
    f.seekg(f.tellp());
    f.get(c);
    f.seekp(static_cast<std::streamoff>(kWalFileHeader + kWalRecordHeader + 6));
    f.put(static_cast<char>(c ^ 0x20));
  }
  Wal wal({dir});
  auto r = replay(wal);
  REQUIRE(r.stats.corruptions.size() == 1);
  CHECK(r.stats.corruptions[0].file == files[0].string());
  CHECK(r.stats.corruptions[0].offset == kWalFileHeader);
  CHECK(r.stats.corruptions[0].reason == "CRC mismatch");
  CHECK(r.stats.corruptions[0].to_string().find(files[0].string() + " at offset 8") == 0);
  // File 1 held one record (lines 0..2); file 2 still replays.
  REQUIRE(r.entries.size() == 3);
  CHECK(r.entries[0].second.line == "line number 3");
  fs::remove_all(dir.parent_path());
}

TEST_CASE("log wal: files rotate at the size limit, remove_upto drops flushed ones",
          "[logindex][wal]") {
  auto dir = fs::path(testing::temp_dir("lwal")) / "wal";
  {
    Wal wal({dir, 1024});
    replay(wal);
    for (int i = 0; i < 40; ++i) {
      log_lines(wal, kApp, i * 10, i * 10 + 10);
      wal.sync();
    }
    CHECK(wal_files(dir).size() > 3);
    auto upto = wal.cut();
    log_lines(wal, kApp, 1000, 1001);
    wal.sync();
    wal.remove_upto(upto);
    CHECK(wal_files(dir).size() == 1);
  }
  Wal wal({dir});
  auto r = replay(wal);
  REQUIRE(r.entries.size() == 1);
  CHECK(r.entries[0].second.line == "line number 1000");
  fs::remove_all(dir.parent_path());
}

TEST_CASE("log wal: a file of another format version is refused, not misread", "[logindex][wal]") {
  auto dir = fs::path(testing::temp_dir("lwal")) / "wal";
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "00000001", std::ios::binary);
    f.write("LWAL\x02\x00\x00\x00", 8);
    f.write("garbage!garbage!", 16);
  }
  Wal wal({dir});
  auto r = replay(wal);
  CHECK(r.entries.empty());
  REQUIRE(r.stats.corruptions.size() == 1);
  CHECK(r.stats.corruptions[0].reason.find("unsupported WAL format version 2") !=
        std::string::npos);
  fs::remove_all(dir.parent_path());
}

// The log store: WAL + head + segments. Flush, reopen (WAL replay),
// deduplication across every part and across crashes, merge (and its crash
// repair), retention by age and by size, damaged segments quarantined while
// the rest answers, and readers running during writes and maintenance.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "logindex/log_store.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::logindex;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const Labels kApp{{"job", "app"}};
const Labels kDb{{"job", "db"}};

LogStoreOptions options(const fs::path& dir) {
  LogStoreOptions o;
  o.dir = dir;
  o.fsync = false;  // tmpfs or not, the tests do not need power-loss safety
  o.maintenance_interval = 0ms;
  o.retention_age = 0ms;
  o.segment.block_bytes = 2048;
  return o;
}

SearchQuery words(std::string q, std::size_t limit = 1000) {
  SearchQuery s;
  s.words.push_back(std::move(q));
  s.limit = limit;
  return s;
}

std::vector<std::string> lines(const SearchResult& r) {
  std::vector<std::string> out;
  for (const auto& h : r.hits) out.push_back(h.line);
  return out;
}

// Appends lines "event <i> of <tag>" for i in [from, to), ts = i seconds.
AddResult add_range(LogStore& s, const Labels& l, int from, int to, const std::string& tag = "x") {
  std::vector<wire::LogEntry> es;
  for (int i = from; i < to; ++i)
    es.push_back(
        {std::int64_t{i} * 1'000'000'000, "event " + std::to_string(i) + " of " + tag, {}});
  return s.append(l, es);
}

std::size_t count_files(const fs::path& dir, const std::string& suffix) {
  std::size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().ends_with(suffix)) ++n;
  return n;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir / "segments"))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void flip_byte(const fs::path& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x01));
}

}  // namespace

TEST_CASE("store: flush writes a segment, searches span head and segments", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  LogStore s(options(dir));
  CHECK_FALSE(s.flush_head());  // empty head: nothing to write
  CHECK(add_range(s, kApp, 0, 100).added == 100);
  s.sync();
  CHECK(s.flush_head());
  CHECK(add_range(s, kDb, 100, 150).added == 50);
  auto st = s.stats();
  CHECK(st.segments == 1);
  CHECK(st.segment_entries == 100);
  CHECK(st.head_entries == 50);
  CHECK(s.entry_count() == 150);
  CHECK(s.parts().size() == 2);

  auto r = s.search(words("event", 3));
  CHECK(r.matched == 150);
  CHECK(lines(r) == std::vector<std::string>{"event 149 of x", "event 148 of x", "event 147 of x"});
  auto q = words("event");
  q.start_ns = 95'000'000'000;
  q.end_ns = 104'000'000'000;
  CHECK(s.search(q).matched == 10);
  q.stream_equals = {{"job", "app"}};
  CHECK(lines(s.search(q)) == std::vector<std::string>{"event 99 of x", "event 98 of x",
                                                       "event 97 of x", "event 96 of x",
                                                       "event 95 of x"});
  CHECK(s.search(words("42")).hits.at(0).stream == kApp);
  // The flushed WAL files are gone: only the current one remains.
  CHECK(count_files(dir / "wal", "") == 1);
  fs::remove_all(dir);
}

TEST_CASE("store: reopen replays the WAL into the head and keeps segments", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  {
    auto o = options(dir);
    o.fsync = true;
    LogStore s(o);
    add_range(s, kApp, 0, 40);
    s.flush_head();
    add_range(s, kApp, 40, 70);
    s.sync();
    CHECK(s.stats().wal_syncs >= 1);
  }  // no flush: lines 40..69 live only in the WAL
  LogStore s(options(dir));
  auto st = s.stats();
  CHECK(st.segments == 1);
  CHECK(st.segment_entries == 40);
  CHECK(st.head_entries == 30);
  CHECK(st.wal_replayed_entries == 30);
  CHECK(s.search(words("event")).matched == 70);
  CHECK(s.search(words("69")).matched == 1);
  fs::remove_all(dir);
}

TEST_CASE("store: identical entries are stored once across head, segments and restarts",
          "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  {
    LogStore s(options(dir));
    CHECK(add_range(s, kApp, 0, 50).added == 50);
    s.flush_head();
    // A Kafka replay of everything: all in the segment now.
    auto again = add_range(s, kApp, 0, 60);
    CHECK(again.added == 10);
    CHECK(again.duplicates == 50);
    // Other stream, same lines: new.
    CHECK(add_range(s, kDb, 0, 5).added == 5);
    // Duplicates inside one batch and against the head.
    CHECK(add_range(s, kDb, 0, 5).duplicates == 5);
    s.sync();
  }
  LogStore s(options(dir));
  CHECK(add_range(s, kApp, 0, 60).duplicates == 60);
  CHECK(s.entry_count() == 65);
  CHECK(s.search(words("event")).matched == 65);
  fs::remove_all(dir);
}

TEST_CASE("store: a crash between writing a segment and deleting its WAL duplicates nothing",
          "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto saved = fs::path(testing::temp_dir("lstore-wal"));
  {
    LogStore s(options(dir));
    add_range(s, kApp, 0, 80);
    s.sync();
    // What the WAL held before the flush deleted it.
    fs::copy(dir / "wal", saved,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    s.flush_head();
  }
  // Put the flushed WAL files back, as if the crash came before the delete.
  for (const auto& e : fs::directory_iterator(saved))
    fs::copy_file(e.path(), dir / "wal" / e.path().filename(),
                  fs::copy_options::overwrite_existing);
  LogStore s(options(dir));
  auto st = s.stats();
  CHECK(st.wal_replayed_entries == 80);
  CHECK(st.head_entries == 0);  // every replayed entry was found in the segment
  CHECK(s.search(words("event")).matched == 80);
  fs::remove_all(dir);
  fs::remove_all(saved);
}

TEST_CASE("store: the head is flushed by size and by age", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  {
    auto o = options(dir);
    o.head_max_bytes = 20'000;
    o.head_max_age = 1h;
    LogStore s(o);
    add_range(s, kApp, 0, 10);
    s.maintain();
    CHECK(s.stats().segments == 0);  // small and young
    add_range(s, kApp, 10, 400);
    s.maintain();
    CHECK(s.stats().segments == 1);
    CHECK(s.stats().head_entries == 0);
  }
  fs::remove_all(dir);
  {
    auto o = options(dir);
    o.head_max_age = 50ms;
    LogStore s(o);
    add_range(s, kApp, 0, 10);
    std::this_thread::sleep_for(60ms);
    s.maintain();
    CHECK(s.stats().segments == 1);
    CHECK(s.stats().flushes == 1);
  }
  fs::remove_all(dir);
}

TEST_CASE("store: the maintenance thread flushes on its own", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto o = options(dir);
  o.head_max_age = 10ms;
  o.maintenance_interval = 20ms;
  LogStore s(o);
  add_range(s, kApp, 0, 10);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.stats().segments == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(s.stats().segments == 1);
  CHECK(s.search(words("event")).matched == 10);
  fs::remove_all(dir);
}

TEST_CASE("store: small segments are merged into one, answers unchanged", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto o = options(dir);
  o.merge_min_segments = 3;
  {
    LogStore s(o);
    // Four flushes with overlapping times and two streams.
    for (int k = 0; k < 4; ++k) {
      add_range(s, kApp, k * 25, k * 25 + 30, "app");
      add_range(s, kDb, k * 10, k * 10 + 5, "db" + std::to_string(k));
      s.flush_head();
    }
    REQUIRE(s.stats().segments == 4);
    auto before = s.search(words("event", 1000));
    CHECK(s.merge_segments() == 4);
    auto st = s.stats();
    CHECK(st.segments == 1);
    CHECK(st.merges == 1);
    CHECK(st.segment_entries == before.matched);
    CHECK(segment_files(dir).size() == 1);
    auto after = s.search(words("event", 1000));
    CHECK(after.matched == before.matched);
    CHECK(lines(after) == lines(before));
    auto q = words("event");
    q.stream_equals = {{"job", "db"}};
    CHECK(s.search(q).matched == 20);
    CHECK(s.merge_segments() == 0);  // one segment: nothing to do
    // Still deduplicates against the merged segment.
    CHECK(add_range(s, kApp, 0, 30, "app").duplicates == 30);
  }
  LogStore s(o);
  CHECK(s.stats().segments == 1);
  CHECK(s.search(words("event")).matched == 4 * 5 + 105);
  fs::remove_all(dir);
}

TEST_CASE("store: a crash after a merge, before its inputs were deleted, is repaired on open",
          "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto saved = fs::path(testing::temp_dir("lstore-seg"));
  auto o = options(dir);
  o.merge_min_segments = 2;
  {
    LogStore s(o);
    add_range(s, kApp, 0, 50);
    s.flush_head();
    add_range(s, kApp, 50, 100);
    s.flush_head();
    for (const auto& p : segment_files(dir)) fs::copy_file(p, saved / p.filename());
    CHECK(s.merge_segments() == 2);
  }
  for (const auto& e : fs::directory_iterator(saved))
    fs::copy_file(e.path(), dir / "segments" / e.path().filename());
  std::ofstream(dir / "segments" / "00000099.seg.tmp") << "half a segment";
  REQUIRE(segment_files(dir).size() == 3);
  LogStore s(o);
  CHECK(s.stats().segments == 1);
  CHECK(segment_files(dir).size() == 1);
  CHECK_FALSE(fs::exists(dir / "segments" / "00000099.seg.tmp"));
  CHECK(s.search(words("event")).matched == 100);
  fs::remove_all(dir);
  fs::remove_all(saved);
}

TEST_CASE("store: retention deletes whole segments by age", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto o = options(dir);
  o.retention_age = 100s;  // relative to the newest stored line
  o.merge_min_segments = 100;
  LogStore s(o);
  add_range(s, kApp, 0, 50);  // 0..49 s
  s.flush_head();
  add_range(s, kApp, 100, 150);  // 100..149 s
  s.flush_head();
  CHECK(s.apply_retention() == 0);  // newest 149 s: the first ends at 49 s, 100 s before
  add_range(s, kApp, 150, 160);     // the head moves "now" to 159 s
  CHECK(s.apply_retention() == 1);
  auto st = s.stats();
  CHECK(st.segments == 1);
  CHECK(st.retention_deleted == 1);
  CHECK(s.search(words("event")).matched == 60);
  CHECK(s.search(words("event", 1)).hits.at(0).line == "event 159 of x");
  CHECK(segment_files(dir).size() == 1);
  fs::remove_all(dir);
}

TEST_CASE("store: retention deletes the oldest segments beyond the size limit",
          "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto o = options(dir);
  o.merge_min_segments = 100;
  std::uint64_t total = 0;
  {
    LogStore s(o);
    for (int k = 0; k < 5; ++k) {
      add_range(s, kApp, k * 100, k * 100 + 100);
      s.flush_head();
    }
    total = s.stats().segment_bytes;
    CHECK(s.apply_retention() == 0);  // no limits set
  }
  const auto one = total / 5;
  o.retention_max_bytes = total - one - one / 2;  // room for about 3.5 segments
  LogStore s(o);
  CHECK(s.apply_retention() == 2);
  CHECK(s.stats().segments == 3);
  CHECK(s.stats().segment_bytes <= o.retention_max_bytes);
  // The newest data stayed.
  CHECK(s.search(words("event")).matched == 300);
  CHECK(s.search(words("499")).matched == 1);
  CHECK(s.search(words("199")).matched == 0);
  fs::remove_all(dir);
}

TEST_CASE("store: a damaged segment is named and quarantined, the others answer",
          "[logindex][store][corruption]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto o = options(dir);
  o.merge_min_segments = 100;
  {
    LogStore s(o);
    for (int k = 0; k < 3; ++k) {
      add_range(s, kApp, k * 100, k * 100 + 100, "seg" + std::to_string(k));
      s.flush_head();
    }
  }
  auto files = segment_files(dir);
  REQUIRE(files.size() == 3);
  flip_byte(files[1], fs::file_size(files[1]) / 3);  // any section: its CRC catches it

  LogStore s(o);
  auto st = s.stats();
  CHECK(st.corrupt_segments == 1);
  CHECK(st.segments == 2);
  CHECK(fs::exists(fs::path(files[1].string() + ".corrupt")));
  CHECK_FALSE(fs::exists(files[1]));
  CHECK(s.search(words("seg0")).matched == 100);
  CHECK(s.search(words("seg1")).matched == 0);
  CHECK(s.search(words("seg2")).matched == 100);
  CHECK(s.search(words("event")).matched == 200);

  // Damage that appears while the segment is open (the disk under the
  // mapping): found by the read that meets it, left out, quarantined.
  auto files2 = segment_files(dir);
  REQUIRE(files2.size() == 2);
  flip_byte(files2[1], 40);  // the first line block of the newest segment
  auto r = s.search(words("event", 1000));
  CHECK(s.stats().corrupt_segments == 2);
  CHECK(r.matched >= 100);  // seg0 still answers
  CHECK(s.search(words("seg0")).matched == 100);
  s.maintain();
  CHECK(s.stats().segments == 1);
  CHECK(fs::exists(fs::path(files2[1].string() + ".corrupt")));
  fs::remove_all(dir);
}

TEST_CASE("store: one process per data directory", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  LogStore s(options(dir));
  try {
    LogStore other(options(dir));
    FAIL("a second store opened the same directory");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(dir.string()) != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("store: searches run during appends, flushes and merges", "[logindex][store]") {
  auto dir = fs::path(testing::temp_dir("lstore"));
  auto o = options(dir);
  o.merge_min_segments = 3;
  LogStore s(o);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};  // Catch2 assertions are not thread-safe
  std::thread reader([&] {
    std::size_t last = 0;
    while (!done) {
      auto r = s.search(words("event", 5));
      if (r.matched < last) ++bad;  // the store only grows
      last = r.matched;
      for (std::size_t i = 1; i < r.hits.size(); ++i)
        if (r.hits[i - 1].timestamp_ns < r.hits[i].timestamp_ns) ++bad;
    }
  });
  for (int k = 0; k < 12; ++k) {
    add_range(s, k % 2 ? kApp : kDb, k * 50, k * 50 + 50);
    s.sync();
    if (k % 2) s.flush_head();
    if (k % 4 == 3) s.merge_segments();
  }
  done = true;
  reader.join();
  CHECK(bad == 0);
  CHECK(s.search(words("event")).matched == 600);
  fs::remove_all(dir);
}

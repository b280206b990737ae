#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "agent/file_tailer.h"
#include "agent_test_util.h"

using namespace strata::agent;
using strata::agent::testing::append_file;
using strata::agent::testing::TempDir;
using strata::agent::testing::write_file;

namespace {

std::vector<std::string> lines(const std::vector<TailEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.line);
  return out;
}

TailerOptions opts(std::vector<std::string> patterns) {
  TailerOptions o;
  o.patterns = std::move(patterns);
  o.rescan_interval = std::chrono::milliseconds(0);  // re-expand globs on every poll
  return o;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("tailer: existing file is read from its end, appends line by line",
          "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "old 1\nold 2\n");
  FileTailer t(opts({log}));
  t.start();
  CHECK(t.open_files() == 1);
  CHECK(t.poll().empty());

  append_file(log, "new 1\nnew 2\n");
  auto got = t.poll();
  CHECK(lines(got) == V{"new 1", "new 2"});
  REQUIRE(got.size() == 2);
  CHECK(got[0].path == log);
  CHECK_FALSE(got[0].truncated);
  CHECK(got[0].timestamp_ns > 0);
  CHECK(t.poll().empty());

  append_file(log, "\nafter empty\n");
  CHECK(lines(t.poll()) == V{"", "after empty"});
}

TEST_CASE("tailer: a partial line waits for its newline", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  FileTailer t(opts({log}));
  t.start();
  append_file(log, "hel");
  CHECK(t.poll().empty());
  append_file(log, "lo wor");
  CHECK(t.poll().empty());
  append_file(log, "ld\nnext");
  CHECK(lines(t.poll()) == V{"hello world"});
  append_file(log, "\n");
  CHECK(lines(t.poll()) == V{"next"});

  // Checkpoint seam: the position excludes the pending partial line.
  append_file(log, "partial");
  CHECK(t.poll().empty());
  auto pos = t.positions();
  REQUIRE(pos.size() == 1);
  CHECK(pos[0].path == log);
  CHECK(pos[0].offset == std::string("hello world\nnext\n").size());
  CHECK(pos[0].head_length == pos[0].offset);
}

TEST_CASE("tailer: a file created after start is read from the beginning", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "later.log";
  FileTailer t(opts({log}));
  t.start();
  CHECK(t.open_files() == 0);
  CHECK(t.poll().empty());
  write_file(log, "first\nsecond\n");
  CHECK(lines(t.poll()) == V{"first", "second"});
  CHECK(t.open_files() == 1);
}

TEST_CASE("tailer: rotation by rename and re-create", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "before start\n");
  FileTailer t(opts({log}));
  t.start();
  append_file(log, "a1\n");
  CHECK(lines(t.poll()) == V{"a1"});

  // The writer appends a last line and a partial one, then logrotate renames.
  append_file(log, "a2\na3-partial");
  std::filesystem::rename(log, dir / "app.log.1");
  write_file(log, "b1\nb2\n");
  // Old file finished first, then the new one from offset 0.
  CHECK(lines(t.poll()) == V{"a2", "b1", "b2"});
  CHECK(t.open_files() == 2);  // the old file is drained for one more poll

  // A late write to the renamed file (writer not yet reopened) is not lost.
  append_file(dir / "app.log.1", "-done\n");
  CHECK(lines(t.poll()) == V{"a3-partial-done"});
  CHECK(t.poll().empty());  // idle: the old file is closed now
  CHECK(t.open_files() == 1);

  append_file(log, "b3\n");
  CHECK(lines(t.poll()) == V{"b3"});
}

TEST_CASE("tailer: rotated file still matched by the glob is not read twice",
          "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  FileTailer t(opts({dir / "app.log*"}));
  t.start();
  append_file(log, "x1\nx2\n");
  CHECK(lines(t.poll()) == V{"x1", "x2"});
  std::filesystem::rename(log, dir / "app.log.1");
  write_file(log, "y1\n");
  std::vector<std::string> all;
  for (int i = 0; i < 5; ++i)
    for (auto& l : lines(t.poll())) all.push_back(l);
  CHECK(all == V{"y1"});
  // app.log.1 is resumed where it was left, not re-read from 0.
  append_file(dir / "app.log.1", "x3\n");
  CHECK(lines(t.poll()) == V{"x3"});
  CHECK(t.open_files() == 2);
}

TEST_CASE("tailer: deleted file, then re-created", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  FileTailer t(opts({log}));
  t.start();
  append_file(log, "one\n");
  std::filesystem::remove(log);
  CHECK(lines(t.poll()) == V{"one"});  // read from the open descriptor
  CHECK(t.poll().empty());
  CHECK(t.open_files() == 0);
  write_file(log, "two\n");
  CHECK(lines(t.poll()) == V{"two"});
}

TEST_CASE("tailer: truncation in place restarts at 0", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  FileTailer t(opts({log}));
  t.start();
  append_file(log, "a long first line\nsecond line\n");
  CHECK(lines(t.poll()) == V{"a long first line", "second line"});
  // copytruncate: same inode, emptied, then written again (shorter).
  { std::ofstream trunc(log, std::ios::trunc); }
  append_file(log, "fresh\n");
  CHECK(lines(t.poll()) == V{"fresh"});
  append_file(log, "more\n");
  CHECK(lines(t.poll()) == V{"more"});
}

TEST_CASE("tailer: long lines are truncated, the rest discarded", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  TailerOptions o = opts({log});
  o.max_line_bytes = 10;
  FileTailer t(o);
  t.start();

  SECTION("complete long line") {
    append_file(log, "0123456789ABCDEF\nshort\n0123456789\n");
    auto got = t.poll();
    CHECK(lines(got) == V{"0123456789", "short", "0123456789"});
    REQUIRE(got.size() == 3);
    CHECK(got[0].truncated);
    CHECK_FALSE(got[1].truncated);
    CHECK_FALSE(got[2].truncated);  // exactly max_line_bytes is not truncated
  }
  SECTION("partial line exceeding the limit is flushed without waiting") {
    append_file(log, "0123456789");
    CHECK(t.poll().empty());  // exactly at the limit: still waits
    append_file(log, "AB");
    auto got = t.poll();
    CHECK(lines(got) == V{"0123456789"});
    REQUIRE(got.size() == 1);
    CHECK(got[0].truncated);
    append_file(log, std::string(100000, 'z'));  // more of the same line: dropped
    CHECK(t.poll().empty());
    append_file(log, "zz\nok\n");
    CHECK(lines(t.poll()) == V{"ok"});
  }
  SECTION("the cut does not split a UTF-8 character") {
    append_file(log, "12345678\xc3\xa9xyz\n");  // e-acute at bytes 8-9, limit 10
    CHECK(lines(t.poll()) == V{"12345678\xc3\xa9"});
    append_file(log, "123456789\xc3\xa9xyz\n");  // e-acute at bytes 9-10
    auto got = t.poll();
    CHECK(lines(got) == V{"123456789"});
    REQUIRE(got.size() == 1);
    CHECK(got[0].truncated);
  }
}

TEST_CASE("tailer: glob patterns pick up new files from the beginning", "[unit][agent][tail]") {
  TempDir dir;
  write_file(dir / "a.log", "a-old\n");
  write_file(dir / "notes.txt", "ignored\n");
  std::filesystem::create_directories(dir / "sub.log");  // a directory matching the glob
  TailerOptions o = opts({dir / "*.log"});
  o.rescan_interval = std::chrono::milliseconds(100);
  FileTailer t(o);
  t.start();
  CHECK(t.open_files() == 1);
  append_file(dir / "a.log", "a-new\n");
  write_file(dir / "b.log", "b-1\nb-2\n");
  write_file(dir / "c.txt", "not matched\n");
  // Not yet re-expanded (rescan interval), but a.log is followed.
  CHECK(lines(t.poll()) == V{"a-new"});
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto got = t.poll();
  CHECK(lines(got) == V{"b-1", "b-2"});
  REQUIRE(got.size() == 2);
  CHECK(got[0].path == dir / "b.log");
  CHECK(t.open_files() == 2);
}

TEST_CASE("tailer: large backlog is read in bounded slices", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "big.log";
  TailerOptions o = opts({log});
  o.max_read_bytes_per_poll = 1000;
  FileTailer t(o);
  t.start();
  std::string content;
  for (int i = 0; i < 500; ++i) content += "line " + std::to_string(i) + "\n";
  write_file(log, content);
  std::vector<std::string> all;
  int polls = 0;
  while (all.size() < 500 && polls < 100) {
    for (auto& l : lines(t.poll())) all.push_back(l);
    ++polls;
  }
  REQUIRE(all.size() == 500);
  CHECK(polls > 3);
  CHECK(all[0] == "line 0");
  CHECK(all[499] == "line 499");
}

TEST_CASE("tailer: resume positions (checkpoint seam)", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  std::vector<FilePosition> saved;
  {
    FileTailer t(opts({log}));
    t.start();
    append_file(log, "shipped 1\nshipped 2\n");
    CHECK(lines(t.poll()) == V{"shipped 1", "shipped 2"});
    saved = t.positions();
  }
  append_file(log, "while down 1\nwhile down 2\n");

  SECTION("same file: resumes where it was left") {
    TailerOptions o = opts({log});
    o.resume = saved;
    FileTailer t(o);
    t.start();
    CHECK(lines(t.poll()) == V{"while down 1", "while down 2"});
  }
  SECTION("inode reused by other content: not resumed, read from the end") {
    TailerOptions o = opts({log});
    o.resume = saved;
    // Same inode, different head: rewrite in place.
    write_file(log, "SOMETHING ELSE ENTIRELY\nwith more lines than before\n");
    FileTailer t(o);
    t.start();
    CHECK(t.poll().empty());
  }
  SECTION("no positions: read from the end") {
    FileTailer t(opts({log}));
    t.start();
    CHECK(t.poll().empty());
  }
}

TEST_CASE("tailer: entries carry their identity and offsets (for checkpoints)",
          "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  FileTailer t(opts({log}));
  t.start();
  append_file(log, "ab\ncde\nxy");
  auto e = t.poll();
  REQUIRE(e.size() == 2);
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  CHECK(e[0].device == static_cast<std::uint64_t>(st.st_dev));
  CHECK(e[0].inode == static_cast<std::uint64_t>(st.st_ino));
  CHECK(e[0].offset == 0);
  CHECK(e[0].end_offset == 3);
  CHECK(e[1].offset == 3);
  CHECK(e[1].end_offset == 7);
  append_file(log, "z\n");
  e = t.poll();
  REQUIRE(e.size() == 1);
  CHECK(e[0].line == "xyz");
  CHECK(e[0].offset == 7);
  CHECK(e[0].end_offset == 11);
}

TEST_CASE("tailer: a backlog beyond one poll's budget is reported", "[unit][agent][tail]") {
  TempDir dir;
  std::string log = dir / "app.log";
  write_file(log, "");
  TailerOptions o = opts({log});
  o.max_read_bytes_per_poll = 64;
  FileTailer t(o);
  t.start();
  std::string text;
  for (int i = 0; i < 20; ++i) text += "line " + std::to_string(i + 10) + "\n";  // 160 bytes
  append_file(log, text);
  std::size_t n = 0;
  int polls = 0;
  do {
    n += t.poll().size();
    ++polls;
  } while (t.backlog() && polls < 100);
  CHECK(n == 20);
  CHECK(polls == 3);  // 64 + 64 + 32 bytes
  CHECK_FALSE(t.backlog());
}

TEST_CASE("tailer: after a restart with checkpoints, files they do not know are read whole",
          "[unit][agent][tail]") {
  TempDir dir;
  std::string known = dir / "known.log", unknown = dir / "unknown.log";
  write_file(known, "old 1\n");
  std::vector<FilePosition> saved;
  {
    FileTailer t(opts({known}));
    t.start();
    saved = t.positions();
  }
  append_file(known, "while down\n");
  write_file(unknown, "created while down 1\ncreated while down 2\n");
  TailerOptions o = opts({dir / "*.log"});
  o.resume = saved;
  o.unknown_files_from_start = true;
  FileTailer t(o);
  t.start();
  auto got = lines(t.poll());
  std::sort(got.begin(), got.end());
  CHECK(got == V{"created while down 1", "created while down 2", "while down"});
  // Closed (rotated away) files stay in positions() for the next checkpoint.
  std::filesystem::remove(unknown);
  t.poll();
  t.poll();
  CHECK(t.positions().size() == 2);
}

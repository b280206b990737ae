// The in-memory inverted index: AND search, filters, ordering, limits,
// deduplication of replays, concurrency -- and real log lines (loghub
// excerpts) checked against a brute-force scan.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "logindex/memory_index.h"
#include "logindex/tokenizer.h"

using namespace strata;
using namespace strata::logindex;

namespace {

const Labels kApp{{"job", "app"}, {"host", "h1"}};
const Labels kDb{{"job", "db"}, {"host", "h1"}};

SearchQuery words(std::string q, std::size_t limit = 100) {
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

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("index: AND of terms, case-insensitive", "[logindex][index]") {
  MemoryIndex idx;
  idx.add(kApp, 1, "User alice logged in");
  idx.add(kApp, 2, "user bob logged out");
  idx.add(kApp, 3, "disk full on /dev/sda1");
  CHECK(lines(idx.search(words("user"))) ==
        std::vector<std::string>{"user bob logged out", "User alice logged in"});
  CHECK(lines(idx.search(words("LOGGED alice"))) ==
        std::vector<std::string>{"User alice logged in"});
  CHECK(idx.search(words("alice bob")).matched == 0);
  CHECK(idx.search(words("nothing")).hits.empty());
  CHECK(lines(idx.search(words("/dev/sda1"))) ==
        std::vector<std::string>{"disk full on /dev/sda1"});
  CHECK(idx.entry_count() == 3);
  CHECK(idx.stream_count() == 1);
}

TEST_CASE("index: identical (stream, ts, line) is stored once", "[logindex][index]") {
  MemoryIndex idx;
  CHECK(idx.add(kApp, 10, "hello world").added == 1);
  auto again = idx.add(kApp, 10, "hello world");
  CHECK(again.added == 0);
  CHECK(again.duplicates == 1);
  // Any difference makes it a new entry.
  CHECK(idx.add(kApp, 11, "hello world").added == 1);
  CHECK(idx.add(kDb, 10, "hello world").added == 1);
  CHECK(idx.add(kApp, 10, "hello world!").added == 1);
  CHECK(idx.search(words("hello")).matched == 4);
  // Duplicates inside one batch too.
  std::vector<wire::LogEntry> batch{{20, "x y", {}}, {20, "x y", {}}, {21, "x y", {}}};
  auto r = idx.add(kApp, batch);
  CHECK(r.added == 2);
  CHECK(r.duplicates == 1);
  CHECK(idx.entry_count() == 6);
}

TEST_CASE("index: newest first, limit, matched counts everything", "[logindex][index]") {
  MemoryIndex idx;
  // Added out of timestamp order.
  for (std::int64_t ts : {5, 1, 9, 3, 7, 2, 8, 4, 6, 10})
    idx.add(kApp, ts * 1'000'000'000, "tick " + std::to_string(ts));
  auto r = idx.search(words("tick", 3));
  CHECK(r.matched == 10);
  CHECK(lines(r) == std::vector<std::string>{"tick 10", "tick 9", "tick 8"});
  CHECK(r.hits[0].timestamp_ns == 10'000'000'000);
  CHECK(r.hits[0].stream == kApp);
  CHECK(idx.search(words("tick", 100)).hits.size() == 10);
  CHECK(idx.search(words("tick", 0)).hits.empty());
  // Equal timestamps: the one indexed last comes first.
  idx.add(kDb, 10'000'000'000, "tick later");
  CHECK(idx.search(words("tick", 1)).hits[0].line == "tick later");
}

TEST_CASE("index: time range is inclusive, stream labels filter", "[logindex][index]") {
  MemoryIndex idx;
  for (int i = 1; i <= 5; ++i) {
    idx.add(kApp, i, "event app " + std::to_string(i));
    idx.add(kDb, i, "event db " + std::to_string(i));
  }
  auto q = words("event");
  q.start_ns = 2;
  q.end_ns = 4;
  CHECK(idx.search(q).matched == 6);
  q.stream_equals = {{"job", "db"}};
  CHECK(lines(idx.search(q)) == std::vector<std::string>{"event db 4", "event db 3", "event db 2"});
  q.stream_equals = {{"job", "db"}, {"host", "h1"}};
  CHECK(idx.search(q).matched == 3);
  q.stream_equals = {{"job", "db"}, {"host", "h2"}};
  CHECK(idx.search(q).matched == 0);
  q.stream_equals = {{"region", ""}};  // absent label == ""
  CHECK(idx.search(q).matched == 6);
  // No terms: every entry passing the filters.
  SearchQuery all;
  all.stream_equals = {{"job", "app"}};
  CHECK(idx.search(all).matched == 5);
}

TEST_CASE("index: a query term longer than the cap is checked whole", "[logindex][index]") {
  MemoryIndex idx;
  std::string prefix(70, 'k');
  idx.add(kApp, 1, "token " + prefix + "AAA end");
  idx.add(kApp, 2, "token " + prefix + "BBB end");
  // Both lines share the indexed (cut) term; only one has the whole word.
  CHECK(lines(idx.search(words(prefix + "bbb"))) ==
        std::vector<std::string>{"token " + prefix + "BBB end"});
  CHECK(idx.search(words(prefix)).matched == 0);
  CHECK(idx.search(words(prefix.substr(0, 64))).matched == 0);
  // A word of exactly the cap is indexed whole and found.
  idx.add(kApp, 3, "w " + std::string(64, 'q'));
  CHECK(idx.search(words(std::string(64, 'q'))).matched == 1);
  // A word cut short of the cap (UTF-8 back-off) is checked whole too.
  std::string utf = std::string(63, 'u') + "\xC3\xA9";
  idx.add(kApp, 4, "w " + utf);
  CHECK(idx.search(words(std::string(63, 'u'))).matched == 0);
  CHECK(idx.search(words(utf)).matched == 1);
}

TEST_CASE("index: readers run while a writer adds", "[logindex][index]") {
  MemoryIndex idx;
  constexpr int kLines = 5000;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};  // Catch2 assertions are not thread-safe
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      std::size_t last = 0;
      while (!done) {
        auto r = idx.search(words("common", 10));
        // The index only grows; newest first.
        if (r.matched < last) ++bad;
        last = r.matched;
        for (std::size_t i = 1; i < r.hits.size(); ++i)
          if (r.hits[i - 1].timestamp_ns < r.hits[i].timestamp_ns) ++bad;
      }
    });
  std::thread writer([&] {
    for (int i = 0; i < kLines; ++i)
      idx.add(i % 2 ? kApp : kDb, i, "common line number " + std::to_string(i));
  });
  writer.join();
  done = true;
  for (auto& r : readers) r.join();
  CHECK(bad == 0);
  CHECK(idx.search(words("common")).matched == kLines);
  CHECK(idx.search(words("number 4999")).hits.at(0).timestamp_ns == 4999);
}

TEST_CASE("index: real logs (loghub excerpts) agree with a brute-force scan",
          "[logindex][index][loghub]") {
  const std::string dir = STRATA_LOGHUB_DIR;
  std::map<std::string, std::vector<std::string>> files{
      {"openssh", read_lines(dir + "/OpenSSH_300.log")},
      {"hdfs", read_lines(dir + "/HDFS_300.log")},
      {"apache", read_lines(dir + "/Apache_200.log")},
  };
  MemoryIndex idx;
  std::size_t total = 0;
  auto index_all = [&] {
    AddResult sum;
    for (const auto& [name, ls] : files) {
      std::vector<wire::LogEntry> entries;
      for (std::size_t i = 0; i < ls.size(); ++i)
        entries.push_back({static_cast<std::int64_t>(i) * 1000, ls[i], {}});
      auto r = idx.add(Labels{{"job", name}}, entries);
      sum.added += r.added;
      sum.duplicates += r.duplicates;
    }
    return sum;
  };
  for (const auto& [name, ls] : files) total += ls.size();
  REQUIRE(total == 800);
  // A few lines repeat within a file at different positions (different ts):
  // all are kept.
  CHECK(index_all().added == total);

  // Replaying everything adds nothing.
  auto replay = index_all();
  CHECK(replay.added == 0);
  CHECK(replay.duplicates == total);
  CHECK(idx.entry_count() == total);

  for (const std::string q :
       {"Failed password", "invalid user", "PacketResponder terminating", "jk2_init Found child",
        "error", "mod_jk child workerEnv", "blk_ 38865049064139660", "173.234.31.186", "ROOT",
        "preauth", "no such word here"}) {
    INFO(q);
    auto want = unique_terms(q);
    // Brute force: lines containing every query term.
    std::vector<std::pair<std::int64_t, std::string>> expected;
    for (const auto& [name, ls] : files)
      for (std::size_t i = 0; i < ls.size(); ++i) {
        auto have = unique_terms(ls[i]);
        if (std::includes(have.begin(), have.end(), want.begin(), want.end()))
          expected.emplace_back(static_cast<std::int64_t>(i) * 1000, ls[i]);
      }
    auto r = idx.search(words(q, 1000));
    CHECK(r.matched == expected.size());
    std::multiset<std::string> got_lines, want_lines;
    for (const auto& h : r.hits) got_lines.insert(h.line);
    for (const auto& e : expected) want_lines.insert(e.second);
    CHECK(got_lines == want_lines);
    for (std::size_t i = 1; i < r.hits.size(); ++i)
      CHECK(r.hits[i - 1].timestamp_ns >= r.hits[i].timestamp_ns);
  }
  // Spot checks with known answers.
  CHECK(idx.search(words("Failed password", 1000)).matched == 70);
  SearchQuery sshd = words("invalid user");
  sshd.stream_equals = {{"job", "apache"}};
  CHECK(idx.search(sshd).matched == 0);
}

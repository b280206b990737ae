// The search language evaluated over the head and over on-disk segments:
// exact expected result sets, the same whichever part holds the lines.
#include <catch2/catch.hpp>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "logindex/log_store.h"
#include "logindex/memory_index.h"
#include "logindex/search_evaluator.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::logindex;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;

struct Line {
  Labels stream;
  std::string text;
};

// Line i has timestamp kT0 + i seconds.
const std::vector<Line> kLines = {
    {{{"job", "sshd"}, {"level", "info"}}, "Accepted password for root from 10.0.0.1 port 22"},
    {{{"job", "sshd"}, {"level", "warn"}}, "Failed password for invalid user admin from 10.0.0.2"},
    {{{"job", "sshd"}, {"level", "warn"}}, "Failed password for root from 10.251.43.21 port 50010"},
    {{{"job", "hdfs"}, {"level", "info"}},
     "Receiving block blk_-1608999687919862906 src: /10.251.43.21:50010"},
    {{{"job", "hdfs"}, {"level", "error"}}, "java.lang.NullPointerException at DataNode.run"},
    {{{"job", "app"}, {"level", "info"}}, "user_id=42 logged in; session opened for user root"},
    {{{"job", "app"}, {"level", "debug"}}, "session for user root opened"},
    {{{"job", "admin-tools"}, {"level", "info"}}, "blk_38865049064139660 replicated"},
};

std::set<std::size_t> run(const std::vector<SearchPart>& parts, const std::string& q,
                          std::int64_t start = std::numeric_limits<std::int64_t>::min(),
                          std::int64_t end = std::numeric_limits<std::int64_t>::max()) {
  LogSearch s;
  s.root = parse_search(q);
  s.start_ns = start;
  s.end_ns = end;
  s.limit = 1000;
  auto r = run_search(parts, s);
  std::set<std::size_t> ids;
  for (const auto& h : r.result.hits)
    ids.insert(static_cast<std::size_t>((h.timestamp_ns - kT0) / 1'000'000'000));
  CHECK(r.result.matched == ids.size());
  return ids;
}

using Ids = std::set<std::size_t>;

void check_queries(const std::vector<SearchPart>& parts) {
  CHECK(run(parts, "password") == Ids{0, 1, 2});
  CHECK(run(parts, "FAILED password") == Ids{1, 2});
  CHECK(run(parts, "password NOT invalid") == Ids{0, 2});
  CHECK(run(parts, "password -root") == Ids{1});
  CHECK(run(parts, "NOT password") == Ids{3, 4, 5, 6, 7});
  CHECK(run(parts, "accepted OR nullpointerexception") == Ids{0, 4});
  CHECK(run(parts, "(accepted OR failed) AND NOT admin") == Ids{0, 2});
  // Phrases: adjacency and order, across token boundaries.
  CHECK(run(parts, "\"session opened\"") == Ids{5});
  CHECK(run(parts, "\"opened session\"") == Ids{});
  CHECK(run(parts, "session opened") == Ids{5, 6});
  CHECK(run(parts, "10.251.43.21:50010") == Ids{3});  // "...21 port 50010" is not adjacent
  CHECK(run(parts, "10.251.43.21") == Ids{2, 3});
  CHECK(run(parts, "blk_-1608999687919862906") == Ids{3});
  CHECK(run(parts, "NOT \"session opened\"") == Ids{0, 1, 2, 3, 4, 6, 7});
  CHECK(run(parts, "user -\"user root\"") == Ids{1});
  CHECK(run(parts, "\"user root\" OR nullpointerexception") == Ids{4, 5, 6});
  // Prefixes.
  CHECK(run(parts, "blk_38*") == Ids{7});  // blk_38865049064139660 is one word
  CHECK(run(parts, "3886*") == Ids{});
  CHECK(run(parts, "pass*") == Ids{0, 1, 2});
  CHECK(run(parts, "zzz*") == Ids{});
  // Fields: stream labels.
  CHECK(run(parts, "job:sshd") == Ids{0, 1, 2});
  CHECK(run(parts, "level:warn root") == Ids{2});
  CHECK(run(parts, "job:/a.*/") == Ids{5, 6, 7});
  CHECK(run(parts, "job:/(sshd|hdfs)/ -level:info") == Ids{1, 2, 4});
  CHECK(run(parts, "job:SSHD") == Ids{});  // values compare exactly
  CHECK(run(parts, "nosuchword") == Ids{});
  CHECK(run(parts, "") == Ids{0, 1, 2, 3, 4, 5, 6, 7});
  // Time range (inclusive).
  CHECK(run(parts, "", kT0 + 2'000'000'000, kT0 + 4'000'000'000) == Ids{2, 3, 4});
  CHECK(run(parts, "password", kT0 + 2'000'000'000) == Ids{2});
}

std::vector<wire::LogEntry> entry(std::size_t i) {
  return {wire::LogEntry{kT0 + static_cast<std::int64_t>(i) * 1'000'000'000, kLines[i].text, {}}};
}

}  // namespace

TEST_CASE("search evaluator: exact result sets over the head", "[logindex][search]") {
  MemoryIndex head;
  for (std::size_t i = 0; i < kLines.size(); ++i) head.add(kLines[i].stream, entry(i));
  check_queries(head.parts());
}

TEST_CASE("search evaluator: the same answers from segments and head together",
          "[logindex][search]") {
  auto dir = fs::path(testing::temp_dir("lsearch"));
  LogStoreOptions o;
  o.dir = dir;
  o.fsync = false;
  o.maintenance_interval = std::chrono::milliseconds(0);
  o.retention_age = std::chrono::milliseconds(0);
  o.segment.block_bytes = 128;  // several blocks
  {
    LogStore store(o);
    for (std::size_t i = 0; i < 5; ++i) store.append(kLines[i].stream, entry(i));
    REQUIRE(store.flush_head());
    for (std::size_t i = 5; i < kLines.size(); ++i) store.append(kLines[i].stream, entry(i));
    REQUIRE(store.parts().size() == 2);
    check_queries(store.parts());
    REQUIRE(store.flush_head());
    check_queries(store.parts());
  }
  fs::remove_all(dir);
}

TEST_CASE("search evaluator: newest first, limit, histogram", "[logindex][search]") {
  MemoryIndex head;
  for (std::size_t i = 0; i < kLines.size(); ++i) head.add(kLines[i].stream, entry(i));
  LogSearch s;
  s.root = parse_search("");
  s.limit = 3;
  s.start_ns = kT0;
  s.end_ns = kT0 + 7'999'999'999;
  s.step_ns = 2'000'000'000;
  auto r = run_search(head.parts(), s);
  CHECK(r.result.matched == 8);
  REQUIRE(r.result.hits.size() == 3);
  CHECK(r.result.hits[0].line == kLines[7].text);
  CHECK(r.result.hits[0].stream == kLines[7].stream);
  CHECK(r.result.hits[2].line == kLines[5].text);
  REQUIRE(r.histogram.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(r.histogram[k].first == kT0 + static_cast<std::int64_t>(k) * 2'000'000'000);
    CHECK(r.histogram[k].second == 2);
  }
  s.step_ns = 1;
  CHECK_THROWS_WITH(run_search(head.parts(), s),
                    Catch::Contains("buckets; the limit is 11000 (use a larger step)"));
}

TEST_CASE(
    "search evaluator: extracted fields and levels are searchable, also after flush and merge",
    "[logindex][search]") {
  auto dir = fs::path(testing::temp_dir("lfields"));
  LogStoreOptions o;
  o.dir = dir;
  o.fsync = false;
  o.maintenance_interval = std::chrono::milliseconds(0);
  o.retention_age = std::chrono::milliseconds(0);
  o.merge_min_segments = 2;
  o.parser = std::make_shared<const LineParser>(
      LineParser::from_specs({R"({job="api"} logfmt)", R"({job="java"} raw)"}));
  const std::vector<Line> lines = {
      {{{"job", "api"}}, "ts=2024-01-01T00:00:00Z level=error status=503 user=42 msg=\"down\""},
      {{{"job", "api"}}, "level=info status=200 user=7 msg=ok"},
      {{{"job", "web"}}, R"({"level":"WARNING","status":404,"path":"/x"})"},
      {{{"job", "java"}}, "2024-01-01 00:00:00 ERROR NullPointerException"},
      {{{"job", "java"}}, "2024-01-01 00:00:01 INFO started"},
  };
  auto add = [&](LogStore& store, std::size_t i) {
    store.append(lines[i].stream,
                 std::vector<wire::LogEntry>{
                     {kT0 + static_cast<std::int64_t>(i) * 1'000'000'000, lines[i].text, {}}});
  };
  auto check = [](const std::vector<SearchPart>& parts) {
    CHECK(run(parts, "level:error") == Ids{0, 3});
    CHECK(run(parts, "level:warn") == Ids{2});
    CHECK(run(parts, "status:/5../") == Ids{0});
    CHECK(run(parts, "status:/[2-4]../") == Ids{1, 2});
    CHECK(run(parts, "user:42 OR path:\"/x\"") == Ids{0, 2});
    CHECK(run(parts, "level:info -job:java") == Ids{1});
    CHECK(run(parts, "ts:/.*/") == Ids{});  // timestamps are not indexed as fields
    CHECK(run(parts, "msg:down") == Ids{0});
  };
  {
    LogStore store(o);
    for (std::size_t i = 0; i < 3; ++i) add(store, i);
    REQUIRE(store.flush_head());
    for (std::size_t i = 3; i < lines.size(); ++i) add(store, i);
    check(store.parts());  // segment + head
    REQUIRE(store.flush_head());
    REQUIRE(store.merge_segments() == 2);
    check(store.parts());  // merged segment
  }
  {
    LogStore reopened(o);
    check(reopened.parts());
  }
  fs::remove_all(dir);
}

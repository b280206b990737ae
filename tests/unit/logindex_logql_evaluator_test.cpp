// The LogQL evaluator over the head and over on-disk segments: exact
// results for log queries (selectors, line filters, parsers, label
// filters, line_format, direction, limit, time range) and metric queries
// (range functions stepped over time, aggregations, binary operators,
// detected_level), and its limits.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "logindex/log_store.h"
#include "logindex/logql/evaluator.h"
#include "logindex/logql/parser.h"
#include "logindex/memory_index.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::logindex;
using namespace strata::logindex::logql;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;
constexpr std::int64_t kS = 1'000'000'000;

struct Line {
  Labels stream;
  std::string text;
};

// Line i has timestamp kT0 + i seconds.
const std::vector<Line> kLines = {
    {{{"job", "app"}, {"env", "prod"}},
     R"(level=info msg="request done" status=200 duration=15ms)"},
    {{{"job", "app"}, {"env", "prod"}},
     R"(level=error msg="request failed" status=500 duration=250ms)"},
    {{{"job", "app"}, {"env", "dev"}}, R"(level=warn msg="slow request" status=200 duration=1.5s)"},
    {{{"job", "api"}, {"env", "prod"}, {"level", "info"}},
     R"({"level":"debug","user":"alice","status":404})"},
    {{{"job", "api"}, {"env", "prod"}, {"level", "error"}},
     R"({"level":"error","user":"bob","status":500})"},
    {{{"job", "sshd"}, {"env", "prod"}},
     "2023-11-14T22:13:25Z ERROR Failed password for root from 10.0.0.2"},
    {{{"job", "sshd"}, {"env", "prod"}},
     "2023-11-14T22:13:26Z INFO Accepted password for admin from 10.0.0.3"},
    {{{"job", "sshd"}, {"env", "dev"}}, "Failed password for invalid user guest from 10.0.0.9"},
};

using Ids = std::set<std::size_t>;

std::size_t id_of(std::int64_t ts) { return static_cast<std::size_t>((ts - kT0) / kS); }

LogResult run_log(const std::vector<SearchPart>& parts, const std::string& q,
                  std::size_t limit = 1000, Direction dir = Direction::kBackward,
                  std::int64_t start = kT0, std::int64_t end = kT0 + 100 * kS) {
  Query parsed = parse(q);
  REQUIRE(parsed.log);
  LogRequest r;
  r.start_ns = start;
  r.end_ns = end;
  r.limit = limit;
  r.direction = dir;
  return evaluate_log(parts, *parsed.log, r);
}

Ids ids(const std::vector<SearchPart>& parts, const std::string& q) {
  Ids out;
  for (const auto& s : run_log(parts, q).streams)
    for (const auto& [ts, line] : s.entries) out.insert(id_of(ts));
  return out;
}

// Every entry in the order of the answer's streams flattened by time.
std::vector<std::size_t> ordered(const LogResult& r, Direction dir) {
  std::vector<std::pair<std::int64_t, std::size_t>> all;
  for (const auto& s : r.streams)
    for (const auto& [ts, line] : s.entries) all.emplace_back(ts, id_of(ts));
  std::sort(all.begin(), all.end());
  if (dir == Direction::kBackward) std::reverse(all.begin(), all.end());
  std::vector<std::size_t> out;
  for (const auto& a : all) out.push_back(a.second);
  return out;
}

// label set rendering -> points (step offset from kT0 in s, value)
using Points = std::vector<std::pair<std::int64_t, double>>;
std::map<std::string, Points> run_metric(const std::vector<SearchPart>& parts, const std::string& q,
                                         std::int64_t start, std::int64_t end, std::int64_t step,
                                         const EvalLimits& limits = {}) {
  Query parsed = parse(q);
  REQUIRE(parsed.metric);
  auto r = evaluate_metric(parts, *parsed.metric, MetricRequest{start, end, step}, limits);
  std::map<std::string, Points> out;
  for (const auto& s : r.series) {
    Points pts;
    for (const auto& [t, v] : s.points) pts.emplace_back((t - kT0) / kS, v);
    out[s.labels.to_string()] = pts;
  }
  return out;
}

// An instant at kT0 + 10 s over a 1m window: sees every line.
std::map<std::string, Points> instant(const std::vector<SearchPart>& parts, const std::string& q) {
  return run_metric(parts, q, kT0 + 10 * kS, kT0 + 10 * kS, kS);
}

void check_log_queries(const std::vector<SearchPart>& parts) {
  CHECK(ids(parts, R"({job="sshd"})") == Ids{5, 6, 7});
  CHECK(ids(parts, R"({job="sshd"} |= "Failed")") == Ids{5, 7});
  CHECK(ids(parts, R"({job="sshd"} |= "failed")") == Ids{});  // case-sensitive, as Loki
  // Substring semantics: "ailed" is the tail of a word, "pass" a prefix.
  CHECK(ids(parts, R"({job="sshd"} |= "ailed pass")") == Ids{5, 7});
  CHECK(ids(parts, R"({job="sshd"} |= "password for root")") == Ids{5});
  CHECK(ids(parts, R"({job="sshd"} != "invalid")") == Ids{5, 6});
  CHECK(ids(parts, R"({job=~"app|api"} |~ "status.?[=:]500")") == Ids{1, 4});
  CHECK(ids(parts, R"({job=~"app|api"} !~ "status.?[=:]500")") == Ids{0, 2, 3});
  CHECK(ids(parts, R"({env!="prod"})") == Ids{2, 7});
  CHECK(ids(parts, R"({job!~"app|api"})") == Ids{5, 6, 7});
  CHECK(ids(parts, R"({job=~"ap.*", env="prod"})") == Ids{0, 1, 3, 4});
  CHECK(ids(parts, R"({job="nope"})") == Ids{});
  // Parsers and label filters.
  CHECK(ids(parts, R"({job="app"} | logfmt | status >= 500)") == Ids{1});
  CHECK(ids(parts, R"({job="app"} | logfmt | duration > 100ms)") == Ids{1, 2});
  CHECK(ids(parts, R"({job="api"} | json | level_extracted="debug")") == Ids{3});
  CHECK(ids(parts, R"({job="api"} | json | user=~"a.*")") == Ids{3});
  CHECK(ids(parts, R"({job="api"} | json | user!="alice", status == 500)") == Ids{4});
  CHECK(ids(parts, R"({job="sshd"} | regexp "from (?P<addr>\\S+)$" | addr="10.0.0.9")") == Ids{7});
  CHECK(ids(parts, R"({job="sshd"} | drop __error__, __error_details__)") == Ids{5, 6, 7});
  // A filter after line_format sees the new line.
  const std::string formatted =
      "{job=\"app\"} | logfmt | line_format \"{{.msg}} ({{.level}})\" |= \"failed (error)\"";
  CHECK(ids(parts, formatted) == Ids{1});

  // The labels of a parsed line: the stream's, then the extracted ones, a
  // clash renamed <name>_extracted.
  auto r = run_log(parts, R"({job="api"} | json | user="alice")");
  REQUIRE(r.streams.size() == 1);
  CHECK(r.streams[0].labels == Labels{{"env", "prod"},
                                      {"job", "api"},
                                      {"level", "info"},
                                      {"level_extracted", "debug"},
                                      {"status", "404"},
                                      {"user", "alice"}});
  REQUIRE(r.streams[0].entries.size() == 1);
  CHECK(r.streams[0].entries[0] ==
        std::pair<std::int64_t, std::string>{kT0 + 3 * kS, kLines[3].text});

  r = run_log(parts, R"({job="app", env="prod"} | logfmt | line_format "{{.level}}: {{.msg}}")");
  REQUIRE(r.streams.size() == 2);  // the extracted labels differ
  std::set<std::string> lines;
  for (const auto& s : r.streams)
    for (const auto& e : s.entries) lines.insert(e.second);
  CHECK(lines == std::set<std::string>{"info: request done", "error: request failed"});

  // Direction, limit and the time range [start, end).
  CHECK(ordered(run_log(parts, R"({env="prod"})", 3), Direction::kBackward) ==
        std::vector<std::size_t>{6, 5, 4});
  CHECK(ordered(run_log(parts, R"({env="prod"})", 3, Direction::kForward), Direction::kForward) ==
        std::vector<std::size_t>{0, 1, 3});
  CHECK(ordered(run_log(parts, R"({env=~".+"})", 100, Direction::kForward, kT0 + kS, kT0 + 3 * kS),
                Direction::kForward) == std::vector<std::size_t>{1, 2});
  r = run_log(parts, R"({job="sshd"})", 100, Direction::kBackward);
  REQUIRE(r.streams.size() == 2);
  CHECK(r.streams[0].labels == Labels{{"env", "dev"}, {"job", "sshd"}});
  CHECK(r.streams[1].entries.size() == 2);
  CHECK(r.streams[1].entries[0].first == kT0 + 6 * kS);  // newest first within a stream
}

void check_metric_queries(const std::vector<SearchPart>& parts) {
  using M = std::map<std::string, Points>;
  CHECK(instant(parts, R"(count_over_time({job="sshd"}[1m]))") ==
        M{{R"({env="dev", job="sshd"})", {{10, 1}}}, {R"({env="prod", job="sshd"})", {{10, 2}}}});
  CHECK(instant(parts, R"(sum(count_over_time({job=~".+"}[1m])))") == M{{"{}", {{10, 8}}}});
  CHECK(instant(parts, R"(sum by (env) (count_over_time({job=~".+"}[1m])))") ==
        M{{R"({env="dev"})", {{10, 2}}}, {R"({env="prod"})", {{10, 6}}}});
  CHECK(instant(parts, R"(sum without (job) (count_over_time({job=~".+"}[1m])))") ==
        M{{R"({env="dev"})", {{10, 2}}},
          {R"({env="prod"})", {{10, 4}}},
          {R"({env="prod", level="error"})", {{10, 1}}},
          {R"({env="prod", level="info"})", {{10, 1}}}});
  CHECK(instant(parts, R"(count(count_over_time({job=~".+"}[1m])))") == M{{"{}", {{10, 6}}}});
  CHECK(instant(parts, R"(max(count_over_time({job=~".+"}[1m])))") == M{{"{}", {{10, 2}}}});
  CHECK(instant(parts, R"(min(count_over_time({job=~".+"}[1m])))") == M{{"{}", {{10, 1}}}});
  CHECK(instant(parts, R"(avg by (job) (count_over_time({job="sshd"}[1m])))") ==
        M{{R"({job="sshd"})", {{10, 1.5}}}});
  CHECK(instant(parts, R"(rate({job="sshd", env="prod"}[1m]))") ==
        M{{R"({env="prod", job="sshd"})", {{10, 2.0 / 60}}}});
  CHECK(instant(parts, R"(bytes_over_time({job="sshd", env="dev"}[1m]))") ==
        M{{R"({env="dev", job="sshd"})", {{10, static_cast<double>(kLines[7].text.size())}}}});
  CHECK(instant(parts, R"(bytes_rate({job="sshd", env="dev"}[1m]))") ==
        M{{R"({env="dev", job="sshd"})", {{10, static_cast<double>(kLines[7].text.size()) / 60}}}});
  CHECK(instant(parts, R"(bottomk(1, sum by (job) (count_over_time({job=~".+"}[1m]))))") ==
        M{{R"({job="api"})", {{10, 2}}}});
  CHECK(instant(parts, R"(topk(2, count_over_time({job="sshd"}[1m])))") ==
        M{{R"({env="dev", job="sshd"})", {{10, 1}}}, {R"({env="prod", job="sshd"})", {{10, 2}}}});
  // Extracted labels split series, as in Loki.
  CHECK(instant(parts, R"(sum by (level) (count_over_time({job="app"} | logfmt [1m])))") ==
        M{{R"({level="error"})", {{10, 1}}},
          {R"({level="info"})", {{10, 1}}},
          {R"({level="warn"})", {{10, 1}}}});
  CHECK(instant(parts, R"(count_over_time({job="app"} | logfmt | status=500 [1m]))").size() == 1);
  // Binary operators.
  CHECK(instant(parts, "vector(1)+vector(1)") == M{{"{}", {{10, 2}}}});
  CHECK(instant(parts, "2 * 3 - 1") == M{{"{}", {{10, 5}}}});
  CHECK(instant(parts, R"(sum(count_over_time({job="sshd"}[1m])) / 3)") == M{{"{}", {{10, 1}}}});
  CHECK(instant(parts, R"(count_over_time({job="sshd"}[1m]) * 10)") ==
        M{{R"({env="dev", job="sshd"})", {{10, 10}}}, {R"({env="prod", job="sshd"})", {{10, 20}}}});
  CHECK(
      instant(
          parts,
          R"(count_over_time({job="sshd"}[1m]) + count_over_time({job="sshd",env="prod"}[1m]))") ==
      M{{R"({env="prod", job="sshd"})", {{10, 4}}}});

  // Grafana's log-volume side query: level from the stream when it has
  // one, else detected from the line as detected_level.
  CHECK(instant(parts, R"(sum by (level) (count_over_time({job="sshd"} | drop __error__[1m])))") ==
        M{{"{}", {{10, 3}}}});
  CHECK(instant(parts, R"(sum by (level) (count_over_time({job="api"} | drop __error__[1m])))") ==
        M{{R"({level="error"})", {{10, 1}}}, {R"({level="info"})", {{10, 1}}}});
  CHECK(instant(parts,
                R"(sum by (level, detected_level) (count_over_time({job=~"sshd|api"}[1m])))") ==
        M{{R"({detected_level="error"})", {{10, 1}}},
          {R"({detected_level="info"})", {{10, 1}}},
          {R"({detected_level="unknown"})", {{10, 1}}},
          {R"({level="error"})", {{10, 1}}},
          {R"({level="info"})", {{10, 1}}}});

  // Stepped: windows (t - 3s, t] at t = 0, 2, 4, 6, 8 s; empty windows
  // give no sample.
  CHECK(run_metric(parts, R"(count_over_time({job="sshd"}[3s]))", kT0, kT0 + 8 * kS, 2 * kS) ==
        M{{R"({env="dev", job="sshd"})", {{8, 1}}},
          {R"({env="prod", job="sshd"})", {{6, 2}, {8, 1}}}});
  CHECK(run_metric(parts, R"(sum(count_over_time({job=~".+"}[2s])))", kT0, kT0 + 8 * kS, 2 * kS) ==
        M{{"{}", {{0, 1}, {2, 2}, {4, 2}, {6, 2}, {8, 1}}}});
}

std::vector<wire::LogEntry> entry(std::size_t i) {
  return {wire::LogEntry{kT0 + static_cast<std::int64_t>(i) * kS, kLines[i].text, {}}};
}

}  // namespace

TEST_CASE("logql evaluator: log queries over the head", "[logindex][logql]") {
  MemoryIndex head;
  for (std::size_t i = 0; i < kLines.size(); ++i) head.add(kLines[i].stream, entry(i));
  check_log_queries(head.parts());
}

TEST_CASE("logql evaluator: metric queries over the head", "[logindex][logql]") {
  MemoryIndex head;
  for (std::size_t i = 0; i < kLines.size(); ++i) head.add(kLines[i].stream, entry(i));
  check_metric_queries(head.parts());
}

TEST_CASE("logql evaluator: the same answers from a segment and the head together",
          "[logindex][logql]") {
  auto dir = fs::path(testing::temp_dir("logql"));
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
    check_log_queries(store.parts());
    check_metric_queries(store.parts());
    REQUIRE(store.flush_head());
    check_log_queries(store.parts());
    check_metric_queries(store.parts());
  }
  fs::remove_all(dir);
}

TEST_CASE("logql evaluator: limits", "[logindex][logql]") {
  MemoryIndex head;
  for (std::size_t i = 0; i < kLines.size(); ++i) head.add(kLines[i].stream, entry(i));
  EvalLimits limits;
  limits.max_series = 2;
  CHECK_THROWS_WITH(run_metric(head.parts(), R"(count_over_time({job=~".+"}[1m]))", kT0 + 10 * kS,
                               kT0 + 10 * kS, kS, limits),
                    Catch::Contains("maximum of series (2) reached for a single query"));
  limits = {};
  limits.max_entries_scanned = 3;
  Query q = parse(R"({env="prod"})");
  LogRequest r;
  r.start_ns = kT0;
  r.end_ns = kT0 + 100 * kS;
  CHECK_THROWS_WITH(evaluate_log(head.parts(), *q.log, r, limits),
                    Catch::Contains("would read more than 3 log lines"));
  // Only matching lines count: a narrow selector stays within the limit.
  q = parse(R"({job="sshd", env="prod"})");
  CHECK(evaluate_log(head.parts(), *q.log, r, limits).stats.entries_scanned == 2);
  CHECK_THROWS_WITH(run_metric(head.parts(), "vector(1)", kT0, kT0 + 20'000 * kS, kS),
                    Catch::Contains("exceeded maximum resolution of 11000 points"));
  q = parse("sum(1)");
  CHECK_THROWS_WITH(evaluate_metric(head.parts(), *q.metric, MetricRequest{kT0, kT0, kS}),
                    Catch::Contains("sum() needs a vector"));
}

TEST_CASE("logql parser: | drop __error__ is accepted as a no-op", "[logindex][logql]") {
  auto q = parse(R"(sum by (level) (count_over_time({job="x"} | drop __error__[1m])))");
  REQUIRE(q.metric);
  CHECK(q.metric->lhs->log.stages.empty());
  q = parse(R"({job="x"} |= "a" | drop __error__, __error_details__ | json)");
  REQUIRE(q.log);
  CHECK(q.log->stages.size() == 2);
  CHECK_THROWS_WITH(parse(R"({job="x"} | drop level)"),
                    "parse error at line 1, col 18: drop supports only __error__ and "
                    "__error_details__, not level");
}

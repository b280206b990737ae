#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "../unit/agent_test_util.h"
#include "agent/agent.h"
#include "agent/options.h"
#include "agent_fake_collector.h"
#include "common/http_client.h"
#include "common/service.h"

using namespace strata;
using namespace strata::agent;
using namespace strata::agent::testing;
using namespace std::chrono_literals;

namespace {

struct Setup {
  TempDir dir;
  FakeCollector collector;
  std::string log = dir / "app.log";
  std::string proc = dir / "proc";

  Setup() {
    write_fake_proc(proc);
    write_file(log, "written before the agent started\n");
  }

  config::Config config(std::vector<std::pair<std::string, std::string>> extra = {}) {
    config::Schema s;
    add_logging_options(s);
    add_options(s);
    config::Config c(s);
    c.set("agent.listen", "127.0.0.1:0", "test");
    c.set("agent.collector_url", collector.url(), "test");
    c.set("agent.proc_path", proc, "test");
    c.set("agent.files", log, "test");
    c.set("agent.interval", "200ms", "test");
    c.set("agent.flush_interval", "100ms", "test");
    c.set("agent.instance", "test-host", "test");
    c.set("agent.labels", "env=ci", "test");
    for (auto& [k, v] : extra) c.set(k, v, "test");
    return c;
  }
};

std::multiset<std::string> as_set(const std::vector<std::string>& v) {
  return std::multiset<std::string>(v.begin(), v.end());
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

void append_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  append_file(path, text);
}

}  // namespace

TEST_CASE("agent: lines and host metrics reach the collector, each line once",
          "[integration][agent]") {
  Setup s;
  Agent agent(s.config());
  agent.start();

  auto first = numbered("first batch line ", 50);
  append_lines(s.log, first);
  REQUIRE(eventually([&] { return s.collector.lines().size() >= 50; }));
  append_file(s.log, "partial line ");  // newline missing...
  std::this_thread::sleep_for(300ms);
  append_file(s.log, "completed\n");  // ...until now
  auto second = numbered("second batch line ", 50);
  append_lines(s.log, second);

  REQUIRE(eventually([&] { return s.collector.lines().size() >= 101; }));
  std::this_thread::sleep_for(300ms);  // anything duplicated would arrive by now

  std::vector<std::string> expected = first;
  expected.push_back("partial line completed");
  expected.insert(expected.end(), second.begin(), second.end());
  CHECK(s.collector.lines() == expected);  // in order, nothing from before start

  auto logs = s.collector.logs();
  REQUIRE_FALSE(logs.empty());
  CHECK(logs[0].streams[0].labels == Labels({{"filename", s.log},
                                             {"instance", "test-host"},
                                             {"job", "strata-agent"},
                                             {"env", "ci"}}));

  // Host metrics from the fake proc tree, every interval.
  REQUIRE(eventually([&] { return s.collector.metrics().size() >= 2; }));
  auto batch = s.collector.metrics()[0];
  bool found_load = false;
  for (const auto& series : batch.series) {
    CHECK(series.labels.get("instance") == "test-host");
    CHECK(series.labels.get("job") == "node");
    CHECK(series.labels.get("env") == "ci");
    if (series.labels.get("__name__") == "node_load1") {
      found_load = true;
      CHECK(series.samples.at(0).value == 0.52);
    }
  }
  CHECK(found_load);
  CHECK(batch.series.size() == 32);  // the fake /proc has no diskstats, net/dev or mounts

  // Self-metrics on the agent's own endpoint.
  http::HttpClient client;
  auto health = client.get(agent.url() + "/healthz");
  CHECK(health.status == 200);
  CHECK(client.get(agent.url() + "/readyz").status == 200);
  auto m = client.get(agent.url() + "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.body.find("strata_agent_log_lines_shipped_total 101") != std::string::npos);
  CHECK(m.body.find("strata_agent_samples_shipped_total") != std::string::npos);
  CHECK(m.body.find("strata_agent_queue_batches{kind=\"logs\"} 0") != std::string::npos);
  CHECK(m.body.find("strata_agent_files_open 1") != std::string::npos);

  agent.stop();
  agent.stop();  // idempotent
}

TEST_CASE("agent: collector answering 503 then 204 -- lines arrive once", "[integration][agent]") {
  Setup s;
  // Logs only: keep the metrics thread from consuming the scripted answers.
  Agent agent(s.config({{"agent.interval", "1h"}}));
  agent.start();
  REQUIRE(eventually([&] { return s.collector.metrics().size() == 1; }));
  s.collector.script({503, 503}, /*retry_after_seconds=*/1);
  auto lines = numbered("retry me ", 20);
  append_lines(s.log, lines);
  REQUIRE(eventually([&] { return s.collector.lines().size() >= 20; }, 20s));
  std::this_thread::sleep_for(500ms);
  CHECK(s.collector.refused() == 2);
  CHECK(s.collector.lines() == lines);
  agent.stop();
}

TEST_CASE("agent: stop() flushes what was read last", "[integration][agent]") {
  Setup s;
  Agent agent(s.config({{"agent.flush_interval", "1h"}, {"agent.interval", "1h"}}));
  agent.start();
  auto lines = numbered("final ", 10);
  append_lines(s.log, lines);
  agent.stop();
  CHECK(s.collector.lines() == lines);
}

TEST_CASE("agent: long lines are truncated and counted", "[integration][agent]") {
  Setup s;
  Agent agent(s.config({{"agent.max_line_bytes", "16"}, {"agent.interval", "1h"}}));
  agent.start();
  append_lines(s.log, {"short", std::string(100, 'L'), "after"});
  REQUIRE(eventually([&] { return s.collector.lines().size() >= 3; }));
  CHECK(s.collector.lines() == std::vector<std::string>{"short", std::string(16, 'L'), "after"});
  http::HttpClient client;
  CHECK(client.get(agent.url() + "/metrics").body.find("strata_agent_lines_truncated_total 1") !=
        std::string::npos);
}

TEST_CASE("agent: a file appearing later via a glob is shipped from its start",
          "[integration][agent]") {
  Setup s;
  Agent agent(s.config({{"agent.files", s.dir / "*.log"},
                        {"agent.rescan_interval", "100ms"},
                        {"agent.interval", "1h"}}));
  agent.start();
  write_file(s.dir / "new.log", "n1\nn2\n");
  REQUIRE(eventually([&] { return s.collector.lines().size() >= 2; }));
  CHECK(as_set(s.collector.lines()) == as_set({"n1", "n2"}));
  auto logs = s.collector.logs();
  CHECK(logs[0].streams[0].labels.get("filename") == s.dir / "new.log");
}

TEST_CASE("agent: invalid configuration fails before starting", "[integration][agent]") {
  Setup s;
  CHECK_THROWS_AS(Agent(s.config({{"agent.labels", "job=x"}})), config::ConfigError);
  CHECK_THROWS_AS(Agent(s.config({{"agent.collector_url", "ftp://x"}})), config::ConfigError);
}

TEST_CASE("agent: multi-line records are joined by the start pattern", "[integration][agent]") {
  Setup s;
  Agent agent(s.config({{"agent.multiline_start", R"(^\d{4}-\d\d-\d\d )"},
                        {"agent.multiline_timeout", "300ms"},
                        {"agent.interval", "1h"}}));
  agent.start();
  append_lines(s.log, {"2024-05-01 ERROR boom", "java.lang.IllegalStateException: x",
                       "\tat a.B.c(B.java:10)", "2024-05-01 INFO next"});
  // The last record has no successor: it goes out after the timeout.
  REQUIRE(eventually([&] { return s.collector.lines().size() >= 2; }));
  CHECK(s.collector.lines() ==
        std::vector<std::string>{
            "2024-05-01 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:10)",
            "2024-05-01 INFO next"});
}

TEST_CASE("agent: an invalid multiline pattern is a configuration error", "[integration][agent]") {
  Setup s;
  CHECK_THROWS_WITH(Agent(s.config({{"agent.multiline_start", "(unclosed"}})),
                    Catch::Contains("agent.multiline_start") && Catch::Contains("(unclosed"));
}

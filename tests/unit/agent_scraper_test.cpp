// The scraper's bookkeeping on responses as a target serves them: job and
// instance labels, exported_* for clashing labels, the synthetic series,
// staleness markers for vanished series and for a target that goes down, and
// the agent.scrape_configs syntax. (The HTTP side against real exporters is
// tests/integration/agent_scrape_test.cpp.)
#include <catch2/catch.hpp>

#include "agent/options.h"
#include "agent/scraper.h"
#include "common/service.h"

using namespace strata;
using namespace strata::agent;

namespace {

const wire::Series* find(const wire::MetricsBatch& b, std::string_view name,
                         std::string_view label = "", std::string_view value = "") {
  for (const auto& s : b.series)
    if (s.labels.get("__name__") == name && (label.empty() || s.labels.get(label) == value))
      return &s;
  return nullptr;
}

constexpr const char* kText = "text/plain; version=0.0.4";

}  // namespace

TEST_CASE("scraper: labels, synthetic series and staleness", "[unit][agent][scrape]") {
  TargetScraper t("node", "http://10.0.0.1:9100/metrics", std::chrono::seconds(1),
                  {{"env", "prod"}});
  auto o = t.apply(200, kText, "# TYPE a counter\na{x=\"1\"} 5\na{x=\"2\"} 6\nb{job=\"other\"} 1\n",
                   "", 0.25, 1000);
  REQUIRE(o.up);
  CHECK(o.error.empty());
  const auto* a1 = find(o.batch, "a", "x", "1");
  REQUIRE(a1);
  CHECK(a1->labels == Labels{{"__name__", "a"},
                             {"env", "prod"},
                             {"instance", "10.0.0.1:9100"},
                             {"job", "node"},
                             {"x", "1"}});
  CHECK(a1->samples[0].timestamp_ms == 1000);
  const auto* b = find(o.batch, "b");
  REQUIRE(b);
  CHECK(b->labels.get("job") == "node");
  CHECK(b->labels.get("exported_job") == "other");
  REQUIRE(find(o.batch, "up"));
  CHECK(find(o.batch, "up")->samples[0].value == 1);
  CHECK(
      find(o.batch, "up")->labels ==
      Labels{{"__name__", "up"}, {"env", "prod"}, {"instance", "10.0.0.1:9100"}, {"job", "node"}});
  CHECK(find(o.batch, "scrape_duration_seconds")->samples[0].value == 0.25);
  CHECK(find(o.batch, "scrape_samples_scraped")->samples[0].value == 3);
  CHECK(o.batch.series.size() == 6);

  // a{x="2"} vanished: one StaleNaN at the scrape time.
  o = t.apply(200, kText, "a{x=\"1\"} 7\nb{job=\"other\"} 1\n", "", 0.1, 2000);
  REQUIRE(o.up);
  const auto* gone = find(o.batch, "a", "x", "2");
  REQUIRE(gone);
  REQUIRE(gone->samples.size() == 1);
  CHECK(wire::is_stale_nan(gone->samples[0].value));
  CHECK(gone->samples[0].timestamp_ms == 2000);
  CHECK_FALSE(wire::is_stale_nan(find(o.batch, "a", "x", "1")->samples[0].value));

  // Down (unparsable body): every series of the last good scrape goes stale,
  // up=0, nothing scraped.
  o = t.apply(200, kText, "a{x=\"1\" 7\n", "", 0.1, 3000);
  CHECK_FALSE(o.up);
  CHECK(o.error.rfind("unparsable response: line 1, column 9", 0) == 0);
  CHECK(wire::is_stale_nan(find(o.batch, "a", "x", "1")->samples[0].value));
  CHECK(wire::is_stale_nan(find(o.batch, "b")->samples[0].value));
  CHECK(find(o.batch, "up")->samples[0].value == 0);
  CHECK(find(o.batch, "scrape_samples_scraped")->samples[0].value == 0);
  CHECK(o.batch.series.size() == 5);

  // Still down: nothing more to mark stale.
  o = t.apply(0, "", "", "Connection refused", 0.001, 4000);
  CHECK_FALSE(o.up);
  CHECK(o.error == "Connection refused");
  CHECK(o.batch.series.size() == 3);

  o = t.apply(503, kText, "busy", "", 0.001, 5000);
  CHECK(o.error == "HTTP status 503");

  // Back, then removed from the config: everything it produced goes stale.
  o = t.apply(200, "application/openmetrics-text; version=1.0.0", "a{x=\"1\"} 1\n# EOF\n", "", 0.1,
              6000);
  CHECK(o.up);
  auto retired = t.retire(7000);
  CHECK(retired.series.size() == 4);
  for (const auto& s : retired.series) CHECK(wire::is_stale_nan(s.samples[0].value));
}

TEST_CASE("scraper: series with their own timestamps get no staleness marker",
          "[unit][agent][scrape]") {
  TargetScraper t("j", "http://h:1/m", std::chrono::seconds(1), {});
  t.apply(200, kText, "a 1 500\nb 2\n", "", 0, 1000);
  auto o = t.apply(200, kText, "", "", 0, 2000);
  CHECK_FALSE(find(o.batch, "a"));
  REQUIRE(find(o.batch, "b"));
  CHECK(wire::is_stale_nan(find(o.batch, "b")->samples[0].value));
}

TEST_CASE("scraper: agent.scrape_configs syntax", "[unit][agent][scrape]") {
  using std::chrono::milliseconds;
  auto c = parse_scrape_config("node  http://a:9100/metrics https://b/metrics interval=30s",
                               milliseconds(15'000), milliseconds(10'000));
  CHECK(c.job == "node");
  CHECK(c.targets == std::vector<std::string>{"http://a:9100/metrics", "https://b/metrics"});
  CHECK(c.interval == milliseconds(30'000));
  CHECK(c.timeout == milliseconds(10'000));
  c = parse_scrape_config("n http://a/m interval=5s", milliseconds(15'000), milliseconds(10'000));
  CHECK(c.timeout == milliseconds(5'000));  // the default timeout is capped at the interval
  CHECK(instance_of("http://user:pw@host:123/metrics?x=1") == "host:123");
  CHECK(instance_of("https://host/metrics") == "host");

  auto error_of = [](const std::string& spec) -> std::string {
    try {
      parse_scrape_config(spec, milliseconds(15'000), milliseconds(10'000));
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(error_of("node") ==
        "expected \"JOB URL [URL...] [interval=15s] [timeout=10s]\", got \"node\"");
  CHECK(error_of("node ftp://x") ==
        "\"ftp://x\" is neither an http(s):// target URL nor interval=/timeout=");
  CHECK(error_of("node http://a/m timeout=20s") ==
        "the timeout (20000 ms) is longer than the interval (15000 ms); make it at most the "
        "interval");
  CHECK(error_of("node http://a/m http://a/m") == "target \"http://a/m\" is listed twice");
  CHECK(error_of("node interval=5s") == "job \"node\" lists no target URL");

  config::Schema s;
  add_logging_options(s);
  add_options(s);
  config::Config cfg(s);
  cfg.merge_yaml(
      "agent:\n  scrape_interval: 20s\n  scrape_configs:\n    - node "
      "http://127.0.0.1:9100/metrics\n"
      "    - app http://127.0.0.1:8000/metrics http://127.0.0.1:8001/metrics timeout=2s\n",
      "test.yaml");
  AgentOptions o = AgentOptions::from_config(cfg);
  REQUIRE(o.scrape_configs.size() == 2);
  CHECK(o.scrape_configs[0].interval == milliseconds(20'000));
  CHECK(o.scrape_configs[1].targets.size() == 2);
  CHECK(o.scrape_configs[1].timeout == milliseconds(2'000));
  cfg.merge_yaml("agent:\n  scrape_configs:\n    - a http://x/m\n    - a http://y/m\n", "t2");
  CHECK_THROWS_WITH(AgentOptions::from_config(cfg),
                    "config key 'agent.scrape_configs': job \"a\" appears twice; list all its "
                    "targets in one entry");
}

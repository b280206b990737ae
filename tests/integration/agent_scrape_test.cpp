// Scraping against the real thing: the exposition parser on what Debian's
// prometheus-node-exporter, prometheus and victoria-metrics actually serve on
// /metrics (in both formats where they offer both), and the agent scraping a
// real node_exporter into a fake collector -- up, job/instance labels, and
// staleness markers once the exporter is killed.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "../unit/agent_test_util.h"
#include "agent/agent.h"
#include "agent/options.h"
#include "agent_fake_collector.h"
#include "common/exposition_parser.h"
#include "common/http_client.h"
#include "common/service.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"

using namespace strata;
using namespace strata::agent;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";
constexpr const char* kVictoriaMetrics = "/usr/bin/victoria-metrics";
// Debian's python3 (with python3-prometheus-client), not whatever is first
// on PATH.
constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kOpenMetricsExporter =
    STRATA_SOURCE_DIR "/tests/support/openmetrics_exporter.py";
constexpr const char* kOpenMetricsAccept =
    "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5";

std::unique_ptr<strata::testing::ChildProcess> start_node_exporter(int port) {
  return std::make_unique<strata::testing::ChildProcess>(
      "node_exporter", kNodeExporter,
      std::vector<std::string>{"--web.listen-address=127.0.0.1:" + std::to_string(port)});
}

struct Fetched {
  std::string content_type, body;
};

Fetched fetch(const std::string& url, const std::string& accept) {
  http::HttpClient c;
  auto r = c.get(url, {{"Accept", accept}});
  REQUIRE(r.ok());
  return {r.headers["content-type"], r.body};
}

// Parses a real page and checks what any well-formed page has: samples,
// metadata whose types are known, and the families the test names.
ParsedExposition parse_real(const Fetched& f, const std::vector<std::string>& families) {
  INFO("Content-Type: " << f.content_type);
  ParsedExposition p;
  try {
    p = parse_exposition(f.body, 1, exposition_format_of(f.content_type));
  } catch (const ExpositionError& e) {
    FAIL("real /metrics output rejected: " << e.what());
  }
  CHECK(p.batch.series.size() > 20);
  std::map<std::string, std::string> types;
  for (const auto& m : p.metadata) types[m.family] = m.type;
  for (const auto& f : families) {
    INFO("family " << f);
    CHECK(types.count(f) == 1);
  }
  return p;
}

std::size_t count_named(const ParsedExposition& p, const std::string& name) {
  std::size_t n = 0;
  for (const auto& s : p.batch.series) n += s.labels.get("__name__") == name;
  return n;
}

}  // namespace

TEST_CASE("scrape parser reads real node_exporter, prometheus and victoria-metrics output",
          "[integration][agent][scrape]") {
  if (!strata::testing::prometheus_installed() || access(kNodeExporter, X_OK) != 0 ||
      access(kVictoriaMetrics, X_OK) != 0 ||
      access("/usr/lib/python3/dist-packages/prometheus_client", R_OK) != 0)
    FAIL(
        "prometheus, prometheus-node-exporter, victoria-metrics or python3-prometheus-client "
        "missing: run scripts/setup.sh");

  const int node_port = strata::testing::free_port();
  auto node = start_node_exporter(node_port);
  const std::string node_url = "http://127.0.0.1:" + std::to_string(node_port) + "/metrics";
  REQUIRE(strata::testing::wait_http_ok(node_url, 15s));

  strata::testing::PrometheusServer prom;
  REQUIRE(prom.ready());

  const std::string vm_dir = strata::testing::temp_dir("agent-scrape-vm");
  const int vm_port = strata::testing::free_port();
  strata::testing::ChildProcess vm(
      "victoria-metrics", kVictoriaMetrics,
      {"-httpListenAddr=127.0.0.1:" + std::to_string(vm_port), "-storageDataPath=" + vm_dir});
  const std::string vm_url = "http://127.0.0.1:" + std::to_string(vm_port) + "/metrics";
  REQUIRE(strata::testing::wait_http_ok(vm_url, 30s));

  const int om_port = strata::testing::free_port();
  strata::testing::ChildProcess om_exporter("openmetrics_exporter", kPython,
                                            {kOpenMetricsExporter, std::to_string(om_port)});
  const std::string om_url = "http://127.0.0.1:" + std::to_string(om_port) + "/metrics";
  REQUIRE(strata::testing::wait_http_ok(om_url, 15s));

  SECTION("node_exporter") {
    for (const char* accept : {"text/plain", kOpenMetricsAccept}) {
      auto p = parse_real(fetch(node_url, accept),
                          {"node_cpu_seconds_total", "node_load1", "node_memory_MemTotal_bytes",
                           "go_gc_duration_seconds", "process_cpu_seconds_total"});
      CHECK(count_named(p, "node_cpu_seconds_total") >= 8);
      // A summary: quantiles, _sum and _count are plain series.
      CHECK(count_named(p, "go_gc_duration_seconds") >= 3);
      CHECK(count_named(p, "go_gc_duration_seconds_count") == 1);
    }
  }
  SECTION("prometheus") {
    // Prometheus 2.42 serves the text format whatever the Accept header.
    for (const char* accept : {"text/plain", kOpenMetricsAccept}) {
      auto p = parse_real(fetch(prom.base() + "/metrics", accept),
                          {"prometheus_build_info", "prometheus_http_requests_total",
                           "prometheus_http_request_duration_seconds"});
      // A histogram: buckets (with le="+Inf"), _sum and _count.
      std::size_t inf = 0;
      for (const auto& s : p.batch.series)
        inf += s.labels.get("__name__") == "prometheus_http_request_duration_seconds_bucket" &&
               s.labels.get("le") == "+Inf";
      CHECK(inf >= 1);
    }
  }
  SECTION("prometheus_client (Python): OpenMetrics and text") {
    const auto om = fetch(om_url, kOpenMetricsAccept);
    REQUIRE(exposition_format_of(om.content_type) == ExpositionFormat::kOpenMetrics);
    CHECK(om.body.ends_with("# EOF\n"));
    CHECK(om.body.find("# {trace_id=") != std::string::npos);  // an exemplar to skip
    auto p = parse_real(om, {"app_requests", "app_request_duration_seconds", "app_build",
                             "app_state", "app_temperature_celsius"});
    CHECK(count_named(p, "app_requests_total") == 2);
    CHECK(count_named(p, "app_requests_created") == 0);  // dropped, as Prometheus does
    CHECK(count_named(p, "app_request_duration_seconds_created") == 0);
    CHECK(count_named(p, "app_request_duration_seconds_bucket") == 8);
    CHECK(count_named(p, "app_build_info") == 1);
    CHECK(count_named(p, "app_state") == 3);
    std::map<std::string, const MetricMetadata*> meta;
    for (const auto& m : p.metadata) meta[m.family] = &m;
    CHECK(meta.at("app_request_duration_seconds")->unit == "seconds");
    CHECK(meta.at("app_request_duration_seconds")->type == "histogram");
    CHECK(meta.at("app_state")->type == "stateset");
    CHECK(meta.at("app_requests")->help == "Requests served.");
    std::map<std::string, double> temp;
    for (const auto& s : p.batch.series) {
      if (s.labels.get("__name__") == "app_temperature_celsius")
        temp[std::string(s.labels.get("probe"))] = s.samples[0].value;
      if (s.labels.get("__name__") == "app_request_duration_seconds_bucket" &&
          s.labels.get("le") == "0.1" && s.labels.get("path") == "/api/v1")
        CHECK(s.samples[0].value == 1);  // not the exemplar's 0.05
      if (s.labels.get("__name__") == "app_build_info")
        CHECK(s.labels.get("revision") == "quote \" and \\ backslash");
    }
    CHECK(std::isnan(temp.at("nan")));
    CHECK(temp.at("hot") == std::numeric_limits<double>::infinity());
    CHECK(temp.at("cold") == -std::numeric_limits<double>::infinity());
    CHECK(temp.at("line\nbreak \"quoted\"") == 1);

    const auto text = fetch(om_url, "text/plain");
    CHECK(exposition_format_of(text.content_type) == ExpositionFormat::kPrometheusText);
    auto t = parse_real(text, {"app_requests_total", "app_request_duration_seconds"});
    // The text format has no _created convention: there they are series.
    CHECK(count_named(t, "app_requests_created") == 2);
  }
  SECTION("victoria-metrics") {
    for (const char* accept : {"text/plain", kOpenMetricsAccept}) {
      const auto f = fetch(vm_url, accept);
      INFO("Content-Type: " << f.content_type);
      ParsedExposition p;
      try {
        p = parse_exposition(f.body, 1, exposition_format_of(f.content_type));
      } catch (const ExpositionError& e) {
        FAIL("real /metrics output rejected: " << e.what());
      }
      // VictoriaMetrics writes no HELP/TYPE for most series.
      CHECK(count_named(p, "vm_app_version") == 1);
      CHECK(count_named(p, "process_cpu_seconds_total") == 1);
      CHECK(p.batch.series.size() > 100);
    }
  }
}

TEST_CASE("agent scrapes a real node_exporter: up, labels, staleness when it dies",
          "[integration][agent][scrape]") {
  if (access(kNodeExporter, X_OK) != 0)
    FAIL("prometheus-node-exporter missing: run scripts/setup.sh");
  const int node_port = strata::testing::free_port();
  auto node = start_node_exporter(node_port);
  const std::string target = "127.0.0.1:" + std::to_string(node_port);
  REQUIRE(strata::testing::wait_http_ok("http://" + target + "/metrics", 15s));

  agent::testing::FakeCollector collector;
  agent::testing::TempDir dir;
  agent::testing::write_fake_proc(dir / "proc");
  config::Schema s;
  add_logging_options(s);
  add_options(s);
  config::Config c(s);
  c.set("agent.listen", "127.0.0.1:0", "test");
  c.set("agent.collector_url", collector.url(), "test");
  c.set("agent.proc_path", dir / "proc", "test");
  c.set("agent.interval", "1h", "test");
  c.set("agent.instance", "test-host", "test");
  c.set("agent.labels", "env=ci", "test");
  const int om_port = strata::testing::free_port();
  strata::testing::ChildProcess om_exporter("openmetrics_exporter", kPython,
                                            {kOpenMetricsExporter, std::to_string(om_port)});
  const std::string om_target = "127.0.0.1:" + std::to_string(om_port);
  REQUIRE(strata::testing::wait_http_ok("http://" + om_target + "/metrics", 15s));
  // The second job's target speaks OpenMetrics (YAML: the list has two entries).
  c.merge_yaml("agent:\n  scrape_configs:\n    - node http://" + target +
                   "/metrics interval=300ms timeout=250ms\n    - om http://" + om_target +
                   "/metrics interval=300ms\n",
               "test.yaml");
  Agent agent(c);
  agent.start();

  // Series of one name with job="node", instance=<target> across everything
  // the collector got; last value per label set.
  auto latest = [&](const std::string& name) {
    std::map<Labels, double> out;
    for (const auto& b : collector.metrics())
      for (const auto& ser : b.series)
        if (ser.labels.get("__name__") == name && ser.labels.get("job") == "node" &&
            ser.labels.get("instance") == target && !ser.samples.empty())
          out[ser.labels] = ser.samples.back().value;
    return out;
  };
  REQUIRE(strata::testing::eventually(
      [&] {
        auto up = latest("up");
        return up.size() == 1 && up.begin()->second == 1 &&
               latest("node_cpu_seconds_total").size() >= 8;
      },
      20s));
  // The OpenMetrics target: its series with job="om", no _created series.
  REQUIRE(strata::testing::eventually(
      [&] {
        for (const auto& b : collector.metrics())
          for (const auto& ser : b.series)
            if (ser.labels.get("__name__") == "app_request_duration_seconds_bucket" &&
                ser.labels.get("job") == "om" && ser.labels.get("instance") == om_target)
              return true;
        return false;
      },
      20s));
  for (const auto& b : collector.metrics())
    for (const auto& ser : b.series) CHECK_FALSE(ser.labels.get("__name__").ends_with("_created"));
  const auto cpu = latest("node_cpu_seconds_total");
  CHECK(cpu.begin()->first.get("env") == "ci");
  CHECK(cpu.begin()->first.get("mode") != "");
  CHECK(latest("scrape_samples_scraped").begin()->second > 100);
  CHECK(latest("scrape_duration_seconds").begin()->second < 0.25);

  node->kill9();
  REQUIRE(strata::testing::eventually(
      [&] {
        auto up = latest("up");
        return !up.empty() && up.begin()->second == 0;
      },
      10s));
  // Every node_cpu series of the last good scrape got a StaleNaN.
  std::size_t stale = 0;
  for (const auto& b : collector.metrics())
    for (const auto& ser : b.series)
      if (ser.labels.get("__name__") == "node_cpu_seconds_total")
        for (const auto& smp : ser.samples) stale += wire::is_stale_nan(smp.value);
  CHECK(stale == cpu.size());
  agent.stop();
}

namespace {

// A scrape target served in-process: one gauge named after the target, and
// an optional delay per request (a slow exporter).
class FakeTarget {
 public:
  FakeTarget(std::string metric, std::chrono::milliseconds delay)
      : metric_(std::move(metric)), server_(options()) {
    server_.add_route("GET", "/metrics", [this, delay](const http::Request&) {
      std::this_thread::sleep_for(delay);
      return http::Response::text(200, "# TYPE " + metric_ + " gauge\n" + metric_ + " 1\n");
    });
    server_.start();
  }
  ~FakeTarget() { server_.stop(); }
  std::string url() const { return "http://" + server_.address() + "/metrics"; }

 private:
  static http::ServerOptions options() {
    http::ServerOptions o;
    o.shutdown_grace = std::chrono::milliseconds(200);
    return o;
  }
  std::string metric_;
  http::HttpServer server_;
};

AgentOptions scrape_only(const std::string& collector, const agent::testing::TempDir& dir) {
  AgentOptions o;
  o.http.listen = "127.0.0.1:0";
  o.collector_urls = {collector};
  o.proc_path = dir / "proc";
  o.interval = std::chrono::hours(1);
  o.instance = "test-host";
  return o;
}

// (metric name, value) of every sample the collector got, in order.
std::vector<std::pair<std::string, double>> samples_named(const agent::testing::FakeCollector& c,
                                                          const std::string& name) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& b : c.metrics())
    for (const auto& s : b.series)
      if (s.labels.get("__name__") == name)
        for (const auto& p : s.samples)
          out.emplace_back(std::string(s.labels.get("instance")), p.value);
  return out;
}

}  // namespace

TEST_CASE("agent scrapes each target on its own schedule: a slow one delays no other",
          "[integration][agent][scrape]") {
  agent::testing::FakeCollector collector;
  agent::testing::TempDir dir;
  agent::testing::write_fake_proc(dir / "proc");
  FakeTarget fast("fast_gauge", 0ms), slow("slow_gauge", 1500ms);
  AgentOptions o = scrape_only(collector.url(), dir);
  o.scrape_configs = {{"fast", {fast.url()}, 200ms, 2000ms}, {"slow", {slow.url()}, 200ms, 2000ms}};
  Agent agent(o);
  agent.start();
  // One after the other, each 1.5 s scrape of the slow target would hold the
  // fast one back: at most 2 fast scrapes in 2 s. On its own loop it gets ~10.
  std::this_thread::sleep_for(2s);
  const std::size_t fast_scrapes = samples_named(collector, "fast_gauge").size();
  const std::size_t slow_scrapes = samples_named(collector, "slow_gauge").size();
  agent.stop();
  INFO("fast " << fast_scrapes << ", slow " << slow_scrapes);
  CHECK(fast_scrapes >= 5);
  CHECK(slow_scrapes <= 2);
}

TEST_CASE("agent reload: a removed target's series get staleness markers, a kept one goes on",
          "[integration][agent][scrape]") {
  agent::testing::FakeCollector collector;
  agent::testing::TempDir dir;
  agent::testing::write_fake_proc(dir / "proc");
  FakeTarget kept("kept_gauge", 0ms), removed("removed_gauge", 0ms);
  AgentOptions o = scrape_only(collector.url(), dir);
  o.scrape_configs = {{"kept", {kept.url()}, 200ms, 1000ms},
                      {"removed", {removed.url()}, 200ms, 1000ms}};
  auto first = std::make_unique<Agent>(o);
  first->start();
  REQUIRE(strata::testing::eventually(
      [&] {
        return !samples_named(collector, "kept_gauge").empty() &&
               !samples_named(collector, "removed_gauge").empty();
      },
      10s));
  first->stop();
  // What main.cpp does on SIGHUP.
  AgentOptions next = o;
  next.scrape_configs = {{"kept", {kept.url()}, 200ms, 1000ms}};
  next.scrapers = first->take_scrapers();
  CHECK(next.scrapers.size() == 2);
  first.reset();
  Agent second(next);
  second.start();
  auto stale_of = [&](const std::string& name) {
    std::size_t n = 0;
    for (const auto& [instance, v] : samples_named(collector, name)) n += wire::is_stale_nan(v);
    return n;
  };
  // The removed target: its gauge and its `up` marked stale once; the kept
  // one: scraped on, never marked.
  REQUIRE(strata::testing::eventually([&] { return stale_of("removed_gauge") == 1; }, 10s));
  const std::size_t kept_before = samples_named(collector, "kept_gauge").size();
  REQUIRE(strata::testing::eventually(
      [&] { return samples_named(collector, "kept_gauge").size() > kept_before + 2; }, 10s));
  second.stop();
  CHECK(stale_of("kept_gauge") == 0);
  std::size_t up_stale = 0;
  for (const auto& b : collector.metrics())
    for (const auto& s : b.series)
      if (s.labels.get("__name__") == "up" && s.labels.get("job") == "removed")
        for (const auto& p : s.samples) up_stale += wire::is_stale_nan(p.value);
  CHECK(up_stale == 1);
}

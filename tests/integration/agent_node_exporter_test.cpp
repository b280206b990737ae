// The agent's host metrics against the real prometheus-node-exporter on the
// same machine, read at the same moment: every family the agent emits must
// exist in node_exporter's output with the same label names (and, per
// series, the same label values), gauges must agree within a tolerance
// suited to each, and counters must lie between the agent's readings taken
// just before and just after node_exporter's (the scrape-time drift).
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "agent/host_metrics.h"
#include "common/exposition_parser.h"
#include "common/http_client.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::agent;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";

// Series by label set without instance/job (node_exporter's own page has
// neither; a Prometheus scraping it would add them).
std::map<Labels, double> by_labels(const std::vector<wire::Series>& series) {
  std::map<Labels, double> out;
  for (const auto& s : series) {
    std::vector<Label> l;
    for (const auto& kv : s.labels.items())
      if (kv.first != "instance" && kv.first != "job") l.push_back(kv);
    out[Labels(std::move(l))] = s.samples.at(0).value;
  }
  return out;
}

std::set<std::string> label_names(const Labels& l) {
  std::set<std::string> out;
  for (const auto& kv : l.items()) out.insert(kv.first);
  return out;
}

}  // namespace

TEST_CASE("host metrics agree with the real node_exporter", "[integration][agent][node_exporter]") {
  if (access(kNodeExporter, X_OK) != 0)
    FAIL("prometheus-node-exporter missing: run scripts/setup.sh");
  const int port = strata::testing::free_port();
  strata::testing::ChildProcess exporter(
      "node_exporter", kNodeExporter,
      {"--web.listen-address=127.0.0.1:" + std::to_string(port), "--collector.disable-defaults",
       "--collector.cpu", "--collector.loadavg", "--collector.meminfo", "--collector.stat"});
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  REQUIRE(strata::testing::wait_http_ok(url, 15s));

  HostMetricsReader reader("/proc", Labels({{"instance", "h"}, {"job", "node"}}));
  http::HttpClient client;
  const HostMetrics before = reader.collect(0);
  REQUIRE(before.errors.empty());
  const auto resp = client.get(url);
  const HostMetrics after = reader.collect(0);
  REQUIRE(resp.ok());
  const auto node_page = parse_exposition(resp.body, 0);
  const auto node = by_labels(node_page.batch.series);
  const auto lo = by_labels(before.series);
  const auto hi = by_labels(after.series);
  std::map<std::string, std::string> node_types;
  for (const auto& m : node_page.metadata) node_types[m.family] = m.type;

  // Families and label names.
  std::map<std::string, std::set<std::string>> node_label_names;
  for (const auto& [l, v] : node) node_label_names[std::string(l.get("__name__"))] = label_names(l);
  std::set<std::string> families;
  for (const auto& [l, v] : lo) {
    const std::string name(l.get("__name__"));
    families.insert(name);
    INFO("series " << l.to_string());
    REQUIRE(node_label_names.count(name) == 1);
    CHECK(label_names(l) == node_label_names[name]);
    CHECK(node.count(l) == 1);  // the same series, label values included
  }
  CHECK(families.size() >= 14);

  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::size_t compared = 0;
  for (const auto& [l, v_lo] : lo) {
    auto it = node.find(l);
    if (it == node.end()) continue;
    const std::string name(l.get("__name__"));
    const double v_node = it->second;
    const double v_hi = hi.at(l);
    INFO(l.to_string() << ": agent " << v_lo << " .. " << v_hi << ", node_exporter " << v_node);
    ++compared;
    if (node_types[name] == "counter") {
      // Read in between our two readings; one clock tick of rounding.
      CHECK(v_node >= v_lo - 0.011);
      CHECK(v_node <= v_hi + 0.011);
    } else if (name.starts_with("node_load")) {
      CHECK(std::fabs(v_node - v_lo) <= 0.5 + 0.1 * v_lo);
    } else if (name.starts_with("node_memory_")) {
      // Other processes allocate meanwhile: 2% or 64 MiB.
      CHECK(std::fabs(v_node - v_lo) <= std::max(0.02 * v_lo, 64.0 * 1024 * 1024));
    } else if (name == "node_boot_time_seconds") {
      CHECK(v_node == v_lo);
    } else if (name == "node_procs_running") {
      CHECK(std::fabs(v_node - v_lo) <= static_cast<double>(cpus) + 4);
    } else {
      FAIL("no tolerance for " << name);
    }
  }
  CHECK(compared == lo.size());
}

// The agent's host metrics against the real prometheus-node-exporter on the
// same machine, read at the same moment: every family the agent emits must
// exist in node_exporter's output with the same HELP, TYPE and label names;
// every series of those families must be in both outputs (label values
// included: so the device and mount filters agree); gauges must agree within
// a tolerance suited to each, and counters must lie between the agent's
// readings taken just before and just after node_exporter's (the scrape-time
// drift).
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "agent/diskstats.h"
#include "agent/filesystem_stats.h"
#include "agent/host_metrics.h"
#include "common/exposition_parser.h"
#include "common/http_client.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::agent;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";

// Debian's package patches two of upstream node_exporter 1.5.0's defaults
// (its 03-Default_settings.patch): mount points also exclude /run, /mnt and
// /media, and netdev excludes lo. The agent follows upstream, so these are
// given to node_exporter explicitly: upstream 1.5.0's mount-point default, and
// a device exclusion that matches no device (upstream has none).
constexpr const char* kUpstreamMountPointsExclude =
    R"(^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/))";

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

// The default of `flag` in node_exporter's --help output (`--flag="..."`,
// Go-quoted), unquoted.
std::string help_default(const std::string& help, const std::string& flag) {
  const std::string start = "--" + flag + "=\"";
  const auto at = help.find(start);
  if (at == std::string::npos) return "<" + flag + " not in --help>";
  std::string out;
  for (std::size_t i = at + start.size(); i < help.size() && help[i] != '"'; ++i) {
    if (help[i] == '\\' && i + 1 < help.size()) ++i;
    out.push_back(help[i]);
  }
  return out;
}

// Only a statvfs failure may be an error on a real host (a mount this user
// may not stat); node_exporter then reports the same device_error 1.
void require_only_statvfs_errors(const HostMetrics& m) {
  for (const auto& e : m.errors) {
    INFO(e);
    REQUIRE(e.rfind("statvfs ", 0) == 0);
  }
}

}  // namespace

TEST_CASE("node_exporter's defaults are the agent's where Debian did not patch them",
          "[integration][agent][node_exporter]") {
  if (access(kNodeExporter, X_OK) != 0)
    FAIL("prometheus-node-exporter missing: run scripts/setup.sh");
  strata::testing::ChildProcess help("node_exporter --help", kNodeExporter, {"--help"});
  REQUIRE(strata::testing::eventually([&] { return !help.running(); }, 15s));
  const std::string out = help.output();
  INFO(out);
  CHECK(help_default(out, "collector.diskstats.device-exclude") == kDiskstatsDeviceExclude);
  CHECK(help_default(out, "collector.filesystem.fs-types-exclude") == kFilesystemFsTypesExclude);
  CHECK(std::string(kFilesystemMountPointsExclude) == kUpstreamMountPointsExclude);
}

TEST_CASE("host metrics agree with the real node_exporter", "[integration][agent][node_exporter]") {
  if (access(kNodeExporter, X_OK) != 0)
    FAIL("prometheus-node-exporter missing: run scripts/setup.sh");
  const int port = strata::testing::free_port();
  strata::testing::ChildProcess exporter(
      "node_exporter", kNodeExporter,
      {"--web.listen-address=127.0.0.1:" + std::to_string(port), "--collector.disable-defaults",
       "--collector.cpu", "--collector.loadavg", "--collector.meminfo", "--collector.stat",
       "--collector.diskstats", "--collector.filesystem", "--collector.netdev",
       std::string("--collector.filesystem.mount-points-exclude=") + kUpstreamMountPointsExclude,
       "--collector.netdev.device-exclude=^$"});
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  REQUIRE(strata::testing::wait_http_ok(url, 15s));

  HostMetricsReader reader("/proc", Labels({{"instance", "h"}, {"job", "node"}}));
  http::HttpClient client;
  const HostMetrics before = reader.collect(0);
  const auto resp = client.get(url);
  const HostMetrics after = reader.collect(0);
  require_only_statvfs_errors(before);
  require_only_statvfs_errors(after);
  REQUIRE(resp.ok());
  const auto node_page = parse_exposition(resp.body, 0);
  const auto node = by_labels(node_page.batch.series);
  const auto lo = by_labels(before.series);
  const auto hi = by_labels(after.series);
  std::map<std::string, MetricMetadata> node_meta;
  for (const auto& m : node_page.metadata) node_meta[m.family] = m;
  std::map<std::string, const MetricFamily*> ours;
  for (const auto& f : host_metric_families()) ours[f.name] = &f;

  // Families: HELP, TYPE and label names.
  std::map<std::string, std::set<std::string>> node_label_names;
  for (const auto& [l, v] : node) node_label_names[std::string(l.get("__name__"))] = label_names(l);
  std::set<std::string> families;
  for (const auto& [l, v] : lo) {
    const std::string name(l.get("__name__"));
    INFO("series " << l.to_string());
    REQUIRE(ours.count(name) == 1);
    REQUIRE(node_label_names.count(name) == 1);
    CHECK(label_names(l) == node_label_names[name]);
    if (families.insert(name).second) {
      CHECK(node_meta[name].type == ours[name]->type);
      CHECK(node_meta[name].help == ours[name]->help);
    }
  }
  // 14 from loadavg/cpu/meminfo/stat before, now 17; 16 netdev (lo always
  // exists) and 7 filesystem (some real mount always does); diskstats only
  // when the host has a disk node_exporter does not exclude (compared below).
  CHECK(families.size() >= 17 + 16 + 7);
  for (const char* f : {"node_forks_total", "node_intr_total", "node_procs_blocked",
                        "node_network_receive_bytes_total", "node_network_transmit_colls_total",
                        "node_filesystem_avail_bytes", "node_filesystem_device_error"})
    CHECK(families.count(f) == 1);

  // The same series on both sides. A device or mount that appears or goes
  // between the readings is only required where it was there throughout.
  std::size_t stable = 0;
  for (const auto& [l, v] : lo) {
    if (!hi.count(l)) continue;
    ++stable;
    INFO("agent series " << l.to_string());
    CHECK(node.count(l) == 1);
  }
  for (const auto& [l, v] : node) {
    if (!ours.count(std::string(l.get("__name__")))) continue;
    INFO("node_exporter series " << l.to_string());
    CHECK((lo.count(l) == 1 || hi.count(l) == 1));
  }

  // Values.
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::size_t compared = 0;
  for (const auto& [l, v_lo] : lo) {
    auto it = node.find(l);
    auto it_hi = hi.find(l);
    if (it == node.end() || it_hi == hi.end()) continue;
    const std::string name(l.get("__name__"));
    const double v_node = it->second;
    const double v_hi = it_hi->second;
    const double v_min = std::min(v_lo, v_hi), v_max = std::max(v_lo, v_hi);
    // node_exporter's reading lies between ours, give or take `slack`.
    auto between = [&](double slack) { return v_node >= v_min - slack && v_node <= v_max + slack; };
    INFO(l.to_string() << ": agent " << v_lo << " .. " << v_hi << ", node_exporter " << v_node);
    ++compared;
    if (std::string(ours.at(name)->type) == "counter") {
      // Read in between our two readings; one clock tick of rounding (CPU).
      CHECK(v_node >= v_lo - 0.011);
      CHECK(v_node <= v_hi + 0.011);
    } else if (name.starts_with("node_load")) {
      CHECK(std::fabs(v_node - v_lo) <= 0.5 + 0.1 * v_lo);
    } else if (name.starts_with("node_memory_")) {
      // Other processes allocate meanwhile: 2% or 64 MiB.
      CHECK(std::fabs(v_node - v_lo) <= std::max(0.02 * v_lo, 64.0 * 1024 * 1024));
    } else if (name == "node_boot_time_seconds") {
      CHECK(v_node == v_lo);
    } else if (name == "node_procs_running" || name == "node_procs_blocked") {
      CHECK(between(static_cast<double>(cpus) + 8));
    } else if (name == "node_disk_io_now") {
      // Requests in flight swing freely under load; a wrong column (a time
      // in ms, a completed count) would be far off.
      CHECK(between(256));
    } else if (name == "node_filesystem_size_bytes") {
      CHECK(between(0.001 * v_max));
    } else if (name == "node_filesystem_free_bytes" || name == "node_filesystem_avail_bytes") {
      // Others write and delete meanwhile: 0.2% of the filesystem or 64 MiB.
      Labels size_labels = l;
      size_labels.set("__name__", "node_filesystem_size_bytes");
      const double size = lo.count(size_labels) ? lo.at(size_labels) : 0;
      CHECK(between(std::max(0.002 * size, 64.0 * 1024 * 1024)));
    } else if (name == "node_filesystem_files" || name == "node_filesystem_files_free") {
      CHECK(between(std::max(0.002 * v_max, 4096.0)));
    } else if (name == "node_filesystem_readonly" || name == "node_filesystem_device_error") {
      CHECK(v_node == v_lo);
    } else {
      FAIL("no tolerance for " << name);
    }
  }
  CHECK(compared == stable);
  CHECK(compared > 100);
}

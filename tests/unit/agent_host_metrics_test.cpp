#include <catch2/catch.hpp>

#include <map>

#include "agent/host_metrics.h"
#include "agent_test_util.h"

using namespace strata;
using namespace strata::agent;
using strata::agent::testing::TempDir;
using strata::agent::testing::write_fake_proc;
using strata::agent::testing::write_file;

namespace {

const Labels kBase({{"instance", "host-a"}, {"job", "node"}, {"env", "test"}});
constexpr std::int64_t kNow = 1'700'000'123'456;

// Keyed by the series' label set rendered without the base labels.
std::map<std::string, double> by_key(const HostMetrics& m) {
  std::map<std::string, double> out;
  for (const auto& s : m.series) {
    REQUIRE(s.samples.size() == 1);
    CHECK(s.samples[0].timestamp_ms == kNow);
    CHECK(s.labels.get("instance") == "host-a");
    CHECK(s.labels.get("job") == "node");
    CHECK(s.labels.get("env") == "test");
    std::string key(s.labels.get("__name__"));
    if (!s.labels.get("cpu").empty())
      key += "{cpu=" + std::string(s.labels.get("cpu")) +
             ",mode=" + std::string(s.labels.get("mode")) + "}";
    CHECK(out.count(key) == 0);  // no duplicate series
    out[key] = s.samples[0].value;
  }
  return out;
}

}  // namespace

TEST_CASE("host metrics: fake proc tree gives exact node_exporter series", "[unit][agent][host]") {
  TempDir dir;
  write_fake_proc(dir.path());
  HostMetricsReader reader(dir.path(), kBase, /*clock_ticks=*/100);
  HostMetrics m = reader.collect(kNow);
  CHECK(m.errors.empty());
  auto v = by_key(m);

  CHECK(v.at("node_load1") == 0.52);
  CHECK(v.at("node_load5") == 1.25);
  CHECK(v.at("node_load15") == 2.0);

  // Per-CPU only: the aggregate "cpu" line is not exported.
  CHECK(v.count("node_cpu_seconds_total{cpu=,mode=user}") == 0);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=user}") == 1.0);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=nice}") == 0.1);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=system}") == 0.5);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=idle}") == 20.0);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=iowait}") == 0.25);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=irq}") == 0.03);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=softirq}") == 0.04);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=steal}") == 0.05);
  CHECK(v.at("node_cpu_seconds_total{cpu=1,mode=user}") == 2.0);
  CHECK(v.at("node_cpu_seconds_total{cpu=1,mode=steal}") == 0.03);

  CHECK(v.at("node_memory_MemTotal_bytes") == 16318852.0 * 1024);
  CHECK(v.at("node_memory_MemFree_bytes") == 1000000.0 * 1024);
  CHECK(v.at("node_memory_MemAvailable_bytes") == 8000000.0 * 1024);
  CHECK(v.at("node_memory_Buffers_bytes") == 200000.0 * 1024);
  CHECK(v.at("node_memory_Cached_bytes") == 4000000.0 * 1024);
  CHECK(v.at("node_memory_SwapTotal_bytes") == 2097148.0 * 1024);
  CHECK(v.at("node_memory_SwapFree_bytes") == 2097148.0 * 1024);
  CHECK(v.count("node_memory_SwapCached_bytes") == 0);

  CHECK(v.at("node_boot_time_seconds") == 1700000000.0);
  CHECK(v.at("node_context_switches_total") == 987654.0);
  CHECK(v.at("node_procs_running") == 3.0);

  // 3 load + 2 cpus x 8 modes + 7 memory + boot, ctxt, running.
  CHECK(m.series.size() == 3 + 16 + 7 + 3);
}

TEST_CASE("host metrics: boot time falls back to uptime without btime", "[unit][agent][host]") {
  TempDir dir;
  write_fake_proc(dir.path());
  write_file(dir / "stat", "cpu0 1 2 3 4\nctxt 5\n");  // old kernel: 4 columns, no btime
  HostMetrics m = HostMetricsReader(dir.path(), kBase, 100).collect(kNow);
  CHECK(m.errors.empty());
  auto v = by_key(m);
  // now 1700000123.456 s - uptime 3600.5 s = 1699996522.956 -> whole seconds
  CHECK(v.at("node_boot_time_seconds") == 1699996522.0);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=idle}") == 0.04);
  CHECK(v.count("node_cpu_seconds_total{cpu=0,mode=iowait}") == 0);
  CHECK(v.at("node_context_switches_total") == 5.0);
}

TEST_CASE("host metrics: malformed input is skipped and counted, never fatal",
          "[unit][agent][host]") {
  TempDir dir;
  write_fake_proc(dir.path());

  SECTION("garbage loadavg") {
    write_file(dir / "loadavg", "not a load average\n");
    HostMetrics m = HostMetricsReader(dir.path(), kBase, 100).collect(kNow);
    REQUIRE(m.errors.size() == 1);
    CHECK(m.errors[0].find("loadavg") != std::string::npos);
    auto v = by_key(m);
    CHECK(v.count("node_load1") == 0);
    CHECK(v.at("node_procs_running") == 3.0);  // the rest still parsed
  }
  SECTION("bad lines in stat and meminfo") {
    write_file(dir / "stat",
               "cpu0 100 10 50 2000 25 3 4 5\n"
               "cpu1 x y z w\n"  // non-numeric
               "cpuX 1 2 3 4\n"  // bad cpu index
               "cpu2 1 2\n"      // too few columns
               "ctxt\n"          // missing value
               "btime 1700000000\n"
               "procs_running -1\n"  // not an unsigned count
               "\n");
    write_file(dir / "meminfo",
               "MemTotal: lots kB\n"
               "MemFree:         1000000 kB\n"
               "garbage line without colon\n"
               "Cached:   5 MB\n");
    HostMetrics m = HostMetricsReader(dir.path(), kBase, 100).collect(kNow);
    CHECK(m.errors.size() == 8);
    auto v = by_key(m);
    CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=user}") == 1.0);
    CHECK(v.count("node_cpu_seconds_total{cpu=1,mode=user}") == 0);
    CHECK(v.count("node_context_switches_total") == 0);
    CHECK(v.count("node_procs_running") == 0);
    CHECK(v.at("node_boot_time_seconds") == 1700000000.0);
    CHECK(v.count("node_memory_MemTotal_bytes") == 0);
    CHECK(v.at("node_memory_MemFree_bytes") == 1000000.0 * 1024);
    CHECK(v.count("node_memory_Cached_bytes") == 0);
  }
  SECTION("missing files") {
    HostMetrics m = HostMetricsReader(dir / "nonexistent", kBase, 100).collect(kNow);
    CHECK(m.series.empty());
    CHECK(m.errors.size() == 4);  // loadavg, stat, uptime (fallback), meminfo
  }
  SECTION("binary junk") {
    write_file(dir / "stat", std::string("\0\xff\xfe cpu0 \x01\n\n\n", 12));
    write_file(dir / "meminfo", std::string(1000, '\0'));
    HostMetrics m = HostMetricsReader(dir.path(), kBase, 100).collect(kNow);
    CHECK_FALSE(m.errors.empty());
    CHECK(by_key(m).at("node_load1") == 0.52);
  }
}

TEST_CASE("host metrics: the real /proc", "[unit][agent][host]") {
  HostMetrics m = HostMetricsReader("/proc", kBase).collect(kNow);
  INFO((m.errors.empty() ? std::string() : m.errors.front()));
  CHECK(m.errors.empty());
  auto v = by_key(m);
  REQUIRE(v.count("node_load1") == 1);
  CHECK(v.at("node_load1") >= 0);
  CHECK(v.at("node_memory_MemTotal_bytes") > 0);
  CHECK(v.count("node_cpu_seconds_total{cpu=0,mode=user}") == 1);
  CHECK(v.at("node_boot_time_seconds") > 1e9);
}

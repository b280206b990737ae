#include <catch2/catch.hpp>

#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "agent/diskstats.h"
#include "agent/filesystem_stats.h"
#include "agent/host_metrics.h"
#include "agent/netdev.h"
#include "agent_test_util.h"

using namespace strata;
using namespace strata::agent;
using strata::agent::testing::eventually;
using strata::agent::testing::TempDir;
using strata::agent::testing::write_fake_proc;
using strata::agent::testing::write_file;

namespace {

const Labels kBase({{"instance", "host-a"}, {"job", "node"}, {"env", "test"}});
constexpr std::int64_t kNow = 1'700'000'123'456;
constexpr double kMax64 = 18446744073709551615.0;  // 2^64 - 1 as a double (== 2^64)

// Keyed by the series' label set rendered without the base labels:
// name{label=value,...}, labels in name order.
std::map<std::string, double> by_key(const HostMetrics& m) {
  std::map<std::string, double> out;
  for (const auto& s : m.series) {
    REQUIRE(s.samples.size() == 1);
    CHECK(s.samples[0].timestamp_ms == kNow);
    CHECK(s.labels.get("instance") == "host-a");
    CHECK(s.labels.get("job") == "node");
    CHECK(s.labels.get("env") == "test");
    std::string key(s.labels.get("__name__")), extra;
    for (const auto& [k, v] : s.labels.items()) {
      if (k == "__name__" || k == "instance" || k == "job" || k == "env") continue;
      extra += (extra.empty() ? "" : ",") + k + "=" + v;
    }
    if (!extra.empty()) key += "{" + extra + "}";
    CHECK(out.count(key) == 0);  // no duplicate series
    out[key] = s.samples[0].value;
  }
  return out;
}

std::size_t count_prefix(const std::map<std::string, double>& v, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& [k, x] : v) n += k.rfind(prefix, 0) == 0;
  return n;
}

struct statvfs fake_st(unsigned long bsize, fsblkcnt_t blocks, fsblkcnt_t bfree, fsblkcnt_t bavail,
                       fsfilcnt_t files, fsfilcnt_t ffree) {
  struct statvfs st {};
  st.f_bsize = bsize;
  st.f_frsize = bsize;
  st.f_blocks = blocks;
  st.f_bfree = bfree;
  st.f_bavail = bavail;
  st.f_files = files;
  st.f_ffree = ffree;
  return st;
}

// A statvfs that answers from a table (ENOENT for anything else) and counts
// its calls per path.
struct FakeFs {
  std::mutex mu;
  std::map<std::string, struct statvfs> table;
  std::map<std::string, int> errors;  // path -> errno
  std::map<std::string, int> calls;

  BoundedStatvfs::StatFn fn(std::shared_ptr<FakeFs> self) {
    return [self](const std::string& path, struct statvfs& out) {
      std::lock_guard lock(self->mu);
      ++self->calls[path];
      if (auto e = self->errors.find(path); e != self->errors.end()) return e->second;
      auto it = self->table.find(path);
      if (it == self->table.end()) return ENOENT;
      out = it->second;
      return 0;
    };
  }
};

// Everything write_fake_proc() writes, plus diskstats, net/dev and 1/mounts.
void write_full_fake_proc(const std::string& dir) {
  write_fake_proc(dir);
  write_file(dir + "/diskstats",
             // kernel 5.5+: 17 counters
             " 254       0 vda 969794 37792 43002554 5615975 382587 66798 166285008 1650529 0 "
             "437392 7401499 31298 69 110364280 51142 50088 83852\n"
             // partition of vda, loop and ram devices: excluded by default
             " 254       1 vda1 100 0 200 10 50 0 100 5 0 20 30 0 0 0 0 0 0\n"
             "   7       0 loop0 1 2 3 4 5 6 7 8 0 9 10 0 0 0 0 0 0\n"
             "   1       0 ram0 1 2 3 4 5 6 7 8 0 9 10 0 0 0 0 0 0\n"
             // a device-mapper device: not excluded
             " 253       0 dm-0 10 0 80 7 20 0 160 9 2 15 16 1 0 8 3 4 5\n");
  write_file(dir + "/net/dev",
             "Inter-|   Receive                                                |  Transmit\n"
             " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
             "errs drop fifo colls carrier compressed\n"
             "    lo: 4601810059  979056    0    0    0     0          0         0 4601810059  "
             "979056    0    0    0     0       0          0\n"
             "  eth0: 82558448    2408    1    2    3     4          5         6   105666    1417 "
             "   7    8    9    10       11          12\n");
  write_file(dir + "/1/mounts",
             "proc /proc proc rw,relatime 0 0\n"
             "sysfs /sys sysfs rw,relatime 0 0\n"
             "/dev/vda / ext4 rw,relatime,discard 0 0\n"
             "tmpfs /run tmpfs rw,nosuid,nodev,size=100k 0 0\n"
             "/dev/vdb /mnt/my\\040data xfs ro,relatime 0 0\n"
             "tmpfs /dev/shm tmpfs rw,relatime 0 0\n"
             "cgroup2 /sys/fs/cgroup cgroup2 rw,relatime 0 0\n");
}

std::shared_ptr<FakeFs> fake_fs_for_full_proc() {
  auto fs = std::make_shared<FakeFs>();
  fs->table["/"] = fake_st(4096, 1000, 600, 500, 100, 40);
  fs->table["/run"] = fake_st(4096, 25, 24, 24, 50, 45);
  fs->table["/mnt/my data"] = fake_st(512, 2000, 1000, 1000, 10, 5);
  return fs;
}

}  // namespace

TEST_CASE("host metrics: fake proc tree gives exact node_exporter series", "[unit][agent][host]") {
  TempDir dir;
  write_full_fake_proc(dir.path());
  auto fs = fake_fs_for_full_proc();
  auto statter = std::make_shared<BoundedStatvfs>(std::chrono::seconds(30), fs->fn(fs));
  HostMetricsReader reader(dir.path(), kBase, /*clock_ticks=*/100, statter);
  HostMetrics m = reader.collect(kNow);
  INFO((m.errors.empty() ? std::string() : m.errors.front()));
  CHECK(m.errors.empty());
  auto v = by_key(m);

  CHECK(v.at("node_load1") == 0.52);
  CHECK(v.at("node_load5") == 1.25);
  CHECK(v.at("node_load15") == 2.0);

  // Per-CPU only: the aggregate "cpu" line is not exported.
  CHECK(v.count("node_cpu_seconds_total{mode=user}") == 0);
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
  CHECK(v.at("node_procs_blocked") == 0.0);
  CHECK(v.at("node_forks_total") == 4242.0);
  CHECK(v.at("node_intr_total") == 12345.0);

  // diskstats: ms -> s, 512-byte sectors -> bytes; discarded sectors stay sectors.
  CHECK(v.at("node_disk_reads_completed_total{device=vda}") == 969794);
  CHECK(v.at("node_disk_reads_merged_total{device=vda}") == 37792);
  CHECK(v.at("node_disk_read_bytes_total{device=vda}") == 43002554.0 * 512);
  CHECK(v.at("node_disk_read_time_seconds_total{device=vda}") == Approx(5615.975));
  CHECK(v.at("node_disk_writes_completed_total{device=vda}") == 382587);
  CHECK(v.at("node_disk_writes_merged_total{device=vda}") == 66798);
  CHECK(v.at("node_disk_written_bytes_total{device=vda}") == 166285008.0 * 512);
  CHECK(v.at("node_disk_write_time_seconds_total{device=vda}") == Approx(1650.529));
  CHECK(v.at("node_disk_io_now{device=vda}") == 0);
  CHECK(v.at("node_disk_io_time_seconds_total{device=vda}") == Approx(437.392));
  CHECK(v.at("node_disk_io_time_weighted_seconds_total{device=vda}") == Approx(7401.499));
  CHECK(v.at("node_disk_discards_completed_total{device=vda}") == 31298);
  CHECK(v.at("node_disk_discards_merged_total{device=vda}") == 69);
  CHECK(v.at("node_disk_discarded_sectors_total{device=vda}") == 110364280);
  CHECK(v.at("node_disk_discard_time_seconds_total{device=vda}") == Approx(51.142));
  CHECK(v.at("node_disk_flush_requests_total{device=vda}") == 50088);
  CHECK(v.at("node_disk_flush_requests_time_seconds_total{device=vda}") == Approx(83.852));
  CHECK(v.at("node_disk_io_now{device=dm-0}") == 2);
  CHECK(count_prefix(v, "node_disk_") == 2 * 17);  // vda and dm-0; vda1, loop0, ram0 excluded

  // netdev: every column, lo included (no default exclusion upstream).
  CHECK(v.at("node_network_receive_bytes_total{device=lo}") == 4601810059.0);
  CHECK(v.at("node_network_receive_bytes_total{device=eth0}") == 82558448);
  CHECK(v.at("node_network_receive_packets_total{device=eth0}") == 2408);
  CHECK(v.at("node_network_receive_errs_total{device=eth0}") == 1);
  CHECK(v.at("node_network_receive_drop_total{device=eth0}") == 2);
  CHECK(v.at("node_network_receive_fifo_total{device=eth0}") == 3);
  CHECK(v.at("node_network_receive_frame_total{device=eth0}") == 4);
  CHECK(v.at("node_network_receive_compressed_total{device=eth0}") == 5);
  CHECK(v.at("node_network_receive_multicast_total{device=eth0}") == 6);
  CHECK(v.at("node_network_transmit_bytes_total{device=eth0}") == 105666);
  CHECK(v.at("node_network_transmit_packets_total{device=eth0}") == 1417);
  CHECK(v.at("node_network_transmit_errs_total{device=eth0}") == 7);
  CHECK(v.at("node_network_transmit_drop_total{device=eth0}") == 8);
  CHECK(v.at("node_network_transmit_fifo_total{device=eth0}") == 9);
  CHECK(v.at("node_network_transmit_colls_total{device=eth0}") == 10);
  CHECK(v.at("node_network_transmit_carrier_total{device=eth0}") == 11);
  CHECK(v.at("node_network_transmit_compressed_total{device=eth0}") == 12);
  CHECK(count_prefix(v, "node_network_") == 2 * 16);

  // filesystem: pseudo filesystems and /dev, /proc, /sys mount points left out.
  const std::string root = "{device=/dev/vda,fstype=ext4,mountpoint=/}";
  CHECK(v.at("node_filesystem_size_bytes" + root) == 1000.0 * 4096);
  CHECK(v.at("node_filesystem_free_bytes" + root) == 600.0 * 4096);
  CHECK(v.at("node_filesystem_avail_bytes" + root) == 500.0 * 4096);
  CHECK(v.at("node_filesystem_files" + root) == 100);
  CHECK(v.at("node_filesystem_files_free" + root) == 40);
  CHECK(v.at("node_filesystem_readonly" + root) == 0);
  CHECK(v.at("node_filesystem_device_error" + root) == 0);
  const std::string data = "{device=/dev/vdb,fstype=xfs,mountpoint=/mnt/my data}";
  CHECK(v.at("node_filesystem_size_bytes" + data) == 2000.0 * 512);
  CHECK(v.at("node_filesystem_readonly" + data) == 1);
  CHECK(v.at("node_filesystem_files_free{device=tmpfs,fstype=tmpfs,mountpoint=/run}") == 45);
  CHECK(count_prefix(v, "node_filesystem_") == 3 * 7);
  {
    std::lock_guard lock(fs->mu);
    CHECK(fs->calls == std::map<std::string, int>{{"/", 1}, {"/run", 1}, {"/mnt/my data", 1}});
  }

  // 3 load + 2 cpus x 8 modes + 7 memory + boot, ctxt, forks, intr, running,
  // blocked + 2 disks x 17 + 2 interfaces x 16 + 3 filesystems x 7.
  CHECK(m.series.size() == 3 + 16 + 7 + 6 + 34 + 32 + 21);

  // Every series belongs to a family with node_exporter's HELP and TYPE.
  std::set<std::string> known;
  for (const auto& f : host_metric_families()) known.insert(f.name);
  for (const auto& s : m.series) CHECK(known.count(std::string(s.labels.get("__name__"))) == 1);
}

TEST_CASE("host metrics: the family table", "[unit][agent][host]") {
  std::set<std::string> names;
  for (const auto& f : host_metric_families()) {
    INFO(f.name);
    CHECK(names.insert(f.name).second);
    const std::string name = f.name, type = f.type;
    CHECK((type == "counter" || type == "gauge"));
    // node_exporter's convention: counters, and only counters, end in _total.
    CHECK((type == "counter") == name.ends_with("_total"));
    CHECK(std::string(f.help).size() > 5);
  }
  CHECK(names.size() == 17 + 17 + 7 + 16);
}

TEST_CASE("host metrics: boot time falls back to uptime without btime", "[unit][agent][host]") {
  TempDir dir;
  write_full_fake_proc(dir.path());
  write_file(dir / "stat", "cpu0 1 2 3 4\nctxt 5\n");  // old kernel: 4 columns, no btime
  auto fs = fake_fs_for_full_proc();
  auto statter = std::make_shared<BoundedStatvfs>(std::chrono::seconds(30), fs->fn(fs));
  HostMetrics m = HostMetricsReader(dir.path(), kBase, 100, statter).collect(kNow);
  CHECK(m.errors.empty());
  auto v = by_key(m);
  // now 1700000123.456 s - uptime 3600.5 s = 1699996522.956 -> whole seconds
  CHECK(v.at("node_boot_time_seconds") == 1699996522.0);
  CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=idle}") == 0.04);
  CHECK(v.count("node_cpu_seconds_total{cpu=0,mode=iowait}") == 0);
  CHECK(v.at("node_context_switches_total") == 5.0);
  CHECK(v.count("node_forks_total") == 0);
  CHECK(v.count("node_intr_total") == 0);
}

TEST_CASE("host metrics: malformed input is skipped and counted, never fatal",
          "[unit][agent][host]") {
  TempDir dir;
  write_full_fake_proc(dir.path());
  auto fs = fake_fs_for_full_proc();
  auto statter = std::make_shared<BoundedStatvfs>(std::chrono::seconds(30), fs->fn(fs));
  auto collect = [&](const std::string& proc) {
    return HostMetricsReader(proc, kBase, 100, statter).collect(kNow);
  };

  SECTION("garbage loadavg") {
    write_file(dir / "loadavg", "not a load average\n");
    HostMetrics m = collect(dir.path());
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
               "intr\n"              // no total
               "processes 12 13\n"   // one value expected
               "procs_blocked 2\n"
               "\n");
    write_file(dir / "meminfo",
               "MemTotal: lots kB\n"
               "MemFree:         1000000 kB\n"
               "garbage line without colon\n"
               "Cached:   5 MB\n");
    HostMetrics m = collect(dir.path());
    CHECK(m.errors.size() == 10);
    auto v = by_key(m);
    CHECK(v.at("node_cpu_seconds_total{cpu=0,mode=user}") == 1.0);
    CHECK(v.count("node_cpu_seconds_total{cpu=1,mode=user}") == 0);
    CHECK(v.count("node_context_switches_total") == 0);
    CHECK(v.count("node_procs_running") == 0);
    CHECK(v.count("node_intr_total") == 0);
    CHECK(v.count("node_forks_total") == 0);
    CHECK(v.at("node_procs_blocked") == 2.0);
    CHECK(v.at("node_boot_time_seconds") == 1700000000.0);
    CHECK(v.count("node_memory_MemTotal_bytes") == 0);
    CHECK(v.at("node_memory_MemFree_bytes") == 1000000.0 * 1024);
    CHECK(v.count("node_memory_Cached_bytes") == 0);
  }
  SECTION("missing files: their families are absent, each reported") {
    HostMetrics m = collect(dir / "nonexistent");
    CHECK(m.series.empty());
    // loadavg, stat, uptime (fallback), meminfo, diskstats, net/dev, mounts
    REQUIRE(m.errors.size() == 7);
    CHECK(m.errors[6].find("1/mounts") != std::string::npos);
    CHECK(m.errors[6].find("No such file or directory") != std::string::npos);
  }
  SECTION("only the new sources missing") {
    std::filesystem::remove(dir / "diskstats");
    std::filesystem::remove_all(dir / "net");
    std::filesystem::remove_all(dir / "1");
    HostMetrics m = collect(dir.path());
    REQUIRE(m.errors.size() == 3);
    CHECK(m.errors[0].find("diskstats: cannot read") != std::string::npos);
    CHECK(m.errors[1].find("net/dev: cannot read") != std::string::npos);
    auto v = by_key(m);
    CHECK(count_prefix(v, "node_disk_") == 0);
    CHECK(count_prefix(v, "node_network_") == 0);
    CHECK(count_prefix(v, "node_filesystem_") == 0);
    CHECK(v.at("node_load1") == 0.52);
  }
  SECTION("mounts falls back from 1/mounts to mounts") {
    std::filesystem::remove_all(dir / "1");
    write_file(dir / "mounts", "/dev/vda / ext4 rw 0 0\n");
    HostMetrics m = collect(dir.path());
    CHECK(m.errors.empty());
    CHECK(count_prefix(by_key(m), "node_filesystem_") == 7);
  }
  SECTION("binary junk") {
    write_file(dir / "stat", std::string("\0\xff\xfe cpu0 \x01\n\n\n", 12));
    write_file(dir / "meminfo", std::string(1000, '\0'));
    write_file(dir / "diskstats", std::string("\0\xff\n\x01 2 3", 8));
    write_file(dir / "net/dev", std::string(500, '\xff'));
    write_file(dir / "1/mounts", std::string("\0 \0 \0\n", 6));
    HostMetrics m = collect(dir.path());
    CHECK_FALSE(m.errors.empty());
    CHECK(by_key(m).at("node_load1") == 0.52);
  }
}

TEST_CASE("diskstats: kernel layouts, exclusions, malformed lines", "[unit][agent][host]") {
  SECTION("11, 15 and 17 counters: only the columns the kernel gives") {
    auto p = parse_diskstats(
        "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"                            // 2.6.25 .. 4.17
        "   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"                // 4.18 .. 5.4
        "   8      32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"          // 5.5+
        "   8      48 sdd 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n");  // future
    CHECK(p.errors.empty());
    REQUIRE(p.devices.size() == 4);
    CHECK(p.devices[0].device == "sda");
    CHECK(p.devices[0].columns == 11);
    CHECK(p.devices[1].columns == 15);
    CHECK(p.devices[2].columns == 17);
    CHECK(p.devices[3].columns == 17);
    CHECK(p.devices[2].values[16] == 17);
    CHECK(p.devices[3].values[16] == 17);
  }
  SECTION("node_exporter 1.5.0's default device exclusion") {
    CHECK(std::string(kDiskstatsDeviceExclude) ==
          R"(^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$)");
    for (const char* d : {"ram0", "ram15", "loop0", "loop12", "fd0", "sda1", "sdb12", "hda1",
                          "vda1", "xvda3", "nvme0n1p1", "nvme10n2p15"}) {
      INFO(d);
      CHECK(diskstats_device_excluded(d));
    }
    for (const char* d : {"sda", "sdaa", "sdaa1", "vda", "xvda", "nvme0n1", "dm-0", "md0", "zram0",
                          "sr0", "mmcblk0", "mmcblk0p1", "nbd0", "loop", "ram"}) {
      INFO(d);
      CHECK_FALSE(diskstats_device_excluded(d));
    }
    auto p = parse_diskstats(
        "7 0 loop0 1 2 3 4 5 6 7 8 9 10 11\n"
        "259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11\n"
        "259 1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11\n");
    REQUIRE(p.devices.size() == 1);
    CHECK(p.devices[0].device == "nvme0n1");
  }
  SECTION("malformed lines are reported with their line number, the rest kept") {
    auto p = parse_diskstats(
        "8 0 sda 1 2 3 4 5 6 7 8 9 10\n"                         // 10 counters: too few
        "8 16 sdb 1 2 x 4 5 6 7 8 9 10 11\n"                     // non-numeric
        "8 32 sdc 1 2 -3 4 5 6 7 8 9 10 11\n"                    // negative
        "a b sdd 1 2 3 4 5 6 7 8 9 10 11\n"                      // device numbers
        "8 48 sde 18446744073709551616 2 3 4 5 6 7 8 9 10 11\n"  // 2^64: too big
        "\n"
        "8 64 sdf 1 2 3 4 5 6 7 8 9 10 11\n",
        "fixture");
    REQUIRE(p.devices.size() == 1);
    CHECK(p.devices[0].device == "sdf");
    REQUIRE(p.errors.size() == 5);
    CHECK(p.errors[0] == "fixture line 1: expected at least 14 fields, got 13");
    CHECK(p.errors[1].find("fixture line 2: counter 3 of sdb") == 0);
    CHECK(p.errors[2].find("fixture line 3: counter 3 of sdc") == 0);
    CHECK(p.errors[3].find("fixture line 4: device numbers") == 0);
    CHECK(p.errors[4].find("fixture line 5: counter 1 of sde") == 0);
  }
  SECTION("counters near 2^64") {
    TempDir dir;
    write_full_fake_proc(dir.path());
    write_file(dir / "diskstats",
               "8 0 sda 18446744073709551615 18446744073709551614 18446744073709551615 "
               "18446744073709551615 0 0 36028797018963968 0 4294967295 0 0\n");
    auto fs = fake_fs_for_full_proc();
    auto statter = std::make_shared<BoundedStatvfs>(std::chrono::seconds(30), fs->fn(fs));
    HostMetrics m = HostMetricsReader(dir.path(), kBase, 100, statter).collect(kNow);
    CHECK(m.errors.empty());
    auto v = by_key(m);
    CHECK(v.at("node_disk_reads_completed_total{device=sda}") == kMax64);
    // Sectors x 512 in double: 2^64 x 512, not a wrapped 64-bit product.
    CHECK(v.at("node_disk_read_bytes_total{device=sda}") == kMax64 * 512);
    CHECK(v.at("node_disk_written_bytes_total{device=sda}") == std::ldexp(1.0, 64));
    CHECK(v.at("node_disk_read_time_seconds_total{device=sda}") == Approx(kMax64 / 1000));
    CHECK(v.at("node_disk_io_now{device=sda}") == 4294967295.0);
    CHECK(v.count("node_disk_discards_completed_total{device=sda}") == 0);  // 11 columns
    CHECK(count_prefix(v, "node_disk_") == 11);
  }
}

TEST_CASE("netdev: /proc/net/dev layouts and malformed lines", "[unit][agent][host]") {
  const std::string header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n";
  SECTION("names, columns, old kernels' eth0:NNN without a space, huge counters") {
    auto p = parse_net_dev(header +
                           "  eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
                           "wlp3s0: 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
                           "18446744073709551615\n"
                           "br-1a2b: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    CHECK(p.errors.empty());
    REQUIRE(p.devices.size() == 3);
    CHECK(p.devices[0].device == "eth0");
    for (std::size_t i = 0; i < kNetDevColumns; ++i) CHECK(p.devices[0].values[i] == i + 1);
    CHECK(p.devices[1].device == "wlp3s0");
    CHECK(p.devices[1].values[0] == 18446744073709551615ULL);
    CHECK(p.devices[1].values[15] == 18446744073709551615ULL);
    CHECK(p.devices[2].device == "br-1a2b");
    CHECK(std::string(net_dev_families()[5].name) == "node_network_receive_frame_total");
    CHECK(std::string(net_dev_families()[13].name) == "node_network_transmit_colls_total");
    CHECK(std::string(net_dev_families()[14].name) == "node_network_transmit_carrier_total");
  }
  SECTION("malformed lines are reported, the rest kept") {
    auto p = parse_net_dev(header +
                               "  eth0: 1 2 3\n"                                      // too few
                               "  eth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"  // too many
                               "  eth2: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n"      // non-numeric
                               "      : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"     // no name
                               "garbage\n"
                               "  eth3: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
                           "fixture");
    REQUIRE(p.devices.size() == 1);
    CHECK(p.devices[0].device == "eth3");
    REQUIRE(p.errors.size() == 5);
    CHECK(p.errors[0] == "fixture line 3: expected 16 counters for eth0, got 3");
    CHECK(p.errors[1] == "fixture line 4: expected 16 counters for eth1, got 17");
    CHECK(p.errors[2].find("fixture line 5: counter 16 of eth2") == 0);
    CHECK(p.errors[3] == "fixture line 6: empty interface name");
    CHECK(p.errors[4] == "fixture line 7: neither an interface line nor a header");
  }
  SECTION("an unknown column layout rejects the file rather than mislabel values") {
    auto p = parse_net_dev(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame multicast compressed|bytes    packets errs "
        "drop fifo colls carrier compressed\n"
        "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
        "fixture");
    CHECK(p.devices.empty());
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].find("fixture line 2: unexpected columns") == 0);
  }
}

TEST_CASE("filesystem: mount table, node_exporter's exclusions, dedup", "[unit][agent][host]") {
  SECTION("upstream node_exporter 1.5.0's default patterns") {
    CHECK(std::string(kFilesystemMountPointsExclude) ==
          "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)"
          "($|/)");
    CHECK(std::string(kFilesystemFsTypesExclude) ==
          "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|"
          "hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|"
          "selinuxfs|squashfs|sysfs|tracefs)$");
  }
  SECTION("parse, unescape, exclude") {
    auto p = parse_mounts(
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        "proc /proc proc rw 0 0\n"
        "sysfs /sys sysfs rw 0 0\n"
        "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
        "devtmpfs /dev devtmpfs rw 0 0\n"
        "tmpfs /dev/shm tmpfs rw 0 0\n"
        "tmpfs /run tmpfs rw 0 0\n"                        // kept (upstream)
        "tmpfs /run/credentials/a.service tmpfs ro 0 0\n"  // excluded
        "overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0\n"
        "shm /var/lib/containers/storage/x/shm tmpfs rw 0 0\n"
        "overlay /merged overlay rw 0 0\n"           // fstype overlay
        "/dev/loop0 /snap/core/1 squashfs ro 0 0\n"  // fstype squashfs
        "/dev/sdb1 /mnt/usb\\040stick vfat rw 0 0\n"
        "/dev/sdc1 /srv/a\\011b\\134c xfs ro,noatime 0 0\n"
        "/dev/sda1 /procfoo ext4 rw 0 0\n"         // not /proc
        "/dev/sda1 /var/lib/docker ext4 rw 0 0\n"  // docker itself kept
        "/dev/sda1 / ext4 ro,relatime 0 0\n"       // same labels: once
        "short line\n",
        "fixture");
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0] ==
          "fixture line 18: expected at least 4 fields (device, mount point, type, options), "
          "got 2");
    REQUIRE(p.mounts.size() == 17);
    CHECK(p.mounts[12].mount_point == "/mnt/usb stick");
    CHECK(p.mounts[12].path == "/mnt/usb stick");
    // node_exporter decodes only \040 and \011 in the label; statvfs gets the real path.
    CHECK(p.mounts[13].mount_point == "/srv/a\tb\\134c");
    CHECK(p.mounts[13].path == "/srv/a\tb\\c");

    auto keep = filesystems_to_stat(p.mounts);
    std::vector<std::string> points;
    for (const auto& m : keep) points.push_back(m.mount_point);
    CHECK(points == std::vector<std::string>{"/", "/run", "/mnt/usb stick", "/srv/a\tb\\134c",
                                             "/procfoo", "/var/lib/docker"});
    CHECK_FALSE(mount_read_only(keep[0]));  // the first of the two "/" lines
    CHECK(mount_read_only(keep[3]));
  }
  SECTION("readonly is the 'ro' option, not a prefix of another") {
    MountEntry m;
    for (const char* o : {"ro", "ro,relatime", "rw,ro", "nosuid,ro,nodev"}) {
      m.options = o;
      CHECK(mount_read_only(m));
    }
    for (const char* o : {"rw", "rootcontext=x", "errors=remount-ro", "", "r,o"}) {
      m.options = o;
      CHECK_FALSE(mount_read_only(m));
    }
  }
}

TEST_CASE("filesystem: statvfs failures are device_error 1 and reported", "[unit][agent][host]") {
  TempDir dir;
  write_full_fake_proc(dir.path());
  auto fs = fake_fs_for_full_proc();
  fs->errors["/run"] = EACCES;
  auto statter = std::make_shared<BoundedStatvfs>(std::chrono::seconds(30), fs->fn(fs));
  HostMetrics m = HostMetricsReader(dir.path(), kBase, 100, statter).collect(kNow);
  REQUIRE(m.errors.size() == 1);
  CHECK(m.errors[0] == "statvfs /run: Permission denied");
  auto v = by_key(m);
  const std::string run = "{device=tmpfs,fstype=tmpfs,mountpoint=/run}";
  // As node_exporter 1.5.0: device_error 1 and nothing else for that mount.
  CHECK(v.at("node_filesystem_device_error" + run) == 1);
  CHECK(v.count("node_filesystem_size_bytes" + run) == 0);
  CHECK(v.count("node_filesystem_readonly" + run) == 0);
  CHECK(count_prefix(v, "node_filesystem_") == 2 * 7 + 1);
}

TEST_CASE("filesystem: a hanging statvfs cannot block collection", "[unit][agent][host]") {
  // A statvfs that blocks on /hang until released, as on a dead NFS server.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::atomic<int> hang_calls{0};
  };
  auto gate = std::make_shared<Gate>();
  auto fs = fake_fs_for_full_proc();
  fs->table["/hang"] = fake_st(4096, 10, 5, 5, 1, 1);
  auto inner = fs->fn(fs);
  auto fn = [gate, inner](const std::string& path, struct statvfs& out) {
    if (path == "/hang") {
      ++gate->hang_calls;
      std::unique_lock lock(gate->mu);
      gate->cv.wait(lock, [&] { return gate->open; });
    }
    return inner(path, out);
  };
  auto release = [gate] {
    {
      std::lock_guard lock(gate->mu);
      gate->open = true;
    }
    gate->cv.notify_all();
  };
  // Never leave a thread blocked behind, even when a REQUIRE fails.
  struct ReleaseAtExit {
    std::function<void()> f;
    ~ReleaseAtExit() { f(); }
  } release_at_exit{release};
  using Status = BoundedStatvfs::Result::Status;
  constexpr auto kTimeout = std::chrono::milliseconds(200);

  SECTION("BoundedStatvfs: times out once, then skips the stuck path until it returns") {
    BoundedStatvfs statter(kTimeout, fn);
    auto t0 = std::chrono::steady_clock::now();
    auto r = statter.stat_all({"/", "/hang", "/run", "/hang", "/missing"});
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(took >= kTimeout);
    CHECK(took < kTimeout + std::chrono::seconds(5));  // one timeout, not two
    REQUIRE(r.size() == 5);
    CHECK(r[0].status == Status::kOk);
    CHECK(r[0].st.f_blocks == 1000);
    CHECK(r[1].status == Status::kTimedOut);
    CHECK(r[2].status == Status::kOk);  // served by a fresh worker
    CHECK(r[2].st.f_ffree == 45);
    CHECK(r[3].status == Status::kStillStuck);  // not called a second time
    CHECK(r[4].status == Status::kError);
    CHECK(r[4].error == ENOENT);
    CHECK(statter.stuck_calls() == 1);

    // Still stuck: no new call, no waiting.
    t0 = std::chrono::steady_clock::now();
    r = statter.stat_all({"/hang", "/"});
    CHECK(std::chrono::steady_clock::now() - t0 < kTimeout);
    CHECK(r[0].status == Status::kStillStuck);
    CHECK(r[1].status == Status::kOk);
    CHECK(gate->hang_calls == 1);

    // The mount recovers: the abandoned call returns and the path is tried again.
    release();
    REQUIRE(eventually([&] { return statter.stuck_calls() == 0; }));
    r = statter.stat_all({"/hang"});
    CHECK(r[0].status == Status::kOk);
    CHECK(r[0].st.f_blocks == 10);
    CHECK(gate->hang_calls == 2);
  }
  SECTION("HostMetricsReader: the hung mount is device_error 1, the rest is collected") {
    TempDir dir;
    write_full_fake_proc(dir.path());
    write_file(dir / "1/mounts",
               "/dev/vda / ext4 rw 0 0\n"
               "server:/export /hang nfs4 rw,hard 0 0\n"
               "tmpfs /run tmpfs rw 0 0\n");
    auto statter = std::make_shared<BoundedStatvfs>(kTimeout, fn);
    HostMetricsReader reader(dir.path(), kBase, 100, statter);
    for (int round = 0; round < 2; ++round) {
      INFO("round " << round);
      HostMetrics m = reader.collect(kNow);
      REQUIRE(m.errors.size() == 1);
      CHECK(m.errors[0].find("statvfs /hang: ") == 0);
      CHECK(m.errors[0].find(round == 0 ? "no answer within 200 ms" : "still no answer") !=
            std::string::npos);
      auto v = by_key(m);
      CHECK(v.at("node_filesystem_device_error{device=server:/export,fstype=nfs4,mountpoint=/"
                 "hang}") == 1);
      CHECK(v.at("node_filesystem_device_error{device=/dev/vda,fstype=ext4,mountpoint=/}") == 0);
      CHECK(v.at("node_filesystem_files_free{device=tmpfs,fstype=tmpfs,mountpoint=/run}") == 45);
      CHECK(count_prefix(v, "node_filesystem_") == 2 * 7 + 1);
      CHECK(v.at("node_load1") == 0.52);
    }
    CHECK(gate->hang_calls == 1);
    release();
    REQUIRE(eventually([&] { return statter->stuck_calls() == 0; }));
    HostMetrics m = reader.collect(kNow);
    CHECK(m.errors.empty());
    CHECK(count_prefix(by_key(m), "node_filesystem_") == 3 * 7);
  }
}

TEST_CASE("host metrics: the real /proc", "[unit][agent][host]") {
  HostMetrics m = HostMetricsReader("/proc", kBase).collect(kNow);
  // A mount this user may not stat (another user's FUSE mount, say) is a
  // device_error series and an error; nothing else may fail.
  for (const auto& e : m.errors) {
    INFO(e);
    CHECK(e.rfind("statvfs ", 0) == 0);
  }
  auto v = by_key(m);
  REQUIRE(v.count("node_load1") == 1);
  CHECK(v.at("node_load1") >= 0);
  CHECK(v.at("node_memory_MemTotal_bytes") > 0);
  CHECK(v.count("node_cpu_seconds_total{cpu=0,mode=user}") == 1);
  CHECK(v.at("node_boot_time_seconds") > 1e9);
  CHECK(v.at("node_forks_total") > 0);
  CHECK(v.at("node_intr_total") > 0);
  CHECK(v.count("node_procs_blocked") == 1);
  // Every Linux network namespace has lo; node_exporter excludes none by default.
  CHECK(v.count("node_network_receive_bytes_total{device=lo}") == 1);
  CHECK(count_prefix(v, "node_filesystem_device_error") >= 1);
}

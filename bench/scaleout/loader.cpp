// strata-bench-scaleout-loader: the client side of bench/scaleout/run.sh.
//
//   push     generates the benchmark's dataset (deterministic: the same
//            --series, --samples and --start-ms give the same samples, byte
//            for byte) and pushes it to a collector's native endpoint
//            (POST /api/v1/push/metrics, wire format v1, common/wire_format.h)
//            over --connections keep-alive connections, as fast as the
//            collector answers. Every request body is encoded before the
//            clock starts. Prints key=value lines.
//   warmup   pushes one sample of each of --series series of the metric
//            strata_bench_warmup at --ts-ms (used to see that every shard of
//            the consumer group owns partitions before the measured push).
//   query    runs the queries of --queries against one Prometheus API
//            (--url), --runs times each after one unmeasured run, and prints
//            per query the median and p90 latency, the CPU-seconds the
//            processes --pids used per run (utime + stime, /proc/PID/stat;
//            also the first pid's alone, the query node in run.sh),
//            and the result's series count and a hash of its "data" member.
//
// The dataset: node_exporter-like series. One instance exposes the ~480
// series of kInstanceTemplate (cpu/mode, disk and network devices,
// filesystems, memory, netstat, interrupts, ...); instances are numbered
// 0, 1, ... (instance="10.0.<i/250>.<i%250>:9100", job one of four) and the
// first --series series in (instance, template) order are used. Series k's
// sample j is at start + j * --step-ms + (instance * 37 % 1000) ms (every
// instance has its own scrape offset). Counters grow by a per-series rate
// with per-sample jitter; gauges wander around a per-series level. All
// pseudo-random numbers come from a hash of (series, sample).
//
// Order: the series are split among the connections (series k on connection
// k % connections) and each connection sends its series window by window
// (--chunk-samples samples per series per request, --request-series series
// per request), so every series arrives in time order.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/labels.h"
#include "common/wire_format.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "strata-bench-scaleout-loader: " << msg << std::endl;
  std::exit(1);
}

void usage() {
  std::cerr
      << "usage: strata-bench-scaleout-loader push --url URL --start-ms T [--series 20000]\n"
         "           [--samples 120] [--step-ms 15000] [--connections 4] [--request-series 500]\n"
         "           [--chunk-samples 10]\n"
         "       strata-bench-scaleout-loader warmup --url URL --ts-ms T [--series 120]\n"
         "       strata-bench-scaleout-loader query --url URL --queries FILE --time-ms T\n"
         "           [--runs 10] [--pids P1,P2,...] [--range-s 3600] [--step-s 60] [--label L]\n"
         "  --queries FILE: one query a line, 'name|instant|expr' or 'name|range|expr'\n";
  std::exit(2);
}

struct Options {
  std::string mode;
  std::string url;
  std::string queries;
  std::string pids;
  std::string label;
  long long series = 20000;
  long long samples = 120;
  long long step_ms = 15000;
  long long start_ms = 0;
  long long ts_ms = 0;
  long long time_ms = 0;
  long long connections = 4;
  long long request_series = 500;
  long long chunk_samples = 10;
  long long runs = 10;
  long long range_s = 3600;
  long long query_step_s = 60;
};

Options parse_args(int argc, char** argv) {
  if (argc < 2) usage();
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      usage();
    }
    auto num = [&]() -> long long {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n <= 0)
        die("option " + a + ": expected a positive integer, got '" + v + "'");
      return n;
    };
    if (a == "--url")
      o.url = v;
    else if (a == "--queries")
      o.queries = v;
    else if (a == "--pids")
      o.pids = v;
    else if (a == "--label")
      o.label = v;
    else if (a == "--series")
      o.series = num();
    else if (a == "--samples")
      o.samples = num();
    else if (a == "--step-ms")
      o.step_ms = num();
    else if (a == "--start-ms")
      o.start_ms = num();
    else if (a == "--ts-ms")
      o.ts_ms = num();
    else if (a == "--time-ms")
      o.time_ms = num();
    else if (a == "--connections")
      o.connections = num();
    else if (a == "--request-series")
      o.request_series = num();
    else if (a == "--chunk-samples")
      o.chunk_samples = num();
    else if (a == "--runs")
      o.runs = num();
    else if (a == "--range-s")
      o.range_s = num();
    else if (a == "--step-s")
      o.query_step_s = num();
    else
      usage();
  }
  if (o.url.empty()) die("--url is required");
  if (o.mode == "push" && o.start_ms == 0) die("push needs --start-ms");
  if (o.mode == "warmup" && o.ts_ms == 0) die("warmup needs --ts-ms");
  if (o.mode == "query" && (o.queries.empty() || o.time_ms == 0))
    die("query needs --queries and --time-ms");
  return o;
}

// ---------------------------------------------------------------------------
// Dataset

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double unit(std::uint64_t a, std::uint64_t b) {  // [0, 1)
  return static_cast<double>(mix(a * 0x100000001b3ULL ^ mix(b)) >> 11) / 9007199254740992.0;
}

enum class Kind { Counter, IntCounter, Gauge, IntGauge };

struct Template {
  std::string name;
  std::vector<strata::Label> labels;  // besides __name__, instance, job
  Kind kind;
  double scale;  // counter: mean increase per second; gauge: level
};

std::vector<Template> instance_template() {
  std::vector<Template> t;
  auto add = [&](std::string name, std::vector<strata::Label> labels, Kind kind, double scale) {
    t.push_back({std::move(name), std::move(labels), kind, scale});
  };
  const int cpus = 8;
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  for (int c = 0; c < cpus; ++c) {
    const std::string cpu = std::to_string(c);
    for (const char* m : modes)
      add("node_cpu_seconds_total", {{"cpu", cpu}, {"mode", m}}, Kind::Counter,
          std::string(m) == "idle" ? 0.7 : 0.04);
    for (const char* m : {"nice", "user"})
      add("node_cpu_guest_seconds_total", {{"cpu", cpu}, {"mode", m}}, Kind::Counter, 0.001);
    add("node_cpu_scaling_frequency_hertz", {{"cpu", cpu}}, Kind::IntGauge, 2.4e9);
    add("node_schedstat_running_seconds_total", {{"cpu", cpu}}, Kind::Counter, 0.3);
    add("node_schedstat_waiting_seconds_total", {{"cpu", cpu}}, Kind::Counter, 0.02);
    add("node_schedstat_timeslices_total", {{"cpu", cpu}}, Kind::IntCounter, 400);
    add("node_softnet_processed_total", {{"cpu", cpu}}, Kind::IntCounter, 150);
    add("node_softnet_dropped_total", {{"cpu", cpu}}, Kind::IntCounter, 0.001);
    add("node_softnet_times_squeezed_total", {{"cpu", cpu}}, Kind::IntCounter, 0.01);
    for (const char* type : {"LOC", "RES", "CAL", "TLB", "NMI", "PIW"})
      add("node_interrupts_total",
          {{"cpu", cpu}, {"devices", ""}, {"type", type}, {"info", std::string(type) + " events"}},
          Kind::IntCounter, std::string(type) == "LOC" ? 250 : 5);
  }
  for (const char* dev : {"sda", "sdb", "nvme0n1", "nvme1n1", "dm-0"}) {
    add("node_disk_read_bytes_total", {{"device", dev}}, Kind::IntCounter, 2e5);
    add("node_disk_written_bytes_total", {{"device", dev}}, Kind::IntCounter, 6e5);
    add("node_disk_reads_completed_total", {{"device", dev}}, Kind::IntCounter, 12);
    add("node_disk_writes_completed_total", {{"device", dev}}, Kind::IntCounter, 40);
    add("node_disk_reads_merged_total", {{"device", dev}}, Kind::IntCounter, 1);
    add("node_disk_writes_merged_total", {{"device", dev}}, Kind::IntCounter, 9);
    add("node_disk_read_time_seconds_total", {{"device", dev}}, Kind::Counter, 0.005);
    add("node_disk_write_time_seconds_total", {{"device", dev}}, Kind::Counter, 0.03);
    add("node_disk_io_time_seconds_total", {{"device", dev}}, Kind::Counter, 0.02);
    add("node_disk_io_time_weighted_seconds_total", {{"device", dev}}, Kind::Counter, 0.04);
    add("node_disk_io_now", {{"device", dev}}, Kind::IntGauge, 2);
  }
  for (const char* dev : {"eth0", "eth1", "lo", "docker0", "veth3f2a1c9"}) {
    for (const char* dir : {"receive", "transmit"}) {
      const std::string p = std::string("node_network_") + dir + "_";
      add(p + "bytes_total", {{"device", dev}}, Kind::IntCounter, 3e5);
      add(p + "packets_total", {{"device", dev}}, Kind::IntCounter, 400);
      add(p + "errs_total", {{"device", dev}}, Kind::IntCounter, 0.001);
      add(p + "drop_total", {{"device", dev}}, Kind::IntCounter, 0.01);
    }
    add("node_network_receive_multicast_total", {{"device", dev}}, Kind::IntCounter, 0.1);
    add("node_network_up", {{"device", dev}}, Kind::IntGauge, 1);
    add("node_network_mtu_bytes", {{"device", dev}}, Kind::IntGauge, 1500);
    add("node_network_speed_bytes", {{"device", dev}}, Kind::IntGauge, 1.25e9);
  }
  const char* fs[][3] = {{"/dev/sda1", "/", "ext4"},
                         {"/dev/sda2", "/boot", "ext4"},
                         {"/dev/sdb1", "/var/lib/data", "xfs"},
                         {"/dev/nvme0n1p1", "/home", "ext4"},
                         {"tmpfs", "/run", "tmpfs"},
                         {"tmpfs", "/dev/shm", "tmpfs"}};
  for (const auto& f : fs) {
    std::vector<strata::Label> l = {{"device", f[0]}, {"fstype", f[2]}, {"mountpoint", f[1]}};
    add("node_filesystem_avail_bytes", l, Kind::IntGauge, 4e10);
    add("node_filesystem_free_bytes", l, Kind::IntGauge, 4.5e10);
    add("node_filesystem_size_bytes", l, Kind::IntGauge, 1e11);
    add("node_filesystem_files", l, Kind::IntGauge, 6.5e6);
    add("node_filesystem_files_free", l, Kind::IntGauge, 6e6);
    add("node_filesystem_readonly", l, Kind::IntGauge, 0);
    add("node_filesystem_device_error", l, Kind::IntGauge, 0);
  }
  for (const char* m : {"MemTotal",      "MemFree",         "MemAvailable",   "Buffers",
                        "Cached",        "SwapCached",      "Active",         "Inactive",
                        "Active_anon",   "Inactive_anon",   "Active_file",    "Inactive_file",
                        "Unevictable",   "Mlocked",         "SwapTotal",      "SwapFree",
                        "Dirty",         "Writeback",       "AnonPages",      "Mapped",
                        "Shmem",         "KReclaimable",    "Slab",           "SReclaimable",
                        "SUnreclaim",    "KernelStack",     "PageTables",     "NFS_Unstable",
                        "Bounce",        "WritebackTmp",    "CommitLimit",    "Committed_AS",
                        "VmallocTotal",  "VmallocUsed",     "VmallocChunk",   "Percpu",
                        "AnonHugePages", "ShmemHugePages",  "ShmemPmdMapped", "FileHugePages",
                        "FilePmdMapped", "HugePages_Total", "HugePages_Free", "Hugepagesize",
                        "DirectMap4k",   "DirectMap2M",     "DirectMap1G",    "HardwareCorrupted"})
    add(std::string("node_memory_") + m + "_bytes", {}, Kind::IntGauge, 8e9);
  for (const char* m :
       {"pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout", "oom_kill"})
    add(std::string("node_vmstat_") + m, {}, Kind::IntCounter, 50);
  for (const char* m :
       {"Tcp_ActiveOpens", "Tcp_PassiveOpens", "Tcp_InSegs", "Tcp_OutSegs", "Tcp_RetransSegs",
        "Tcp_InErrs", "Tcp_OutRsts", "Udp_InDatagrams", "Udp_OutDatagrams", "Udp_InErrors",
        "Udp_NoPorts", "TcpExt_ListenDrops", "TcpExt_ListenOverflows", "TcpExt_SyncookiesSent",
        "TcpExt_TCPTimeouts", "Icmp_InMsgs", "Icmp_OutMsgs", "IpExt_InOctets", "IpExt_OutOctets"})
    add(std::string("node_netstat_") + m, {}, Kind::IntCounter, 30);
  add("node_netstat_Tcp_CurrEstab", {}, Kind::IntGauge, 120);
  add("node_netstat_Ip_Forwarding", {}, Kind::IntGauge, 1);
  for (const char* m : {"node_load1", "node_load5", "node_load15"}) add(m, {}, Kind::Gauge, 1.5);
  for (const auto& [m, level] :
       std::vector<std::pair<const char*, double>>{{"node_procs_running", 3},
                                                   {"node_procs_blocked", 0.2},
                                                   {"node_entropy_available_bits", 3500},
                                                   {"node_filefd_allocated", 9000},
                                                   {"node_filefd_maximum", 9.2e18},
                                                   {"node_sockstat_TCP_inuse", 80},
                                                   {"node_sockstat_TCP_tw", 30},
                                                   {"node_sockstat_UDP_inuse", 6},
                                                   {"node_sockstat_sockets_used", 600},
                                                   {"node_nf_conntrack_entries", 700},
                                                   {"node_nf_conntrack_entries_limit", 262144},
                                                   {"up", 1}})
    add(m, {}, Kind::IntGauge, level);
  add("node_boot_time_seconds", {}, Kind::Gauge, 1.7e9);
  add("node_time_seconds", {}, Kind::Counter, 1.0);
  add("node_context_switches_total", {}, Kind::IntCounter, 3000);
  add("node_intr_total", {}, Kind::IntCounter, 2000);
  add("node_forks_total", {}, Kind::IntCounter, 4);
  for (const char* c :
       {"arp",       "bcache",  "bonding",  "btrfs",  "conntrack",  "cpu",   "cpufreq",
        "diskstats", "edac",    "entropy",  "filefd", "filesystem", "hwmon", "infiniband",
        "loadavg",   "meminfo", "netclass", "netdev", "netstat",    "nfs",   "pressure",
        "sockstat",  "softnet", "stat",     "time",   "vmstat"}) {
    add("node_scrape_collector_duration_seconds", {{"collector", c}}, Kind::Gauge, 0.002);
    add("node_scrape_collector_success", {{"collector", c}}, Kind::IntGauge, 1);
  }
  return t;
}

struct Dataset {
  std::vector<strata::Labels> labels;
  std::vector<std::uint32_t> tmpl;      // index into templ
  std::vector<std::int64_t> offset_ms;  // scrape offset of the series' instance
  std::vector<Template> templ;
  std::size_t instances = 0;
};

const char* kJobs[] = {"node-api", "node-db", "node-cache", "node-batch"};

Dataset make_dataset(std::size_t series) {
  Dataset d;
  d.templ = instance_template();
  d.instances = (series + d.templ.size() - 1) / d.templ.size();
  d.labels.reserve(series);
  for (std::size_t k = 0; k < series; ++k) {
    std::size_t inst = k / d.templ.size();
    const Template& t = d.templ[k % d.templ.size()];
    std::vector<strata::Label> l = t.labels;
    l.erase(std::remove_if(l.begin(), l.end(), [](const auto& p) { return p.second.empty(); }),
            l.end());
    l.emplace_back("__name__", t.name);
    l.emplace_back("instance", fmt::format("10.0.{}.{}:9100", inst / 250, inst % 250));
    l.emplace_back("job", kJobs[inst % 4]);
    d.labels.emplace_back(std::move(l));
    d.tmpl.push_back(static_cast<std::uint32_t>(k % d.templ.size()));
    d.offset_ms.push_back(static_cast<std::int64_t>(inst * 37 % 1000));
  }
  return d;
}

// Value of sample j of series k (counters: the running sum, kept in `state`).
double next_value(const Dataset& d, std::size_t k, long long j, double step_s, double& state) {
  const Template& t = d.templ[d.tmpl[k]];
  const double level = t.scale * (0.5 + unit(k, 0xfeed));  // per-series level or rate
  switch (t.kind) {
    case Kind::Counter:
    case Kind::IntCounter: {
      if (j == 0) state = std::floor(level * 86400 * (1 + 30 * unit(k, 0xbeef)));
      double inc = level * step_s * (0.2 + 1.6 * unit(k, static_cast<std::uint64_t>(j) + 1));
      state += t.kind == Kind::IntCounter ? std::floor(inc) : std::round(inc * 100) / 100;
      return state;
    }
    case Kind::Gauge:
    case Kind::IntGauge: {
      if (t.scale == 0 || t.scale == 1) return t.scale;  // flags: readonly, up, ...
      double phase = 6.283 * unit(k, 0xabcd);
      double v = level * (1 + 0.1 * std::sin(static_cast<double>(j) / 12 + phase) +
                          0.02 * (unit(k, static_cast<std::uint64_t>(j) + 7) - 0.5));
      return t.kind == Kind::IntGauge ? std::floor(v) : std::round(v * 1000) / 1000;
    }
  }
  return 0;
}

double cpu_self_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int run_push(const Options& o) {
  const auto t0 = Clock::now();
  const double c0 = cpu_self_s();
  Dataset d = make_dataset(static_cast<std::size_t>(o.series));
  const std::size_t conns = static_cast<std::size_t>(o.connections);
  const double step_s = static_cast<double>(o.step_ms) / 1000;
  // bodies[c]: the requests of connection c, in sending order.
  std::vector<std::vector<std::string>> bodies(conns);
  std::vector<double> state(d.labels.size(), 0);
  std::size_t total_samples = 0, body_bytes = 0;
  std::int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  for (long long w0 = 0; w0 < o.samples; w0 += o.chunk_samples) {
    const long long w1 = std::min(o.samples, w0 + o.chunk_samples);
    for (std::size_t c = 0; c < conns; ++c) {
      strata::wire::MetricsBatch batch;
      auto flush = [&] {
        if (batch.series.empty()) return;
        bodies[c].push_back(strata::wire::encode(batch));
        body_bytes += bodies[c].back().size();
        batch.series.clear();
      };
      for (std::size_t k = c; k < d.labels.size(); k += conns) {
        auto& s = batch.series.emplace_back();
        s.labels = d.labels[k];
        for (long long j = w0; j < w1; ++j) {
          const std::int64_t ts = o.start_ms + j * o.step_ms + d.offset_ms[k];
          s.samples.push_back({ts, next_value(d, k, j, step_s, state[k])});
          min_ts = std::min(min_ts, ts);
          max_ts = std::max(max_ts, ts);
        }
        total_samples += s.samples.size();
        if (batch.series.size() >= static_cast<std::size_t>(o.request_series)) flush();
      }
      flush();
    }
  }
  const auto t1 = Clock::now();
  const double c1 = cpu_self_s();

  const std::string url = o.url + "/api/v1/push/metrics";
  std::atomic<std::size_t> requests{0}, retried{0};
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < conns; ++c)
    threads.emplace_back([&, c] {
      strata::http::ClientOptions co;
      co.request_timeout = std::chrono::milliseconds(60'000);
      co.max_attempts = 20;
      strata::http::HttpClient client(co);
      for (const auto& body : bodies[c]) {
        auto r = client.post(url, body, {{"Content-Type", "application/json"}});
        if (!r.ok())
          die(fmt::format("POST {}: status {} {}: {}", url, r.status, r.error,
                          r.body.substr(0, 500)));
        requests.fetch_add(1);
        if (r.attempts > 1) retried.fetch_add(1);
      }
    });
  for (auto& t : threads) t.join();
  const auto t2 = Clock::now();
  const double c2 = cpu_self_s();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::cout << fmt::format(
      "series={}\ninstances={}\nseries_per_instance={}\nsamples={}\nrequests={}\n"
      "requests_retried={}\nbody_bytes={}\nmin_ts={}\nmax_ts={}\nencode_s={:.3f}\n"
      "encode_cpu_s={:.3f}\npush_s={:.3f}\npush_cpu_s={:.3f}\n",
      d.labels.size(), d.instances, d.templ.size(), total_samples, requests.load(), retried.load(),
      body_bytes, min_ts, max_ts, secs(t0, t1), c1 - c0, secs(t1, t2), c2 - c1);
  return 0;
}

int run_warmup(const Options& o) {
  strata::wire::MetricsBatch batch;
  for (long long i = 0; i < o.series; ++i) {
    auto& s = batch.series.emplace_back();
    s.labels = strata::Labels{{"__name__", "strata_bench_warmup"}, {"i", std::to_string(i)}};
    s.samples.push_back({o.ts_ms, static_cast<double>(i)});
  }
  strata::http::HttpClient client;
  auto r = client.post(o.url + "/api/v1/push/metrics", strata::wire::encode(batch),
                       {{"Content-Type", "application/json"}});
  if (!r.ok()) die(fmt::format("warmup push: status {} {}: {}", r.status, r.error, r.body));
  return 0;
}

// ---------------------------------------------------------------------------
// Queries

double cpu_of(const std::vector<int>& pids) {
  static const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  double ticks = 0;
  for (int pid : pids) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto p = s.rfind(')');
    if (p == std::string::npos) die(fmt::format("cannot read /proc/{}/stat", pid));
    std::istringstream f(s.substr(p + 2));
    std::string field;
    // After the command: state(3) ... utime(14) stime(15), i.e. the 12th and 13th.
    double ut = 0, st = 0;
    for (int i = 3; i <= 15 && f >> field; ++i) {
      if (i == 14) ut = std::stod(field);
      if (i == 15) st = std::stod(field);
    }
    ticks += ut + st;
  }
  return ticks / hz;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

int run_query(const Options& o) {
  std::vector<int> pids;
  {
    std::stringstream ss(o.pids);
    std::string p;
    while (std::getline(ss, p, ','))
      if (!p.empty()) pids.push_back(std::stoi(p));
  }
  std::ifstream in(o.queries);
  if (!in) die("cannot open " + o.queries);
  strata::http::ClientOptions co;
  co.request_timeout = std::chrono::milliseconds(120'000);
  co.max_attempts = 1;
  strata::http::HttpClient client(co);
  std::string line;
  const double end_s = static_cast<double>(o.time_ms) / 1000;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto p1 = line.find('|'), p2 = line.find('|', p1 + 1);
    if (p1 == std::string::npos || p2 == std::string::npos) die("bad query line: " + line);
    const std::string name = line.substr(0, p1), kind = line.substr(p1 + 1, p2 - p1 - 1),
                      expr = line.substr(p2 + 1);
    std::string path;
    if (kind == "instant")
      path = fmt::format("/api/v1/query?query={}&time={:.3f}",
                         strata::http::HttpClient::url_encode(expr), end_s);
    else if (kind == "range")
      path = fmt::format("/api/v1/query_range?query={}&start={:.3f}&end={:.3f}&step={}",
                         strata::http::HttpClient::url_encode(expr),
                         end_s - static_cast<double>(o.range_s), end_s, o.query_step_s);
    else
      die("bad query kind '" + kind + "' in: " + line);
    std::vector<double> ms;
    std::string first_body;
    double cpu = 0, cpu_first = 0;
    const std::vector<int> first(pids.begin(), pids.begin() + (pids.empty() ? 0 : 1));
    for (long long r = 0; r <= o.runs; ++r) {
      const double c0 = r > 0 ? cpu_of(pids) : 0, f0 = r > 0 ? cpu_of(first) : 0;
      const auto t0 = Clock::now();
      auto resp = client.get(o.url + path);
      const auto t1 = Clock::now();
      if (r > 0) {
        cpu += cpu_of(pids) - c0;
        cpu_first += cpu_of(first) - f0;
      }
      if (resp.status != 200)
        die(fmt::format("{} {}: status {} {}: {}", o.label, expr, resp.status, resp.error,
                        resp.body.substr(0, 500)));
      if (resp.body.find("\"warnings\"") != std::string::npos)
        die(fmt::format("{} {}: answer carries warnings: {}", o.label, expr,
                        resp.body.substr(0, 500)));
      if (r == 0)
        first_body = resp.body;
      else
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const std::size_t n = ms.size();
    const double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    const double p90 = ms[static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];
    // Series in the result: one "metric" object per series.
    std::size_t series = 0;
    for (std::size_t pos = 0; (pos = first_body.find("\"metric\":", pos)) != std::string::npos;
         ++pos)
      ++series;
    auto data = first_body.find("\"data\":");
    std::uint64_t hash = fnv1a(data == std::string::npos ? first_body : first_body.substr(data));
    std::cout << fmt::format(
                     "q_{0}_median_ms={1:.2f}\nq_{0}_p90_ms={2:.2f}\nq_{0}_min_ms={3:.2f}\n"
                     "q_{0}_cpu_ms_per_run={4:.1f}\nq_{0}_cpu_ms_per_run_first_pid={5:.1f}\n"
                     "q_{0}_series={6}\nq_{0}_hash={7:016x}\n",
                     name, median, p90, ms.front(), cpu * 1000 / static_cast<double>(n),
                     cpu_first * 1000 / static_cast<double>(n), series, hash)
              << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  try {
    if (o.mode == "push") return run_push(o);
    if (o.mode == "warmup") return run_warmup(o);
    if (o.mode == "query") return run_query(o);
  } catch (const std::exception& e) {
    die(e.what());
  }
  usage();
}

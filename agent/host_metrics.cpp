#include "agent/host_metrics.h"

#include <unistd.h>

#include <array>
#include <string_view>
#include <system_error>

#include "agent/diskstats.h"
#include "agent/filesystem_stats.h"
#include "agent/netdev.h"
#include "agent/proc_text.h"

namespace strata::agent {

namespace {

// The per-CPU columns of /proc/stat, in kernel order (guest and guest_nice
// are already included in user and nice, so node_exporter reports them in a
// separate metric we do not export).
constexpr std::array<const char*, 8> kCpuModes = {"user",   "nice", "system",  "idle",
                                                  "iowait", "irq",  "softirq", "steal"};

// The meminfo fields exported, as node_memory_<Field>_bytes.
constexpr std::array<const char*, 7> kMemFields = {
    "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree"};

// The single-value lines of /proc/stat that are exported.
struct StatLine {
  const char* key;
  const char* metric;
};
constexpr std::array<StatLine, 5> kStatLines = {{
    {"ctxt", "node_context_switches_total"},
    {"btime", "node_boot_time_seconds"},
    {"processes", "node_forks_total"},
    {"procs_running", "node_procs_running"},
    {"procs_blocked", "node_procs_blocked"},
}};

// The families read from loadavg, stat and meminfo, with node_exporter's
// HELP and TYPE.
const std::vector<MetricFamily>& proc_families() {
  static const std::vector<MetricFamily> families = {
      {"node_load1", "gauge", "1m load average."},
      {"node_load5", "gauge", "5m load average."},
      {"node_load15", "gauge", "15m load average."},
      {"node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode."},
      {"node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes."},
      {"node_memory_MemFree_bytes", "gauge", "Memory information field MemFree_bytes."},
      {"node_memory_MemAvailable_bytes", "gauge", "Memory information field MemAvailable_bytes."},
      {"node_memory_Buffers_bytes", "gauge", "Memory information field Buffers_bytes."},
      {"node_memory_Cached_bytes", "gauge", "Memory information field Cached_bytes."},
      {"node_memory_SwapTotal_bytes", "gauge", "Memory information field SwapTotal_bytes."},
      {"node_memory_SwapFree_bytes", "gauge", "Memory information field SwapFree_bytes."},
      {"node_boot_time_seconds", "gauge", "Node boot time, in unixtime."},
      {"node_context_switches_total", "counter", "Total number of context switches."},
      {"node_intr_total", "counter", "Total number of interrupts serviced."},
      {"node_forks_total", "counter", "Total number of forks."},
      {"node_procs_running", "gauge", "Number of processes in runnable state."},
      {"node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete."},
  };
  return families;
}

std::string_view first_line(std::string_view text) { return text.substr(0, text.find('\n')); }

class Builder {
 public:
  Builder(const Labels& base, std::int64_t ts, HostMetrics& out)
      : base_(base), ts_(ts), out_(out) {}

  void add(const std::string& name, double value,
           std::initializer_list<std::pair<const char*, std::string>> extra = {}) {
    Labels labels = base_;
    for (const auto& [k, v] : extra) labels.set(k, v);
    add_to(labels, name, value);
  }

  // `labels` holds the base and per-object labels (device, ...), no name.
  void add_to(const Labels& labels, const std::string& name, double value) {
    wire::Series s;
    s.labels = labels;
    s.labels.set("__name__", name);
    s.samples.push_back({ts_, value});
    out_.series.push_back(std::move(s));
  }

  const Labels& base() const { return base_; }
  void error(std::string msg) { out_.errors.push_back(std::move(msg)); }

 private:
  const Labels& base_;
  std::int64_t ts_;
  HostMetrics& out_;
};

bool read_or_report(const std::string& path, std::string& text, Builder& b) {
  std::string why;
  if (read_proc_file(path, text, &why)) return true;
  b.error(path + ": cannot read: " + why);
  return false;
}

void read_loadavg(const std::string& proc, Builder& b) {
  std::string path = proc + "/loadavg", text;
  if (!read_or_report(path, text, b)) return;
  auto fields = split_ws(first_line(text));
  std::array<double, 3> load{};
  if (fields.size() < 3) return b.error(path + ": expected at least 3 fields");
  for (std::size_t i = 0; i < 3; ++i)
    if (!parse_double(fields[i], load[i]) || load[i] < 0)
      return b.error(path + ": field " + std::to_string(i + 1) + " is not a load average: '" +
                     std::string(fields[i]) + "'");
  b.add("node_load1", load[0]);
  b.add("node_load5", load[1]);
  b.add("node_load15", load[2]);
}

// Returns true when a boot time was found, so uptime is only a fallback.
bool read_stat(const std::string& proc, double clock_ticks, Builder& b) {
  std::string path = proc + "/stat", text;
  if (!read_or_report(path, text, b)) return false;
  bool have_btime = false;
  int lineno = 0;
  for (std::string_view line : split_lines(text)) {
    ++lineno;
    auto f = split_ws(line);
    if (f.empty()) continue;
    auto bad = [&](const std::string& why) {
      b.error(path + " line " + std::to_string(lineno) + ": " + why);
    };
    std::string_view key = f[0];
    // Per-CPU lines only ("cpu0", "cpu1", ...): the aggregate "cpu" line is
    // what sum() over them gives, and node_exporter omits it too.
    if (key.size() > 3 && key.substr(0, 3) == "cpu") {
      std::uint64_t cpu_index;
      if (!parse_u64(key.substr(3), cpu_index)) {
        bad("bad cpu name '" + std::string(key) + "'");
        continue;
      }
      // user nice system idle are present on every kernel since 2.4.
      if (f.size() < 5) {
        bad("expected at least 4 counters for " + std::string(key));
        continue;
      }
      std::size_t n = std::min(kCpuModes.size(), f.size() - 1);
      std::array<std::uint64_t, kCpuModes.size()> ticks{};
      bool ok = true;
      for (std::size_t i = 0; i < n && ok; ++i) ok = parse_u64(f[i + 1], ticks[i]);
      if (!ok) {
        bad("non-numeric counter for " + std::string(key));
        continue;
      }
      std::string cpu = std::to_string(cpu_index);
      for (std::size_t i = 0; i < n; ++i)
        b.add("node_cpu_seconds_total", static_cast<double>(ticks[i]) / clock_ticks,
              {{"cpu", cpu}, {"mode", kCpuModes[i]}});
      continue;
    }
    // "intr TOTAL per-irq...": node_intr_total is the first number.
    if (key == "intr") {
      std::uint64_t v;
      if (f.size() < 2 || !parse_u64(f[1], v)) {
        bad("malformed 'intr' line");
        continue;
      }
      b.add("node_intr_total", static_cast<double>(v));
      continue;
    }
    const char* metric = nullptr;
    for (const auto& s : kStatLines)
      if (key == s.key) metric = s.metric;
    if (!metric) continue;  // softirq, cpu (aggregate), ...: not exported
    std::uint64_t v;
    if (f.size() != 2 || !parse_u64(f[1], v)) {
      bad("malformed '" + std::string(key) + "' line");
      continue;
    }
    b.add(metric, static_cast<double>(v));
    if (key == "btime") have_btime = true;
  }
  return have_btime;
}

void read_uptime_boot_time(const std::string& proc, std::int64_t now_ms, Builder& b) {
  std::string path = proc + "/uptime", text, why;
  if (!read_proc_file(path, text, &why))
    return b.error(path + ": cannot read (and no btime in stat): " + why);
  auto f = split_ws(first_line(text));
  double up;
  if (f.empty() || !parse_double(f[0], up) || up < 0)
    return b.error(path + ": first field is not an uptime");
  // Whole seconds, as btime is: sub-second jitter would make the series wobble.
  auto boot = static_cast<std::int64_t>(static_cast<double>(now_ms) / 1000.0 - up);
  b.add("node_boot_time_seconds", static_cast<double>(boot));
}

void read_meminfo(const std::string& proc, Builder& b) {
  std::string path = proc + "/meminfo", text;
  if (!read_or_report(path, text, b)) return;
  int lineno = 0;
  for (std::string_view line : split_lines(text)) {
    ++lineno;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (!split_ws(line).empty())
        b.error(path + " line " + std::to_string(lineno) + ": no ':' separator");
      continue;
    }
    std::string_view field = line.substr(0, colon);
    const char* wanted = nullptr;
    for (const char* m : kMemFields)
      if (field == m) wanted = m;
    if (!wanted) continue;
    auto f = split_ws(line.substr(colon + 1));
    std::uint64_t v;
    if (f.empty() || f.size() > 2 || !parse_u64(f[0], v) || (f.size() == 2 && f[1] != "kB")) {
      b.error(path + " line " + std::to_string(lineno) + ": malformed " + std::string(field));
      continue;
    }
    double bytes = static_cast<double>(v) * (f.size() == 2 ? 1024.0 : 1.0);
    b.add(std::string("node_memory_") + wanted + "_bytes", bytes);
  }
}

void read_diskstats(const std::string& proc, Builder& b) {
  std::string path = proc + "/diskstats", text;
  if (!read_or_report(path, text, b)) return;
  DiskstatsParse parsed = parse_diskstats(text, path);
  for (auto& e : parsed.errors) b.error(std::move(e));
  const auto& columns = diskstats_columns();
  for (const auto& d : parsed.devices) {
    Labels labels = b.base();
    labels.set("device", d.device);
    for (std::size_t i = 0; i < d.columns; ++i)
      b.add_to(labels, columns[i].family.name, static_cast<double>(d.values[i]) * columns[i].scale);
  }
}

void read_net_dev(const std::string& proc, Builder& b) {
  std::string path = proc + "/net/dev", text;
  if (!read_or_report(path, text, b)) return;
  NetDevParse parsed = parse_net_dev(text, path);
  for (auto& e : parsed.errors) b.error(std::move(e));
  const auto& families = net_dev_families();
  for (const auto& d : parsed.devices) {
    Labels labels = b.base();
    labels.set("device", d.device);
    for (std::size_t i = 0; i < kNetDevColumns; ++i)
      b.add_to(labels, families[i].name, static_cast<double>(d.values[i]));
  }
}

void read_filesystems(const std::string& proc, BoundedStatvfs& statvfs, Builder& b) {
  // node_exporter 1.5.0 reads init's mount table (the host's, when the
  // agent runs in a container that sees the host's /proc), and its own when
  // /proc/1 is hidden (hidepid) or absent.
  std::string path = proc + "/1/mounts", text, why;
  if (!read_proc_file(path, text, &why)) {
    std::string fallback = proc + "/mounts", why2;
    if (!read_proc_file(fallback, text, &why2))
      return b.error(path + ": cannot read: " + why + "; nor " + fallback + ": " + why2);
    path = fallback;
  }
  MountsParse parsed = parse_mounts(text, path);
  for (auto& e : parsed.errors) b.error(std::move(e));
  const std::vector<MountEntry> mounts = filesystems_to_stat(std::move(parsed.mounts));
  std::vector<std::string> paths;
  paths.reserve(mounts.size());
  for (const auto& m : mounts) paths.push_back(m.path);
  const auto results = statvfs.stat_all(paths);

  using Status = BoundedStatvfs::Result::Status;
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    const MountEntry& m = mounts[i];
    const auto& r = results[i];
    Labels labels = b.base();
    labels.set("device", m.device);
    labels.set("fstype", m.fstype);
    labels.set("mountpoint", m.mount_point);
    if (r.status != Status::kOk) {
      // As node_exporter: device_error 1 and no other series for the mount.
      b.add_to(labels, "node_filesystem_device_error", 1);
      const std::string ms = std::to_string(statvfs.timeout().count()) + " ms";
      switch (r.status) {
        case Status::kError:
          b.error("statvfs " + m.path + ": " + std::generic_category().message(r.error));
          break;
        case Status::kTimedOut:
          b.error("statvfs " + m.path + ": no answer within " + ms +
                  "; skipped until the call returns");
          break;
        default:
          b.error("statvfs " + m.path + ": still no answer (timed out after " + ms +
                  " earlier); skipped");
          break;
      }
      continue;
    }
    // Blocks times f_bsize, as node_exporter (f_frsize, the unit POSIX
    // specifies, equals f_bsize on Linux's common filesystems).
    const auto bsize = static_cast<double>(r.st.f_bsize);
    b.add_to(labels, "node_filesystem_device_error", 0);
    b.add_to(labels, "node_filesystem_size_bytes", static_cast<double>(r.st.f_blocks) * bsize);
    b.add_to(labels, "node_filesystem_free_bytes", static_cast<double>(r.st.f_bfree) * bsize);
    b.add_to(labels, "node_filesystem_avail_bytes", static_cast<double>(r.st.f_bavail) * bsize);
    b.add_to(labels, "node_filesystem_files", static_cast<double>(r.st.f_files));
    b.add_to(labels, "node_filesystem_files_free", static_cast<double>(r.st.f_ffree));
    b.add_to(labels, "node_filesystem_readonly", mount_read_only(m) ? 1 : 0);
  }
}

}  // namespace

HostMetricsReader::HostMetricsReader(std::string proc_path, Labels base_labels, long clock_ticks,
                                     std::shared_ptr<BoundedStatvfs> statvfs)
    : proc_(std::move(proc_path)),
      base_(std::move(base_labels)),
      statvfs_(statvfs ? std::move(statvfs) : BoundedStatvfs::shared_default()) {
  if (clock_ticks <= 0) clock_ticks = sysconf(_SC_CLK_TCK);
  if (clock_ticks <= 0) clock_ticks = 100;  // the Linux USER_HZ on every architecture
  clock_ticks_ = static_cast<double>(clock_ticks);
}

HostMetrics HostMetricsReader::collect(std::int64_t now_ms) const {
  HostMetrics out;
  Builder b(base_, now_ms, out);
  read_loadavg(proc_, b);
  if (!read_stat(proc_, clock_ticks_, b)) read_uptime_boot_time(proc_, now_ms, b);
  read_meminfo(proc_, b);
  read_diskstats(proc_, b);
  read_net_dev(proc_, b);
  read_filesystems(proc_, *statvfs_, b);
  return out;
}

const std::vector<MetricFamily>& host_metric_families() {
  static const std::vector<MetricFamily> families = [] {
    std::vector<MetricFamily> all = proc_families();
    for (const auto& c : diskstats_columns()) all.push_back(c.family);
    for (const auto& f : filesystem_families()) all.push_back(f);
    for (const auto& f : net_dev_families()) all.push_back(f);
    return all;
  }();
  return families;
}

}  // namespace strata::agent

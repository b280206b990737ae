#include "agent/host_metrics.h"

#include <unistd.h>

#include <array>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string_view>

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

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(i, nl - i));
    i = nl + 1;
  }
  return out;
}

std::string_view first_line(std::string_view text) { return text.substr(0, text.find('\n')); }

bool parse_double(std::string_view s, double& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_u64(std::string_view s, std::uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

class Builder {
 public:
  Builder(const Labels& base, std::int64_t ts, HostMetrics& out)
      : base_(base), ts_(ts), out_(out) {}

  void add(const std::string& name, double value,
           std::initializer_list<std::pair<const char*, std::string>> extra = {}) {
    wire::Series s;
    s.labels = base_;
    s.labels.set("__name__", name);
    for (const auto& [k, v] : extra) s.labels.set(k, v);
    s.samples.push_back({ts_, value});
    out_.series.push_back(std::move(s));
  }

  void error(std::string msg) { out_.errors.push_back(std::move(msg)); }

 private:
  const Labels& base_;
  std::int64_t ts_;
  HostMetrics& out_;
};

void read_loadavg(const std::string& proc, Builder& b) {
  std::string path = proc + "/loadavg", text;
  if (!read_file(path, text)) return b.error(path + ": cannot read");
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
  if (!read_file(path, text)) {
    b.error(path + ": cannot read");
    return false;
  }
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
    const char* metric = nullptr;
    if (key == "ctxt")
      metric = "node_context_switches_total";
    else if (key == "btime")
      metric = "node_boot_time_seconds";
    else if (key == "procs_running")
      metric = "node_procs_running";
    if (!metric) continue;  // intr, processes, softirq, ...: not exported
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
  std::string path = proc + "/uptime", text;
  if (!read_file(path, text)) return b.error(path + ": cannot read (and no btime in stat)");
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
  if (!read_file(path, text)) return b.error(path + ": cannot read");
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

}  // namespace

HostMetricsReader::HostMetricsReader(std::string proc_path, Labels base_labels, long clock_ticks)
    : proc_(std::move(proc_path)), base_(std::move(base_labels)) {
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
  return out;
}

}  // namespace strata::agent

#include "agent/options.h"

#include <unistd.h>

#include <array>

#include "common/service.h"
#include "common/wire_format.h"

namespace strata::agent {

using config::ConfigError;

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "agent", "127.0.0.1:9101");
  s.add("agent.collector_url", Type::kString, "http://127.0.0.1:8080",
        "Base URL of the collector; batches go to <url>/api/v1/push/metrics and "
        "<url>/api/v1/push/logs.");
  s.add("agent.interval", Type::kDuration, "15s", "How often host metrics are read and shipped.");
  s.add("agent.files", Type::kList, "",
        "Log files to tail: paths or glob patterns (re-expanded every agent.rescan_interval). "
        "Files present at start are read from their end, files appearing later from the "
        "beginning.");
  s.add("agent.rescan_interval", Type::kDuration, "10s",
        "How often glob patterns in agent.files are re-expanded to find new files.");
  s.add("agent.labels", Type::kStringMap, "",
        "Labels added to every series and log stream (e.g. env=prod,dc=eu1). May not use "
        "instance, job, filename, cpu, mode or names starting with __.");
  s.add("agent.instance", Type::kString, "",
        "Value of the instance label on everything shipped; empty means this host's name.");
  s.add("agent.proc_path", Type::kString, "/proc",
        "Where procfs is mounted (a host's /proc seen from a container, or a fake tree in "
        "tests).");
  s.add("agent.flush_interval", Type::kDuration, "1s",
        "Longest time a read log line waits before being shipped.");
  s.add("agent.max_line_bytes", Type::kInt, "262144",
        "Longer log lines are truncated to this many bytes (counted in "
        "strata_agent_lines_truncated_total).");
  s.add("agent.queue_max_bytes", Type::kInt, "67108864",
        "Encoded batches kept in memory per kind (metrics, logs) while the collector is "
        "unreachable; beyond this the oldest are dropped and counted.");
}

bool is_reserved_label(const std::string& name) {
  static const std::array<const char*, 5> kReserved = {"instance", "job", "filename", "cpu",
                                                       "mode"};
  if (name.rfind("__", 0) == 0) return true;
  for (const char* r : kReserved)
    if (name == r) return true;
  return false;
}

std::string local_hostname() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "localhost";
  return std::string(buf.data());
}

AgentOptions AgentOptions::from_config(const config::Config& cfg) {
  AgentOptions o;
  o.http = http_options(cfg, "agent");

  o.collector_url = cfg.str("agent.collector_url");
  while (!o.collector_url.empty() && o.collector_url.back() == '/') o.collector_url.pop_back();
  if (o.collector_url.rfind("http://", 0) != 0 && o.collector_url.rfind("https://", 0) != 0)
    throw ConfigError(
        "config key 'agent.collector_url': expected an http:// or https:// URL, got '" +
        cfg.str("agent.collector_url") + "'");

  o.interval = cfg.positive_duration("agent.interval");
  o.flush_interval = cfg.positive_duration("agent.flush_interval");
  o.rescan_interval = cfg.positive_duration("agent.rescan_interval");
  o.max_line_bytes = static_cast<std::size_t>(cfg.positive_integer("agent.max_line_bytes"));
  o.queue_max_bytes = static_cast<std::size_t>(cfg.positive_integer("agent.queue_max_bytes"));

  for (auto& f : cfg.list("agent.files"))
    if (!f.empty()) o.files.push_back(f);

  o.labels = cfg.string_map("agent.labels");
  for (const auto& [name, value] : o.labels) {
    if (!wire::valid_label_name(name))
      throw ConfigError("config key 'agent.labels': '" + name +
                        "' is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    if (is_reserved_label(name))
      throw ConfigError("config key 'agent.labels': label '" + name +
                        "' is set by the agent itself and cannot be configured");
    if (!wire::valid_utf8(value))
      throw ConfigError("config key 'agent.labels': value of '" + name + "' is not valid UTF-8");
  }

  o.instance = cfg.str("agent.instance");
  if (o.instance.empty()) o.instance = local_hostname();
  o.proc_path = cfg.str("agent.proc_path");
  if (o.proc_path.empty()) throw ConfigError("config key 'agent.proc_path': must not be empty");
  return o;
}

}  // namespace strata::agent

#include "agent/options.h"

#include <unistd.h>

#include <array>
#include <set>

#include <re2/re2.h>

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
  s.add("agent.collector_urls", Type::kList, "",
        "Several collectors (base URLs), tried in order: when one is unreachable or answers "
        "429/5xx, a batch goes to the next at once. Replaces agent.collector_url when set.");
  s.add("agent.compression", Type::kString, "zstd",
        "Compression of the batches sent to the collector: zstd (Content-Encoding: zstd) or "
        "none.");
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
  s.add("agent.scrape_configs", Type::kList, "",
        "Prometheus endpoints to scrape, one entry per job: \"JOB URL [URL...] "
        "[interval=DURATION] [timeout=DURATION]\", e.g. \"node http://127.0.0.1:9100/metrics "
        "interval=30s\". Series get job=JOB and instance=<host:port of the URL>; up, "
        "scrape_duration_seconds and scrape_samples_scraped are added, and staleness markers "
        "written for series and targets that disappear.");
  s.add("agent.scrape_interval", Type::kDuration, "15s",
        "Scrape interval of agent.scrape_configs entries that set none.");
  s.add("agent.scrape_timeout", Type::kDuration, "10s",
        "Scrape timeout of agent.scrape_configs entries that set none (at most their interval).");
  s.add("agent.data_dir", Type::kString, "",
        "Directory of the tail checkpoints (checkpoints.json) and the on-disk buffer "
        "(buffer/); one agent per directory. Empty: neither -- a restart tails files from "
        "their end and batches wait in memory only. Set it in production "
        "(e.g. /var/lib/strata-agent).");
  s.add("agent.buffer_max_bytes", Type::kInt, "1073741824",
        "With agent.data_dir: disk per kind (metrics, logs) for batches waiting while the "
        "collector is unreachable (replaces agent.queue_max_bytes); beyond this the oldest are "
        "dropped and counted.");
  s.add("agent.journal", Type::kBool, "false",
        "Also ship the systemd journal (one stream per unit: label unit=<_SYSTEMD_UNIT, else "
        "SYSLOG_IDENTIFIER>). Starts at the journal's end, then resumes from the cursor saved in "
        "agent.data_dir (journal.cursor).");
  s.add("agent.journal_path", Type::kString, "",
        "With agent.journal: a directory of journal files to read instead of the local system "
        "journal (/var/log/journal, /run/log/journal).");
  s.add("agent.multiline_start", Type::kString, "",
        "RE2 pattern of the first line of a multi-line record (e.g. ^\\d{4}-\\d{2}-\\d{2} or "
        "^[^\\s]); other lines are joined to the record before them with a newline. Empty: every "
        "line is a record.");
  s.add("agent.multiline_timeout", Type::kDuration, "1s",
        "A multi-line record is shipped once no continuation line came for this long.");
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

  auto base_url = [](std::string url, const char* key) {
    const std::string given = url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      throw ConfigError(std::string("config key '") + key +
                        "': expected an http:// or https:// URL, got '" + given + "'");
    return url;
  };
  o.collector_url = base_url(cfg.str("agent.collector_url"), "agent.collector_url");
  for (const auto& u : cfg.list("agent.collector_urls"))
    if (!u.empty()) o.collector_urls.push_back(base_url(u, "agent.collector_urls"));
  if (o.collector_urls.empty()) o.collector_urls.push_back(o.collector_url);
  const std::string compression = cfg.str("agent.compression");
  if (compression != "zstd" && compression != "none")
    throw ConfigError("config key 'agent.compression': expected zstd or none, got '" + compression +
                      "'");
  o.zstd = compression == "zstd";

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

  const auto scrape_interval = cfg.positive_duration("agent.scrape_interval");
  const auto scrape_timeout = cfg.positive_duration("agent.scrape_timeout");
  std::set<std::string> jobs;
  for (const auto& spec : cfg.list("agent.scrape_configs")) {
    if (spec.empty()) continue;
    try {
      o.scrape_configs.push_back(parse_scrape_config(spec, scrape_interval, scrape_timeout));
    } catch (const std::exception& e) {
      throw ConfigError("config key 'agent.scrape_configs': entry \"" + spec + "\": " + e.what());
    }
    if (!jobs.insert(o.scrape_configs.back().job).second)
      throw ConfigError("config key 'agent.scrape_configs': job \"" + o.scrape_configs.back().job +
                        "\" appears twice; list all its targets in one entry");
  }

  o.data_dir = cfg.str("agent.data_dir");
  o.journal = cfg.boolean("agent.journal");
  o.journal_path = cfg.str("agent.journal_path");
  o.buffer_max_bytes = static_cast<std::size_t>(cfg.positive_integer("agent.buffer_max_bytes"));
  o.multiline_start = cfg.str("agent.multiline_start");
  if (!o.multiline_start.empty()) {
    RE2 re(o.multiline_start, RE2::Quiet);
    if (!re.ok())
      throw ConfigError("config key 'agent.multiline_start': invalid RE2 pattern '" +
                        o.multiline_start + "': " + re.error());
  }
  o.multiline_timeout = cfg.positive_duration("agent.multiline_timeout");

  o.instance = cfg.str("agent.instance");
  if (o.instance.empty()) o.instance = local_hostname();
  o.proc_path = cfg.str("agent.proc_path");
  if (o.proc_path.empty()) throw ConfigError("config key 'agent.proc_path': must not be empty");
  return o;
}

}  // namespace strata::agent

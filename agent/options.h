// Agent options: the `agent.*` configuration keys and their validated,
// typed form. add_options() is the single place the keys and their defaults
// are declared (so `--help` and docs/config.md stay right); from_config()
// turns a loaded Config into AgentOptions or throws config::ConfigError naming
// the key, so a bad setting stops the agent before it starts anything.
//
// AgentOptions is a plain value; copy it freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/file_tailer.h"
#include "agent/scraper.h"
#include "common/config.h"
#include "common/http_server.h"

namespace strata::agent {

struct AgentOptions {
  http::ServerOptions http;  // the agent's own /metrics, /healthz, /readyz
  std::string collector_url = "http://127.0.0.1:8080";  // no trailing '/'
  // What the shippers use: agent.collector_urls, or {collector_url}.
  std::vector<std::string> collector_urls;
  bool zstd = true;                                   // agent.compression
  std::chrono::milliseconds interval{15'000};         // host metrics period
  std::chrono::milliseconds flush_interval{1'000};    // log batches
  std::chrono::milliseconds rescan_interval{10'000};  // glob re-expansion
  std::vector<std::string> files;                     // paths or glob patterns
  std::map<std::string, std::string> labels;          // added to every series/stream
  std::string instance;                               // never empty after from_config
  std::string proc_path = "/proc";
  std::size_t max_line_bytes = 262'144;
  std::size_t queue_max_bytes = 64u << 20;   // per kind (metrics, logs), in memory
  std::size_t buffer_max_bytes = 1u << 30;   // per kind, on disk (with data_dir)
  std::vector<ScrapeConfig> scrape_configs;  // Prometheus endpoints to scrape
  // Checkpoints and the on-disk buffer live here; empty: neither (memory only).
  std::string data_dir;
  bool journal = false;         // ship the systemd journal too
  std::string journal_path;     // empty: the local system journal
  std::string multiline_start;  // RE2; empty: every line is a record
  std::chrono::milliseconds multiline_timeout{1'000};
  // Not a key: where a reload (SIGHUP) hands the previous agent's tail
  // positions to the next one when there is no agent.data_dir.
  std::vector<FilePosition> resume;
  // Not a key: a reload hands over the previous agent's scrapers. Targets the
  // new configuration keeps go on with what they last scraped (a series
  // gone across the reload still gets its staleness marker); the others are
  // retired: their series get staleness markers at once.
  std::vector<std::shared_ptr<TargetScraper>> scrapers;
  // Not a key: the journal cursor a reload hands over without agent.data_dir.
  std::string journal_cursor;

  static AgentOptions from_config(const config::Config& cfg);
};

void add_options(config::Schema& schema);

// Label names the agent sets itself; agent.labels may not use them (nor any
// name starting with "__"), so a configured label can never silently replace
// the identity of a series or stream.
bool is_reserved_label(const std::string& name);

// This machine's hostname, the default instance label.
std::string local_hostname();

}  // namespace strata::agent

// Host metrics: reads procfs (loadavg, stat, meminfo, uptime) into wire
// series named and labelled exactly as Prometheus's node_exporter does
// (node_load1, node_cpu_seconds_total{cpu,mode}, node_memory_*_bytes, ...),
// so dashboards and alerts written for node_exporter work unchanged.
//
// Parsing is defensive: procfs differs across kernels and a container may see
// a partial or fake tree, so a missing file or malformed line is skipped and
// reported in HostMetrics::errors -- never an exception, never a crash -- and
// everything that did parse is still returned.
//
// HostMetricsReader holds only immutable settings: collect() may be called
// from any thread, concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"

namespace strata::agent {

struct HostMetrics {
  std::vector<wire::Series> series;  // one sample each, at the collection time
  std::vector<std::string> errors;   // one message per skipped file or line
};

class HostMetricsReader {
 public:
  // `base_labels` (instance, job="node", agent.labels) go on every series.
  // `clock_ticks` is USER_HZ, the unit of the CPU times in <proc>/stat;
  // 0 means sysconf(_SC_CLK_TCK).
  HostMetricsReader(std::string proc_path, Labels base_labels, long clock_ticks = 0);

  HostMetrics collect(std::int64_t now_ms) const;

  const std::string& proc_path() const { return proc_; }

 private:
  std::string proc_;
  Labels base_;
  double clock_ticks_;
};

}  // namespace strata::agent

// Host metrics: reads procfs into wire series named and labelled exactly as
// Prometheus's node_exporter 1.5.0 does with its default settings, so
// dashboards and alerts written for node_exporter work unchanged:
//  - loadavg, stat, meminfo (uptime as a fallback): node_load1,
//    node_cpu_seconds_total{cpu,mode}, node_memory_*_bytes, node_boot_time_seconds,
//    node_context_switches_total, node_intr_total, node_forks_total,
//    node_procs_running, node_procs_blocked;
//  - diskstats: node_disk_*{device} (agent/diskstats.h);
//  - 1/mounts + statvfs: node_filesystem_*{device,fstype,mountpoint}
//    (agent/filesystem_stats.h);
//  - net/dev: node_network_{receive,transmit}_*_total{device} (agent/netdev.h).
// host_metric_families() lists every family with node_exporter's HELP and TYPE.
//
// Parsing is defensive: procfs differs across kernels and a container may see
// a partial or fake tree, so a missing file leaves its families out and a
// malformed line is skipped; each is reported in HostMetrics::errors, with
// the file and line -- never an exception, never a crash -- and everything
// that did parse is still returned. A mount whose statvfs fails or hangs is
// exported as node_filesystem_device_error 1 and reported in errors too.
//
// HostMetricsReader holds immutable settings and a BoundedStatvfs, which is
// internally synchronized: collect() may be called from any thread,
// concurrently (the statvfs calls of concurrent collections are serialized).
// collect() takes at most BoundedStatvfs::timeout() longer than reading
// procfs for each mount that newly stops answering.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/metric_family.h"
#include "common/labels.h"
#include "common/wire_format.h"

namespace strata::agent {

class BoundedStatvfs;

struct HostMetrics {
  std::vector<wire::Series> series;  // one sample each, at the collection time
  std::vector<std::string> errors;   // one message per skipped file, line or mount
};

class HostMetricsReader {
 public:
  // `base_labels` (instance, job="node", agent.labels) go on every series.
  // `clock_ticks` is USER_HZ, the unit of the CPU times in <proc>/stat;
  // 0 means sysconf(_SC_CLK_TCK). `statvfs` runs the filesystem calls;
  // null means the process-wide BoundedStatvfs::shared_default().
  HostMetricsReader(std::string proc_path, Labels base_labels, long clock_ticks = 0,
                    std::shared_ptr<BoundedStatvfs> statvfs = nullptr);

  HostMetrics collect(std::int64_t now_ms) const;

  const std::string& proc_path() const { return proc_; }

 private:
  std::string proc_;
  Labels base_;
  double clock_ticks_;
  std::shared_ptr<BoundedStatvfs> statvfs_;
};

// Every family collect() can produce, with node_exporter 1.5.0's TYPE and
// HELP (which the wire format does not carry).
const std::vector<MetricFamily>& host_metric_families();

}  // namespace strata::agent

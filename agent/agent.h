// Agent: the strata-agent daemon -- host metrics and tailed log files shipped
// to the collector, plus the agent's own /metrics, /healthz and /readyz.
//
// Two threads, so that a slow collector or a flood of log lines delays one
// kind of data and not the other:
//  - metrics: reads procfs every agent.interval (first read at start) and
//    ships the series;
//  - tail (only when agent.files is set): polls the files every 250 ms and
//    ships what was read every agent.flush_interval, or sooner once 1 MiB is
//    pending.
// Each thread owns its Shipper and so its HTTP connection and retry queue.
//
// start() records the files present at that moment (they are tailed from
// their end) before returning, so a line appended after start() returns is
// always shipped. stop() is graceful and idempotent: the tail thread reads the
// files one last time, each thread makes one final delivery attempt for what
// is queued, then the HTTP server stops. start() and stop() are meant to be
// called from one controlling thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/file_tailer.h"
#include "agent/host_metrics.h"
#include "agent/options.h"
#include "agent/shipper.h"
#include "common/config.h"
#include "common/service.h"

namespace strata::agent {

class Agent {
 public:
  // Throws config::ConfigError on invalid settings, before anything starts.
  explicit Agent(const config::Config& cfg);
  explicit Agent(AgentOptions options);
  ~Agent();  // stop()
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Binds the HTTP server (throws std::runtime_error if it cannot), then
  // starts the threads.
  void start();
  void stop();

  std::string url() const { return service_.url(); }
  const AgentOptions& options() const { return options_; }
  metrics::Registry& metrics() { return service_.metrics(); }

 private:
  void metrics_loop();
  void tail_loop();
  void collect_host_metrics();
  void ship_lines(std::vector<TailEntry>& pending);
  // Sleeps until `deadline` or stop(); false once stopping.
  bool wait_until(std::chrono::steady_clock::time_point deadline);

  AgentOptions options_;
  Labels stream_labels_;
  Service service_;
  HostMetricsReader host_;
  Shipper metrics_shipper_;
  Shipper logs_shipper_;
  FileTailer tailer_;

  metrics::Counter& host_errors_;
  metrics::Counter& lines_read_;
  metrics::Counter& lines_truncated_;
  bool host_failing_ = false;  // metrics thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::thread metrics_thread_;
  std::thread tail_thread_;
};

}  // namespace strata::agent

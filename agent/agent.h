// Agent: the strata-agent daemon -- host metrics and tailed log files shipped
// to the collector, plus the agent's own /metrics, /healthz and /readyz.
//
// Two threads, so that a slow collector or a flood of log lines delays one
// kind of data and not the other:
//  - metrics: reads procfs every agent.interval (first read at start) and
//    ships the series;
//  - tail (only when agent.files is set): polls the files every 250 ms and
//    queues what was read as encoded, compressed batches every
//    agent.flush_interval, or sooner once 1 MiB is pending. With
//    agent.multiline_start, lines are joined into records first
//    (agent/multiline.h). With agent.data_dir, it keeps the tail checkpoint
//    (agent/checkpoint_store.h): each file's position is held back to the
//    first line not yet settled -- acknowledged by the collector (memory
//    queue) or written to the on-disk buffer -- and saved after every change
//    (within a poll of an acknowledgement), so a restart resumes there
//    (at-least-once).
//  - log shipping (with the tail thread): delivers the queued log batches
//    as soon as they are queued, so the POST round trip overlaps with
//    reading and encoding the next batch. While the collector keeps up, the
//    tail thread waits once kMaxQueuedLogBatches are queued (memory stays
//    bounded and nothing is evicted); while it fails, reading goes on into
//    the bounded queue (the on-disk buffer with agent.data_dir).
//  - journal (only with agent.journal): reads the systemd journal
//    (agent/journal_reader.h) in batches of up to 5,000 entries, queues them
//    for the log-shipping thread like the tail thread does, and persists the
//    cursor of the newest settled entry in <agent.data_dir>/journal.cursor,
//    so a restart resumes after it (at-least-once).
//  - scrape (one per target of agent.scrape_configs, as Prometheus runs a
//    loop per target): scrapes its target at its interval, so a target that
//    times out delays no other, and hands the result to the metrics thread,
//    which ships it at once. The hand-off holds at most 256 scrapes; beyond
//    that (the collector stalls the metrics thread) the oldest are dropped
//    and counted, so memory stays bounded. On a reload (AgentOptions::
//    scrapers) kept targets continue where they were; removed ones get
//    staleness markers for all their series, shipped first.
// Each shipping thread owns its Shipper and so its HTTP connection and retry
// queue.
//
// start() records the files present at that moment (they are tailed from
// their end) before returning, so a line appended after start() returns is
// always shipped. stop() is graceful and idempotent: the tail thread reads the
// files one last time, each thread makes one final delivery attempt for what
// is queued, then the HTTP server stops. start() and stop() are meant to be
// called from one controlling thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/checkpoint_store.h"
#include "agent/file_tailer.h"
#include "agent/host_metrics.h"
#include "agent/multiline.h"
#include "agent/options.h"
#include "agent/scraper.h"
#include "agent/shipper.h"
#include "common/config.h"
#include "common/file.h"
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

  // After stop(): where each file was left (held back to the first line not
  // settled), for the next Agent of a reload (AgentOptions::resume).
  std::vector<FilePosition> tail_positions();
  // After stop(): the scrapers, for the next Agent of a reload
  // (AgentOptions::scrapers).
  std::vector<std::shared_ptr<TargetScraper>> take_scrapers();
  // After stop(): the cursor of the newest settled journal entry, for the next
  // Agent of a reload (AgentOptions::journal_cursor).
  std::string journal_cursor();

  std::string url() const { return service_.url(); }
  const AgentOptions& options() const { return options_; }
  metrics::Registry& metrics() { return service_.metrics(); }

 private:
  void metrics_loop();
  void tail_loop();
  void log_ship_loop();
  void journal_loop();
  // Tail or journal thread, after queueing log batches: wakes the
  // log-shipping thread and waits while the collector keeps up and
  // kMaxQueuedLogBatches are queued.
  void wait_for_log_queue();
  void save_journal_cursor();
  struct ScrapeTarget {
    std::shared_ptr<TargetScraper> scraper;
    std::chrono::milliseconds interval;
  };
  void scrape_loop(const ScrapeTarget& target);
  void hand_off(wire::MetricsBatch batch);
  void collect_host_metrics();
  void ship_lines();
  void save_checkpoint();
  // Positions held back to the first unsettled line of each file; with
  // `all_settled`, every batch pushed so far counts as settled.
  std::vector<FilePosition> checkpoint_positions(bool all_settled);
  // Sleeps until `deadline` or stop(); false once stopping.
  bool wait_until(std::chrono::steady_clock::time_point deadline);
  bool stopping();

  AgentOptions options_;
  Labels stream_labels_;
  std::unique_ptr<DirLock> dir_lock_;  // agent.data_dir: one agent per directory
  Service service_;
  HostMetricsReader host_;
  Shipper metrics_shipper_;
  Shipper logs_shipper_;
  std::unique_ptr<CheckpointStore> checkpoints_;  // before tailer_: it provides the resume list
  FileTailer tailer_;
  std::unique_ptr<MultilineJoiner> joiner_;

  // Tail thread only. Lines read and not yet in a batch, and for each group of
  // batches pushed, the shipper's pushed() count after it and the first
  // offset per file it holds: what a checkpoint must not move past.
  using Identity = std::pair<std::uint64_t, std::uint64_t>;
  struct InFlight {
    std::uint64_t seq;
    std::map<Identity, std::uint64_t> earliest;
  };
  std::vector<TailEntry> pending_;
  std::deque<InFlight> in_flight_;
  bool checkpoint_failing_ = false;

  metrics::Counter& host_errors_;
  metrics::Counter& lines_read_;
  metrics::Counter& lines_truncated_;
  metrics::Counter& journal_entries_;
  metrics::Counter& scrapes_dropped_;
  metrics::Counter& checkpoint_errors_;
  bool host_failing_ = false;  // metrics thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::thread metrics_thread_;
  std::thread tail_thread_;
  std::thread log_ship_thread_;
  std::thread journal_thread_;
  // Journal thread only (and stop() once it ended): per group of batches
  // pushed, the shipper's pushed() count after it and the cursor of its
  // newest entry; the newest settled cursor and what journal.cursor holds.
  std::deque<std::pair<std::uint64_t, std::string>> journal_in_flight_;
  std::string journal_settled_;
  std::string journal_saved_;
  // Under mu_: the tail thread and the log-shipping thread wake each other
  // (a batch queued, a batch settled) without waking the metrics thread.
  std::condition_variable log_cv_;
  bool log_ship_stopping_ = false;  // set once the tail thread has ended
  // Set by the log-shipping thread when a batch settles; the tail thread
  // then saves the checkpoint (the tail state is its own).
  std::atomic<bool> settled_changed_{false};
  std::vector<ScrapeTarget> targets_;
  std::vector<wire::MetricsBatch> retired_;  // staleness markers of removed targets
  std::vector<std::thread> scrape_threads_;
  std::deque<wire::MetricsBatch> scraped_;  // under mu_: scrape -> metrics thread
};

}  // namespace strata::agent

#include "agent/agent.h"

#include "agent/disk_batch_queue.h"
#include "agent/journal_reader.h"

#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include <fmt/ranges.h>
#include <re2/re2.h>

#include <spdlog/spdlog.h>

namespace strata::agent {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(250);
constexpr std::size_t kPendingFlushBytes = 1u << 20;
// First bytes of <agent.data_dir>/journal.cursor (docs/format/journal_cursor.md).
constexpr char kJournalCursorHeader[] = "strata-journal-cursor 1 ";
// Log batches (each at most 1 MiB of lines) queued ahead of the one being
// delivered before the tail thread waits: enough to keep the shipping thread
// busy, little enough to keep the agent's memory small.
constexpr std::size_t kMaxQueuedLogBatches = 4;

Labels with_extra(std::initializer_list<Label> own,
                  const std::map<std::string, std::string>& extra) {
  Labels l{std::vector<Label>(own)};
  for (const auto& [k, v] : extra) l.set(k, v);
  return l;
}

ShipperOptions shipper_options(const AgentOptions& o) {
  ShipperOptions s;
  s.collector_urls = o.collector_urls;
  s.zstd = o.zstd;
  s.queue_max_bytes = o.queue_max_bytes;
  return s;
}

std::unique_ptr<DirLock> lock_data_dir(const AgentOptions& o) {
  if (o.data_dir.empty()) return nullptr;
  std::filesystem::create_directories(o.data_dir);
  return std::make_unique<DirLock>(o.data_dir);
}

std::unique_ptr<BatchQueue> make_queue(const AgentOptions& o, const char* kind) {
  if (o.data_dir.empty()) return nullptr;  // the Shipper's MemoryBatchQueue
  return std::make_unique<DiskBatchQueue>(std::filesystem::path(o.data_dir) / "buffer" / kind,
                                          o.buffer_max_bytes);
}

std::unique_ptr<CheckpointStore> checkpoint_store(const AgentOptions& o) {
  if (o.data_dir.empty()) return nullptr;
  std::filesystem::create_directories(o.data_dir);
  return std::make_unique<CheckpointStore>(o.data_dir);
}

// The checkpoint to resume from: the saved one, advanced by the one the
// newest batch in the on-disk buffer carries (written atomically with that
// batch, so lines already in the buffer are not read a second time when the
// agent died before saving checkpoints.json). Both only hold positions whose
// lines are safe, so per file the further one wins.
TailerOptions tailer_options(const AgentOptions& o, const CheckpointStore* store,
                             const std::string& buffered_meta) {
  TailerOptions t;
  t.patterns = o.files;
  t.max_line_bytes = o.max_line_bytes;
  t.rescan_interval = o.rescan_interval;
  if (!store) {
    t.resume = o.resume;  // a reload without data_dir
    return t;
  }
  std::optional<std::vector<FilePosition>> saved = store->load();
  if (!buffered_meta.empty()) {
    std::vector<FilePosition> newer;
    try {
      newer = CheckpointStore::decode(buffered_meta);
    } catch (const std::exception& e) {
      spdlog::warn(
          "tail: the checkpoint carried by the on-disk buffer is unreadable ({}); using {}",
          e.what(), store->path().string());
    }
    if (!saved) saved.emplace();
    for (const auto& n : newer) {
      bool found = false;
      for (auto& p : *saved)
        if (p.device == n.device && p.inode == n.inode) {
          found = true;
          if (n.offset > p.offset) p = n;
        }
      if (!found) saved->push_back(n);
    }
  }
  if (saved) {
    spdlog::info("tail: resuming {} files from {}", saved->size(), store->path().string());
    t.resume = std::move(*saved);
    t.unknown_files_from_start = true;
  }
  return t;
}

std::unique_ptr<MultilineJoiner> joiner(const AgentOptions& o) {
  if (o.multiline_start.empty()) return nullptr;
  auto re = std::make_shared<const RE2>(o.multiline_start, RE2::Quiet);
  return std::make_unique<MultilineJoiner>(re, o.multiline_timeout, o.max_line_bytes);
}

// Gives memory freed after a burst (a scrape of thousands of series, a
// batch of log lines) back to the kernel. glibc keeps freed heap otherwise,
// and the agent's resident size is what an operator sees on every host.
void release_free_memory() {
#ifdef __GLIBC__
  malloc_trim(64 * 1024);
#endif
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Agent::Agent(const config::Config& cfg) : Agent(AgentOptions::from_config(cfg)) {}

Agent::Agent(AgentOptions options)
    : options_(std::move(options)),
      stream_labels_(
          with_extra({{"instance", options_.instance}, {"job", "strata-agent"}}, options_.labels)),
      dir_lock_(lock_data_dir(options_)),
      service_("strata-agent", options_.http),
      host_(options_.proc_path,
            with_extra({{"instance", options_.instance}, {"job", "node"}}, options_.labels)),
      metrics_shipper_(Kind::kMetrics, shipper_options(options_), service_.metrics(),
                       make_queue(options_, "metrics")),
      logs_shipper_(Kind::kLogs, shipper_options(options_), service_.metrics(),
                    make_queue(options_, "logs")),
      checkpoints_(checkpoint_store(options_)),
      tailer_(tailer_options(options_, checkpoints_.get(), logs_shipper_.queue().newest_meta())),
      joiner_(joiner(options_)),
      host_errors_(service_.metrics().counter(
          "strata_agent_host_metrics_errors_total",
          "procfs files or lines that could not be read or parsed, and were skipped.")),
      lines_read_(service_.metrics().counter("strata_agent_log_lines_read_total",
                                             "Log lines read from tailed files.")),
      lines_truncated_(service_.metrics().counter(
          "strata_agent_lines_truncated_total",
          "Log lines longer than agent.max_line_bytes, shipped truncated.")),
      journal_entries_(
          service_.metrics().counter("strata_agent_journal_entries_read_total",
                                     "Entries read from the systemd journal (agent.journal).")),
      scrapes_dropped_(service_.metrics().counter(
          "strata_agent_scrapes_dropped_total",
          "Scrape results dropped before shipping because the metrics thread was stalled by "
          "an unreachable collector.")),
      checkpoint_errors_(service_.metrics().counter(
          "strata_agent_checkpoint_errors_total",
          "Failed writes of the tail checkpoint (agent.data_dir); the previous one stays.")) {
  logs_shipper_.on_settled([this] {
    settled_changed_.store(true, std::memory_order_release);
    { std::lock_guard lock(mu_); }  // a waiter is either before its check or asleep
    log_cv_.notify_all();
  });
  // Scrape targets: the previous agent's scraper when a reload keeps the
  // target, a new one otherwise; what a reload dropped is retired now.
  std::vector<std::shared_ptr<TargetScraper>> inherited = std::move(options_.scrapers);
  options_.scrapers.clear();
  for (const auto& c : options_.scrape_configs)
    for (const auto& url : c.targets) {
      std::shared_ptr<TargetScraper> scraper;
      for (auto& old : inherited)
        if (old && old->same_target(c.job, url, c.timeout, options_.labels)) {
          scraper = std::move(old);
          break;
        }
      if (!scraper)
        scraper = std::make_shared<TargetScraper>(c.job, url, c.timeout, options_.labels);
      targets_.push_back({std::move(scraper), c.interval});
    }
  for (auto& old : inherited)
    if (old) {
      wire::MetricsBatch b = old->retire(now_ms());
      if (!b.series.empty()) {
        spdlog::info("scrape {} (job {}): removed by the reload; {} series marked stale",
                     old->url(), old->job(), b.series.size());
        retired_.push_back(std::move(b));
      }
    }
  service_.metrics().gauge_callback("strata_agent_files_open",
                                    "Log files currently open for tailing.",
                                    [this] { return static_cast<double>(tailer_.open_files()); });
}

Agent::~Agent() { stop(); }

void Agent::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  service_.start();
  started_ = true;
  spdlog::info(
      "strata-agent: instance {}, shipping to {} (host metrics every {} ms, {} file "
      "patterns)",
      options_.instance, fmt::join(options_.collector_urls, ", "), options_.interval.count(),
      options_.files.size());
  // Markers of targets a reload removed go out with the first round (mu_ is
  // held: no hand_off()).
  for (auto& b : retired_) scraped_.push_back(std::move(b));
  retired_.clear();
  metrics_thread_ = std::thread([this] { metrics_loop(); });
  if (!options_.files.empty()) {
    tailer_.start();  // before returning: see "start() records the files" in agent.h
    tail_thread_ = std::thread([this] { tail_loop(); });
  }
  if (options_.journal) journal_thread_ = std::thread([this] { journal_loop(); });
  if (!options_.files.empty() || options_.journal)
    log_ship_thread_ = std::thread([this] { log_ship_loop(); });
  for (const auto& t : targets_) scrape_threads_.emplace_back([this, &t] { scrape_loop(t); });
}

std::vector<std::shared_ptr<TargetScraper>> Agent::take_scrapers() {
  std::lock_guard lock(mu_);
  if (started_ && !stopped_) throw std::logic_error("Agent::take_scrapers() before stop()");
  std::vector<std::shared_ptr<TargetScraper>> out;
  for (auto& t : targets_) out.push_back(std::move(t.scraper));
  targets_.clear();
  return out;
}

std::vector<FilePosition> Agent::tail_positions() {
  std::lock_guard lock(mu_);
  if (started_ && !stopped_) throw std::logic_error("Agent::tail_positions() before stop()");
  return checkpoint_positions(false);
}

void Agent::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    if (!started_) return;
  }
  cv_.notify_all();
  log_cv_.notify_all();
  if (tail_thread_.joinable()) tail_thread_.join();
  if (journal_thread_.joinable()) journal_thread_.join();
  // The tail thread queued its last lines; one final delivery attempt, then
  // the checkpoint as of what that settled.
  {
    std::lock_guard lock(mu_);
    log_ship_stopping_ = true;
  }
  log_cv_.notify_all();
  if (log_ship_thread_.joinable()) {
    log_ship_thread_.join();
    save_checkpoint();
    if (options_.journal) save_journal_cursor();
  }
  for (auto& t : scrape_threads_) t.join();
  scrape_threads_.clear();
  if (metrics_thread_.joinable()) metrics_thread_.join();
  service_.stop();
  spdlog::info("strata-agent: stopped");
}

bool Agent::stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

bool Agent::wait_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return stopping_; });
  return !stopping_;
}

void Agent::metrics_loop() {
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    const bool tick = std::chrono::steady_clock::now() >= next;
    if (tick) {
      collect_host_metrics();
      next += options_.interval;
      // After a long stall (a slow collector), skip the missed ticks rather
      // than firing them back to back.
      auto now = std::chrono::steady_clock::now();
      if (next < now) next = now + options_.interval;
    }
    std::deque<wire::MetricsBatch> scraped;
    {
      std::lock_guard lock(mu_);
      scraped.swap(scraped_);
    }
    for (const auto& b : scraped) metrics_shipper_.enqueue(b);
    if (tick || !scraped.empty()) {
      metrics_shipper_.flush();
      scraped.clear();
      release_free_memory();
    }
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, next, [this] { return stopping_ || !scraped_.empty(); });
    if (stopping_) break;
  }
  std::deque<wire::MetricsBatch> scraped;
  {
    std::lock_guard lock(mu_);
    scraped.swap(scraped_);
  }
  for (const auto& b : scraped) metrics_shipper_.enqueue(b);
  metrics_shipper_.flush_final();
}

void Agent::hand_off(wire::MetricsBatch batch) {
  constexpr std::size_t kMaxPendingScrapes = 256;
  {
    std::lock_guard lock(mu_);
    if (scraped_.size() >= kMaxPendingScrapes) {
      scraped_.pop_front();
      scrapes_dropped_.inc();
    }
    scraped_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

void Agent::scrape_loop(const ScrapeTarget& target) {
  TargetScraper& scraper = *target.scraper;
  bool up = true;  // log the transitions, not every failed scrape
  auto next = std::chrono::steady_clock::now();
  while (wait_until(next)) {
    ScrapeOutcome o = scraper.scrape(now_ms());
    if (!o.up && up)
      spdlog::warn("scrape {} (job {}): target down: {}", scraper.url(), scraper.job(), o.error);
    else if (o.up && !up)
      spdlog::info("scrape {} (job {}): target up again", scraper.url(), scraper.job());
    up = o.up;
    hand_off(std::move(o.batch));
    next += target.interval;
    if (auto now = std::chrono::steady_clock::now(); next < now) next = now + target.interval;
  }
}

void Agent::collect_host_metrics() {
  HostMetrics m = host_.collect(now_ms());
  if (!m.errors.empty()) {
    host_errors_.inc(static_cast<double>(m.errors.size()));
    // Warn when a problem appears, not on every tick it persists.
    if (!host_failing_)
      spdlog::warn("host metrics: {} problems reading {} (first: {}); skipped", m.errors.size(),
                   host_.proc_path(), m.errors.front());
    for (const auto& e : m.errors) spdlog::debug("host metrics: {}", e);
  }
  host_failing_ = !m.errors.empty();
  wire::MetricsBatch batch;
  batch.series = std::move(m.series);
  metrics_shipper_.enqueue(batch);
}

void Agent::ship_lines() {
  if (pending_.empty()) return;
  InFlight f{0, {}};
  if (checkpoints_)
    for (const auto& e : pending_) f.earliest.try_emplace({e.device, e.inode}, e.offset);
  auto batches = make_log_batches(std::move(pending_), stream_labels_);
  pending_.clear();  // moved-from: make it empty again
  // A durable queue settles a batch as it takes it: the last batch of the
  // group carries the checkpoint as of itself (see tailer_options()).
  const bool durable = logs_shipper_.queue().durable();
  for (std::size_t i = 0; i < batches.size(); ++i) {
    std::string meta;
    if (checkpoints_ && durable && i + 1 == batches.size())
      meta = CheckpointStore::encode(checkpoint_positions(/*all_settled=*/true));
    logs_shipper_.enqueue(batches[i], std::move(meta));
  }
  if (checkpoints_) {
    f.seq = logs_shipper_.pushed();
    in_flight_.push_back(std::move(f));
    save_checkpoint();
  }
  wait_for_log_queue();
}

void Agent::wait_for_log_queue() {
  std::unique_lock lock(mu_);
  log_cv_.notify_all();
  // Backpressure while the collector keeps up; see agent.h.
  log_cv_.wait(lock, [this] {
    return stopping_ || logs_shipper_.failing() ||
           logs_shipper_.queued_batches() <= kMaxQueuedLogBatches;
  });
}

std::string Agent::journal_cursor() {
  std::lock_guard lock(mu_);
  if (started_ && !stopped_) throw std::logic_error("Agent::journal_cursor() before stop()");
  return journal_settled_.empty() ? options_.journal_cursor : journal_settled_;
}

void Agent::save_journal_cursor() {
  const std::uint64_t settled = logs_shipper_.settled();
  while (!journal_in_flight_.empty() && journal_in_flight_.front().first <= settled) {
    journal_settled_ = std::move(journal_in_flight_.front().second);
    journal_in_flight_.pop_front();
  }
  if (options_.data_dir.empty() || journal_settled_.empty() || journal_settled_ == journal_saved_)
    return;
  const auto path = std::filesystem::path(options_.data_dir) / "journal.cursor";
  try {
    write_file_durably(path, std::string(kJournalCursorHeader) + journal_settled_ + "\n");
    journal_saved_ = journal_settled_;
  } catch (const std::exception& e) {
    checkpoint_errors_.inc();
    spdlog::error("journal: cannot save the cursor (a restart will re-read entries): {}", e.what());
  }
}

void Agent::journal_loop() {
  constexpr std::size_t kJournalBatch = 5'000;
  constexpr auto kJournalPoll = std::chrono::milliseconds(250);
  std::string cursor = options_.journal_cursor;
  if (cursor.empty() && !options_.data_dir.empty()) {
    const auto path = std::filesystem::path(options_.data_dir) / "journal.cursor";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      try {
        std::string text = read_file(path);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        if (!text.starts_with(kJournalCursorHeader))
          throw std::runtime_error("not a version-1 cursor file (docs/format/journal_cursor.md)");
        cursor = text.substr(std::string_view(kJournalCursorHeader).size());
        journal_saved_ = cursor;
        spdlog::info("journal: resuming from {}", path.string());
      } catch (const std::exception& e) {
        spdlog::warn("journal: cannot read {} ({}); starting at the end", path.string(), e.what());
      }
    }
  }
  journal_settled_ = cursor;
  std::unique_ptr<JournalReader> reader;
  bool failing = false;  // log the first failure and the recovery, not every retry
  while (!stopping()) {
    try {
      if (!reader)
        reader =
            std::make_unique<JournalReader>(options_.journal_path, cursor, options_.max_line_bytes);
      std::vector<JournalEntry> entries = reader->read(kJournalBatch);
      if (failing) spdlog::info("journal {}: readable again", reader->name());
      failing = false;
      if (!entries.empty()) {
        std::vector<TailEntry> lines;
        lines.reserve(entries.size());
        for (auto& e : entries) {
          if (e.truncated) lines_truncated_.inc();
          TailEntry t;
          t.path = std::move(e.unit);
          t.line = std::move(e.message);
          t.timestamp_ns = e.timestamp_ns;
          t.truncated = e.truncated;
          lines.push_back(std::move(t));
        }
        journal_entries_.inc(static_cast<double>(lines.size()));
        for (const auto& b : make_log_batches(std::move(lines), stream_labels_, 1u << 20, "unit"))
          logs_shipper_.enqueue(b);
        cursor = reader->cursor();
        journal_in_flight_.emplace_back(logs_shipper_.pushed(), cursor);
        wait_for_log_queue();
      }
      save_journal_cursor();
      if (entries.size() < kJournalBatch) reader->wait(kJournalPoll);
    } catch (const std::exception& e) {
      if (!failing) spdlog::error("journal: {} (retrying every 5 s)", e.what());
      failing = true;
      reader.reset();
      wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    }
  }
}

void Agent::log_ship_loop() {
  std::unique_lock lock(mu_);
  while (!log_ship_stopping_) {
    if (logs_shipper_.queued_batches() == 0) {
      log_cv_.wait(lock,
                   [this] { return log_ship_stopping_ || logs_shipper_.queued_batches() > 0; });
      continue;
    }
    lock.unlock();
    const bool delivered = logs_shipper_.flush();
    lock.lock();
    log_cv_.notify_all();  // failing() may have changed: the tail thread stops waiting
    // A failed round (after the client's own retries) is retried every
    // flush interval, as long as the collector stays unreachable.
    if (!delivered)
      log_cv_.wait_for(lock, options_.flush_interval, [this] { return log_ship_stopping_; });
  }
  lock.unlock();
  logs_shipper_.flush_final();
}

std::vector<FilePosition> Agent::checkpoint_positions(bool all_settled) {
  if (all_settled) {
    in_flight_.clear();
  } else {
    const std::uint64_t settled = logs_shipper_.settled();
    while (!in_flight_.empty() && in_flight_.front().seq <= settled) in_flight_.pop_front();
  }
  // Earliest unsettled offset per file: batches in flight, lines not yet
  // batched, records the multiline joiner holds.
  std::map<Identity, std::uint64_t> hold;
  auto lower = [&hold](Identity id, std::uint64_t off) {
    auto [it, added] = hold.try_emplace(id, off);
    if (!added && off < it->second) it->second = off;
  };
  for (const auto& f : in_flight_)
    for (const auto& [id, off] : f.earliest) lower(id, off);
  for (const auto& e : pending_) lower({e.device, e.inode}, e.offset);
  if (joiner_) joiner_->held(hold);
  std::vector<FilePosition> positions = tailer_.positions();
  for (auto& p : positions)
    if (auto it = hold.find({p.device, p.inode}); it != hold.end() && it->second < p.offset)
      p.offset = it->second;
  return positions;
}

void Agent::save_checkpoint() {
  if (!checkpoints_) return;
  const std::vector<FilePosition> positions = checkpoint_positions(false);
  try {
    checkpoints_->save(positions);
    if (checkpoint_failing_) spdlog::info("tail: checkpoint writable again");
    checkpoint_failing_ = false;
  } catch (const std::exception& e) {
    checkpoint_errors_.inc();
    if (!checkpoint_failing_)
      spdlog::error("tail: cannot write the checkpoint (a restart will re-read lines): {}",
                    e.what());
    checkpoint_failing_ = true;
  }
}

void Agent::tail_loop() {
  std::size_t pending_bytes = 0;
  std::vector<TailEntry> records;
  auto take = [&](std::vector<TailEntry>& entries) {
    for (auto& e : entries) {
      if (e.truncated) lines_truncated_.inc();
      pending_bytes += e.line.size();
      pending_.push_back(std::move(e));
    }
    entries.clear();
  };
  auto read = [&] {
    std::vector<TailEntry> lines = tailer_.poll();
    lines_read_.inc(static_cast<double>(lines.size()));
    if (joiner_) {
      joiner_->push(std::move(lines), std::chrono::steady_clock::now(), records);
      joiner_->flush_expired(std::chrono::steady_clock::now(), records);
      take(records);
    } else {
      take(lines);
    }
  };
  auto next_flush = std::chrono::steady_clock::now() + options_.flush_interval;
  do {
    read();
    const bool due = std::chrono::steady_clock::now() >= next_flush;
    if (due || pending_bytes >= kPendingFlushBytes) {
      ship_lines();  // the log-shipping thread delivers it
      pending_bytes = 0;
    }
    if (settled_changed_.exchange(false, std::memory_order_acq_rel)) save_checkpoint();
    if (due) {
      release_free_memory();  // once per flush interval, not per MiB
      next_flush = std::chrono::steady_clock::now() + options_.flush_interval;
    }
    // A backlog (a file written faster than one poll reads) is read on at
    // once: sleeping would cap the throughput at one read budget per poll.
  } while (wait_until(std::chrono::steady_clock::now() +
                      (tailer_.backlog() ? std::chrono::milliseconds(0) : kPollInterval)));
  read();
  if (joiner_) {
    joiner_->flush_all(records);
    take(records);
  }
  ship_lines();  // stop() has the log-shipping thread deliver it and saves the checkpoint
}

}  // namespace strata::agent

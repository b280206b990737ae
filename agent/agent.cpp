#include "agent/agent.h"

#include <spdlog/spdlog.h>

namespace strata::agent {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(250);
constexpr std::size_t kPendingFlushBytes = 1u << 20;

Labels with_extra(std::initializer_list<Label> own,
                  const std::map<std::string, std::string>& extra) {
  Labels l{std::vector<Label>(own)};
  for (const auto& [k, v] : extra) l.set(k, v);
  return l;
}

ShipperOptions shipper_options(const AgentOptions& o) {
  ShipperOptions s;
  s.collector_url = o.collector_url;
  s.queue_max_bytes = o.queue_max_bytes;
  return s;
}

TailerOptions tailer_options(const AgentOptions& o) {
  TailerOptions t;
  t.patterns = o.files;
  t.max_line_bytes = o.max_line_bytes;
  t.rescan_interval = o.rescan_interval;
  return t;
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
      service_("strata-agent", options_.http),
      host_(options_.proc_path,
            with_extra({{"instance", options_.instance}, {"job", "node"}}, options_.labels)),
      metrics_shipper_(Kind::kMetrics, shipper_options(options_), service_.metrics()),
      logs_shipper_(Kind::kLogs, shipper_options(options_), service_.metrics()),
      tailer_(tailer_options(options_)),
      host_errors_(service_.metrics().counter(
          "strata_agent_host_metrics_errors_total",
          "procfs files or lines that could not be read or parsed, and were skipped.")),
      lines_read_(service_.metrics().counter("strata_agent_log_lines_read_total",
                                             "Log lines read from tailed files.")),
      lines_truncated_(service_.metrics().counter(
          "strata_agent_lines_truncated_total",
          "Log lines longer than agent.max_line_bytes, shipped truncated.")) {
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
      options_.instance, options_.collector_url, options_.interval.count(), options_.files.size());
  metrics_thread_ = std::thread([this] { metrics_loop(); });
  if (!options_.files.empty()) {
    tailer_.start();  // before returning: see "start() records the files" in agent.h
    tail_thread_ = std::thread([this] { tail_loop(); });
  }
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
  if (tail_thread_.joinable()) tail_thread_.join();
  if (metrics_thread_.joinable()) metrics_thread_.join();
  service_.stop();
  spdlog::info("strata-agent: stopped");
}

bool Agent::wait_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return stopping_; });
  return !stopping_;
}

void Agent::metrics_loop() {
  auto next = std::chrono::steady_clock::now();
  do {
    collect_host_metrics();
    metrics_shipper_.flush();
    next += options_.interval;
    // After a long stall (a slow collector), skip the missed ticks rather
    // than firing them back to back.
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + options_.interval;
  } while (wait_until(next));
  metrics_shipper_.flush_final();
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

void Agent::ship_lines(std::vector<TailEntry>& pending) {
  for (const auto& b : make_log_batches(pending, stream_labels_)) logs_shipper_.enqueue(b);
  pending.clear();
}

void Agent::tail_loop() {
  std::vector<TailEntry> pending;
  std::size_t pending_bytes = 0;
  auto read = [&] {
    for (auto& e : tailer_.poll()) {
      if (e.truncated) lines_truncated_.inc();
      pending_bytes += e.line.size();
      pending.push_back(std::move(e));
      lines_read_.inc();
    }
  };
  auto next_flush = std::chrono::steady_clock::now() + options_.flush_interval;
  do {
    read();
    auto now = std::chrono::steady_clock::now();
    if (now >= next_flush || pending_bytes >= kPendingFlushBytes) {
      // Also retries what an earlier round left queued, even with no new lines.
      ship_lines(pending);
      pending_bytes = 0;
      logs_shipper_.flush();
      next_flush = std::chrono::steady_clock::now() + options_.flush_interval;
    }
  } while (wait_until(std::chrono::steady_clock::now() + kPollInterval));
  read();
  ship_lines(pending);
  logs_shipper_.flush_final();
}

}  // namespace strata::agent

#include "agent/shipper.h"

#include <map>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "agent/utf8.h"

namespace strata::agent {

namespace {

Labels kind_labels(const char* kind) { return Labels({{"kind", kind}}); }

Labels dropped_labels(const char* kind, const char* reason) {
  return Labels({{"kind", kind}, {"reason", reason}});
}

constexpr const char* kDroppedHelp =
    "Samples or log lines the agent gave up on: queue_full (evicted while the collector was "
    "unreachable), rejected (the collector answered 4xx), invalid (could not be encoded).";

bool retryable(int status) {
  return status == 0 || status == 408 || status == 429 || status >= 500;
}

std::string describe(const http::ClientResponse& r) {
  if (!r.error.empty()) return r.error;
  std::string body = r.body.substr(0, 300);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return "HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace

Shipper::Shipper(Kind kind, ShipperOptions options, metrics::Registry& registry,
                 std::unique_ptr<BatchQueue> queue)
    : kind_(kind),
      kind_name_(kind == Kind::kMetrics ? "metrics" : "logs"),
      options_(std::move(options)),
      endpoint_(options_.collector_url +
                (kind == Kind::kMetrics ? "/api/v1/push/metrics" : "/api/v1/push/logs")),
      queue_(queue ? std::move(queue)
                   : std::make_unique<MemoryBatchQueue>(options_.queue_max_bytes)),
      client_(std::make_unique<http::HttpClient>(options_.client)),
      shipped_(kind == Kind::kMetrics ? registry.counter("strata_agent_samples_shipped_total",
                                                         "Samples the collector accepted.")
                                      : registry.counter("strata_agent_log_lines_shipped_total",
                                                         "Log lines the collector accepted.")),
      failures_(registry.counter("strata_agent_ship_failures_total",
                                 "Delivery rounds that ended with a batch not delivered "
                                 "(after the HTTP client's retries), or rejected.",
                                 kind_labels(kind_name_))),
      dropped_queue_full_(registry.counter("strata_agent_items_dropped_total", kDroppedHelp,
                                           dropped_labels(kind_name_, "queue_full"))),
      dropped_rejected_(registry.counter("strata_agent_items_dropped_total", kDroppedHelp,
                                         dropped_labels(kind_name_, "rejected"))),
      dropped_invalid_(registry.counter("strata_agent_items_dropped_total", kDroppedHelp,
                                        dropped_labels(kind_name_, "invalid"))) {
  BatchQueue* q = queue_.get();
  registry.gauge_callback(
      "strata_agent_queue_batches", "Batches waiting for delivery to the collector.",
      [q] { return static_cast<double>(q->size()); }, kind_labels(kind_name_));
  registry.gauge_callback(
      "strata_agent_queue_bytes", "Encoded bytes waiting for delivery to the collector.",
      [q] { return static_cast<double>(q->bytes()); }, kind_labels(kind_name_));
}

Shipper::~Shipper() = default;

void Shipper::enqueue(const wire::MetricsBatch& batch) {
  if (kind_ != Kind::kMetrics) throw std::logic_error("metrics batch given to the logs shipper");
  std::size_t items = 0;
  for (const auto& s : batch.series) items += s.samples.size();
  if (items == 0) return;
  try {
    push({wire::encode(batch), items});
  } catch (const std::exception& e) {
    spdlog::error("ship metrics: cannot encode a batch of {} samples, dropping it: {}", items,
                  e.what());
    dropped_invalid_.inc(static_cast<double>(items));
  }
}

void Shipper::enqueue(const wire::LogsBatch& batch) {
  if (kind_ != Kind::kLogs) throw std::logic_error("logs batch given to the metrics shipper");
  std::size_t items = 0;
  for (const auto& s : batch.streams) items += s.entries.size();
  if (items == 0) return;
  try {
    push({wire::encode(batch), items});
  } catch (const std::exception& e) {
    spdlog::error("ship logs: cannot encode a batch of {} lines, dropping it: {}", items, e.what());
    dropped_invalid_.inc(static_cast<double>(items));
  }
}

void Shipper::push(EncodedBatch batch) {
  Evicted ev = queue_->push(std::move(batch));
  if (ev.batches > 0) {
    // Once per outage: during a long one every new batch evicts an old one.
    if (!warned_queue_full_)
      spdlog::warn(
          "ship {}: queue full ({} bytes); dropping the oldest batches until the "
          "collector is reachable (counted in strata_agent_items_dropped_total)",
          kind_name_, options_.queue_max_bytes);
    warned_queue_full_ = true;
    dropped_queue_full_.inc(static_cast<double>(ev.items));
  }
}

bool Shipper::flush() { return deliver(*client_); }

bool Shipper::flush_final() {
  if (queue_->empty()) return true;
  http::ClientOptions once = options_.client;
  once.max_attempts = 1;
  once.connect_timeout = std::min(once.connect_timeout, std::chrono::milliseconds(1'000));
  once.request_timeout = std::min(once.request_timeout, std::chrono::milliseconds(5'000));
  http::HttpClient client(once);
  bool done = deliver(client);
  if (!done)
    spdlog::warn("ship {}: collector unavailable at shutdown; {} batches ({} bytes) not delivered",
                 kind_name_, queue_->size(), queue_->bytes());
  return done;
}

bool Shipper::deliver(http::HttpClient& client) {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Type", "application/json"}};
  while (!queue_->empty()) {
    const EncodedBatch& b = queue_->front();
    http::ClientResponse r = client.post(endpoint_, b.body, kHeaders);
    if (r.ok()) {
      shipped_.inc(static_cast<double>(b.items));
      queue_->pop();
      warned_queue_full_ = false;
      if (failing_) {
        spdlog::info("ship {}: collector at {} reachable again after {} failed rounds", kind_name_,
                     endpoint_, failed_rounds_);
        failing_ = false;
        failed_rounds_ = 0;
      }
      continue;
    }
    failures_.inc();
    if (!retryable(r.status)) {
      spdlog::error("ship {}: collector rejected a batch of {} items, dropping it: {}", kind_name_,
                    b.items, describe(r));
      dropped_rejected_.inc(static_cast<double>(b.items));
      queue_->pop();
      continue;
    }
    ++failed_rounds_;
    if (!failing_)
      spdlog::warn(
          "ship {}: cannot deliver to {} after {} attempts ({}); keeping {} batches "
          "queued and retrying",
          kind_name_, endpoint_, r.attempts, describe(r), queue_->size());
    else
      spdlog::debug("ship {}: still failing ({}); {} batches queued", kind_name_, describe(r),
                    queue_->size());
    failing_ = true;
    return false;
  }
  return true;
}

std::vector<wire::LogsBatch> make_log_batches(const std::vector<TailEntry>& entries,
                                              const Labels& stream_labels,
                                              std::size_t max_batch_bytes) {
  // Timestamp, quotes and separators of an entry in the JSON: keeps a batch of
  // many empty lines bounded too.
  constexpr std::size_t kEntryOverhead = 32;
  std::vector<wire::LogsBatch> out;
  std::map<std::string, std::size_t> stream_of;  // path -> index in the current batch
  std::size_t bytes = 0;
  for (const auto& e : entries) {
    if (out.empty() || (bytes > 0 && bytes + e.line.size() + kEntryOverhead > max_batch_bytes)) {
      out.emplace_back();
      stream_of.clear();
      bytes = 0;
    }
    wire::LogsBatch& batch = out.back();
    auto [it, added] = stream_of.emplace(e.path, batch.streams.size());
    if (added) {
      wire::LogStream s;
      s.labels = stream_labels;
      s.labels.set("filename", sanitize_utf8(e.path));
      batch.streams.push_back(std::move(s));
    }
    batch.streams[it->second].entries.push_back({e.timestamp_ns, sanitize_utf8(e.line), {}});
    bytes += e.line.size() + kEntryOverhead;
  }
  return out;
}

}  // namespace strata::agent

#include "agent/shipper.h"

#include <map>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <zstd.h>

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

EncodedBatch encode_body(std::string json, std::size_t items, bool zstd);

std::vector<std::string> endpoints_of(const std::vector<std::string>& bases, Kind kind) {
  if (bases.empty()) throw std::invalid_argument("Shipper: no collector URL");
  std::vector<std::string> out;
  for (const auto& b : bases)
    out.push_back(b + (kind == Kind::kMetrics ? "/api/v1/push/metrics" : "/api/v1/push/logs"));
  return out;
}

// Level 1: the agent must stay cheap; JSON still shrinks 5-10x.
std::string zstd_compress(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 1);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  out.shrink_to_fit();
  return out;
}

EncodedBatch encode_body(std::string json, std::size_t items, bool zstd) {
  if (!zstd) return {std::move(json), items, false};
  return {zstd_compress(json), items, true};
}

}  // namespace

Shipper::Shipper(Kind kind, ShipperOptions options, metrics::Registry& registry,
                 std::unique_ptr<BatchQueue> queue)
    : kind_(kind),
      kind_name_(kind == Kind::kMetrics ? "metrics" : "logs"),
      options_(std::move(options)),
      endpoints_(endpoints_of(options_.collector_urls, kind)),
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
  inherited_ = queue_->size();
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
    push(encode_body(wire::encode(batch), items, options_.zstd));
  } catch (const std::exception& e) {
    spdlog::error("ship metrics: cannot encode a batch of {} samples, dropping it: {}", items,
                  e.what());
    dropped_invalid_.inc(static_cast<double>(items));
  }
}

void Shipper::enqueue(const wire::LogsBatch& batch, std::string meta) {
  if (kind_ != Kind::kLogs) throw std::logic_error("logs batch given to the metrics shipper");
  std::size_t items = 0;
  for (const auto& s : batch.streams) items += s.entries.size();
  if (items == 0) return;
  try {
    EncodedBatch b = encode_body(wire::encode(batch), items, options_.zstd);
    b.meta = std::move(meta);
    push(std::move(b));
  } catch (const std::exception& e) {
    spdlog::error("ship logs: cannot encode a batch of {} lines, dropping it: {}", items, e.what());
    dropped_invalid_.inc(static_cast<double>(items));
  }
}

std::uint64_t Shipper::settled() const {
  if (queue_->durable()) return pushed();
  // Evictions and pops take the oldest first: batches of an earlier run (an
  // on-disk queue) go before this run's.
  const std::uint64_t removed = removed_.load(std::memory_order_acquire);
  return removed > inherited_ ? removed - inherited_ : 0;
}

void Shipper::push(EncodedBatch batch) {
  Evicted ev;
  bool warn = false;
  {
    std::lock_guard lock(queue_mu_);
    ev = queue_->push(std::move(batch));
    removed_.fetch_add(ev.batches, std::memory_order_acq_rel);
    pushed_.fetch_add(1, std::memory_order_acq_rel);
    // Once per outage: during a long one every new batch evicts an old one.
    warn = ev.batches > 0 && !warned_queue_full_;
    if (ev.batches > 0) warned_queue_full_ = true;
  }
  if (warn)
    spdlog::warn(
        "ship {}: queue full ({} bytes); dropping the oldest batches until the "
        "collector is reachable (counted in strata_agent_items_dropped_total)",
        kind_name_, options_.queue_max_bytes);
  if (ev.batches > 0) dropped_queue_full_.inc(static_cast<double>(ev.items));
}

bool Shipper::flush() { return deliver(*client_); }

bool Shipper::flush_final() {
  if (queued_batches() == 0) return true;
  http::ClientOptions once = options_.client;
  once.max_attempts = 1;
  once.connect_timeout = std::min(once.connect_timeout, std::chrono::milliseconds(1'000));
  once.request_timeout = std::min(once.request_timeout, std::chrono::milliseconds(5'000));
  http::HttpClient client(once);
  bool done = deliver(client);
  if (!done)
    spdlog::warn("ship {}: collector unavailable at shutdown; {} batches ({} bytes) not delivered",
                 kind_name_, queued_batches(), queue_->bytes());
  return done;
}

bool Shipper::deliver(http::HttpClient& client) {
  static const std::vector<std::pair<std::string, std::string>> kPlain = {
      {"Content-Type", "application/json"}};
  static const std::vector<std::pair<std::string, std::string>> kZstd = {
      {"Content-Type", "application/json"}, {"Content-Encoding", "zstd"}};
  for (;;) {
    // A copy of the oldest batch (a compressed body, ~100 KiB), so the queue
    // is not locked during the request: enqueue() goes on meanwhile. If that
    // push evicts this very batch (queue full), `removed_` moves and the
    // batch is not popped a second time below.
    EncodedBatch b;
    std::uint64_t removed_before = 0;
    {
      std::lock_guard lock(queue_mu_);
      if (queue_->empty()) return true;
      const EncodedBatch& front = queue_->front();
      b.body = front.body;
      b.items = front.items;
      b.zstd = front.zstd;
      removed_before = removed_.load(std::memory_order_acquire);
    }
    auto settle = [&] {
      {
        std::lock_guard lock(queue_mu_);
        if (removed_.load(std::memory_order_acquire) == removed_before) {
          queue_->pop();
          removed_.fetch_add(1, std::memory_order_acq_rel);
        }
        warned_queue_full_ = false;
      }
      if (on_settled_) on_settled_();
    };
    http::ClientResponse r;
    // Failover: each collector once per batch, starting with the one in use.
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
      r = client.post(endpoints_[current_], b.body, b.zstd ? kZstd : kPlain);
      if (r.ok() || !retryable(r.status)) break;
      if (endpoints_.size() > 1) {
        spdlog::warn("ship {}: {} failed ({}); failing over to {}", kind_name_,
                     endpoints_[current_], describe(r),
                     endpoints_[(current_ + 1) % endpoints_.size()]);
        current_ = (current_ + 1) % endpoints_.size();
      }
    }
    if (r.ok()) {
      shipped_.inc(static_cast<double>(b.items));
      if (failing()) {
        spdlog::info("ship {}: collector at {} reachable again after {} failed rounds", kind_name_,
                     endpoint(), failed_rounds_);
        failing_.store(false, std::memory_order_release);
        failed_rounds_ = 0;
      }
      settle();
      continue;
    }
    failures_.inc();
    if (!retryable(r.status)) {
      spdlog::error("ship {}: collector rejected a batch of {} items, dropping it: {}", kind_name_,
                    b.items, describe(r));
      dropped_rejected_.inc(static_cast<double>(b.items));
      settle();
      continue;
    }
    ++failed_rounds_;
    if (!failing())
      spdlog::warn(
          "ship {}: cannot deliver to {} after {} attempts ({}); keeping {} batches "
          "queued and retrying",
          kind_name_, endpoint(), r.attempts, describe(r), queued_batches());
    else
      spdlog::debug("ship {}: still failing ({}); {} batches queued", kind_name_, describe(r),
                    queued_batches());
    failing_.store(true, std::memory_order_release);
    return false;
  }
}

std::vector<wire::LogsBatch> make_log_batches(std::vector<TailEntry> entries,
                                              const Labels& stream_labels,
                                              std::size_t max_batch_bytes,
                                              const std::string& source_label) {
  // Timestamp, quotes and separators of an entry in the JSON: keeps a batch of
  // many empty lines bounded too.
  constexpr std::size_t kEntryOverhead = 32;
  std::vector<wire::LogsBatch> out;
  std::map<std::string, std::size_t> stream_of;  // path -> index in the current batch
  std::size_t bytes = 0;
  for (auto& e : entries) {
    if (out.empty() || (bytes > 0 && bytes + e.line.size() + kEntryOverhead > max_batch_bytes)) {
      out.emplace_back();
      stream_of.clear();
      bytes = 0;
    }
    wire::LogsBatch& batch = out.back();
    // find() first: emplace() would build a node (a copy of the path) per line.
    auto it = stream_of.find(e.path);
    if (it == stream_of.end()) {
      it = stream_of.emplace(e.path, batch.streams.size()).first;
      wire::LogStream s;
      s.labels = stream_labels;
      s.labels.set(source_label, sanitize_utf8(e.path));
      batch.streams.push_back(std::move(s));
    }
    bytes += e.line.size() + kEntryOverhead;
    sanitize_utf8_in_place(e.line);
    batch.streams[it->second].entries.push_back({e.timestamp_ns, std::move(e.line), {}});
  }
  return out;
}

}  // namespace strata::agent

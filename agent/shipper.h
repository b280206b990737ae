// Shipper: delivers batches of one kind (metrics or logs) to the collector's
// push API -- POST <collector>/api/v1/push/{metrics,logs}, wire-format JSON,
// zstd-compressed (Content-Encoding: zstd) unless configured off. With several
// collector URLs, a batch that fails on one (after the client's retries) is
// tried on the next at once, and the one that worked stays in use.
//
// Delivery is at-least-once and in order: a batch is encoded once, queued,
// and removed from the queue only when the collector answers 2xx (204). A
// round (flush()) sends queued batches oldest first through an HttpClient
// that itself retries transport errors, 408, 429 and 5xx with backoff and
// Retry-After; if a batch still fails, the round stops and the batch stays
// queued for the next round. A batch the collector rejects as bad (other 4xx)
// can never succeed: it is logged and dropped. The queue is bounded in bytes
// (BatchQueue evicts the oldest); everything dropped is counted in
// strata_agent_items_dropped_total{kind,reason}.
//
// A response lost after the collector accepted a batch means it is sent
// again: the collector may see a batch twice, never zero times while the
// agent runs.
//
// Thread-safety: enqueue() may run on one thread while flush() runs on
// another -- the agent's tail thread encodes and queues log batches while
// its log-shipping thread waits on the collector, so reading, encoding and
// compressing overlap with the network round trip. flush() and flush_final()
// are called from one thread at a time (HttpClient is not thread-safe; the
// queue is locked only around push/front/pop, never across a request).
// failing(), pushed(), settled() and the self-metrics may be read from any
// thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/batch_queue.h"
#include "agent/file_tailer.h"
#include "common/http_client.h"
#include "common/labels.h"
#include "common/metrics_registry.h"
#include "common/wire_format.h"

namespace strata::agent {

enum class Kind { kMetrics, kLogs };

struct ShipperOptions {
  // Base URLs, no trailing '/'. The first that answers is used until it
  // fails; then the next one is tried in the same round (failover).
  std::vector<std::string> collector_urls;
  bool zstd = true;  // compress bodies (Content-Encoding: zstd)
  http::ClientOptions client{std::chrono::milliseconds(2'000), std::chrono::milliseconds(10'000), 3,
                             std::chrono::milliseconds(200), std::chrono::milliseconds(5'000)};
  std::size_t queue_max_bytes = 64u << 20;
};

class Shipper {
 public:
  // Registers its metrics in `registry`. The queue gauges read this Shipper,
  // so the registry must not be rendered once the Shipper is gone (the agent
  // stops its HTTP server first). `queue` defaults to a MemoryBatchQueue.
  Shipper(Kind kind, ShipperOptions options, metrics::Registry& registry,
          std::unique_ptr<BatchQueue> queue = nullptr);
  ~Shipper();

  // Encode and queue a batch (empty batches are ignored). Throws
  // std::logic_error if the batch is not of this shipper's kind.
  void enqueue(const wire::MetricsBatch& batch);
  // `meta` travels with the batch in a durable queue (BatchQueue::newest_meta).
  void enqueue(const wire::LogsBatch& batch, std::string meta = {});

  // One delivery round with full retries. True when the queue is empty after.
  bool flush();
  // For shutdown: one attempt per batch and short timeouts, so stopping the
  // agent is not held up by a collector that is down.
  bool flush_final();

  const BatchQueue& queue() const { return *queue_; }
  // Batches waiting (readable from any thread).
  std::size_t queued_batches() const { return queue_->size(); }
  // Whether the last delivery round ended with a batch not delivered.
  bool failing() const { return failing_.load(std::memory_order_acquire); }

  // For checkpoints: batches pushed by this process so far, and how many of
  // them are settled -- durable in an on-disk queue, or (memory queue) gone
  // from it: acknowledged, rejected or evicted. Batches are settled in push
  // order. `on_settled` runs on this shipper's thread after each batch a
  // delivery round removes from the queue, so checkpoints can follow acks
  // closely (a crash between the ack and the next checkpoint write means
  // those lines are sent again: at-least-once).
  std::uint64_t pushed() const { return pushed_.load(std::memory_order_acquire); }
  std::uint64_t settled() const;
  void on_settled(std::function<void()> callback) { on_settled_ = std::move(callback); }
  // The push URL in use now.
  const std::string& endpoint() const { return endpoints_[current_]; }

 private:
  void push(EncodedBatch batch);
  bool deliver(http::HttpClient& client);

  Kind kind_;
  const char* kind_name_;
  ShipperOptions options_;
  std::vector<std::string> endpoints_;
  std::size_t current_ = 0;
  mutable std::mutex queue_mu_;  // queue_ and warned_queue_full_
  std::unique_ptr<BatchQueue> queue_;
  std::unique_ptr<http::HttpClient> client_;
  // Log the first failure and the recovery, not every retry.
  std::atomic<bool> failing_{false};
  std::size_t failed_rounds_ = 0;  // delivering thread only
  bool warned_queue_full_ = false;
  // Written under queue_mu_, read from any thread.
  std::atomic<std::uint64_t> pushed_{0};
  std::atomic<std::uint64_t> removed_{0};  // batches popped or evicted, this run
  std::uint64_t inherited_ = 0;            // batches the queue held at construction
  std::function<void()> on_settled_;

  metrics::Counter& shipped_;
  metrics::Counter& failures_;
  metrics::Counter& dropped_queue_full_;
  metrics::Counter& dropped_rejected_;
  metrics::Counter& dropped_invalid_;
};

// Groups tailed lines into log batches: one stream per file, labelled
// `stream_labels` plus filename=<path> (`source_label`=<path>: the journal
// source passes its entries' unit as the path and "unit"); lines keep their
// order. Lines and
// paths are made valid UTF-8 (see utf8.h). A batch holds at most
// `max_batch_bytes` of line text (at least one line), so it stays far below
// the collector's body limit.
std::vector<wire::LogsBatch> make_log_batches(std::vector<TailEntry> entries,
                                              const Labels& stream_labels,
                                              std::size_t max_batch_bytes = 1u << 20,
                                              const std::string& source_label = "filename");

}  // namespace strata::agent

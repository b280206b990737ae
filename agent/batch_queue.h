// BatchQueue: encoded batches waiting to be delivered to the collector, oldest
// first. The shipper only pushes, peeks and pops, so the on-disk buffer that
// survives restarts (DiskBatchQueue, agent/disk_batch_queue.h, used with
// agent.data_dir) and the MemoryBatchQueue here are interchangeable.
//
// Bounded by bytes: pushing past the bound evicts the oldest batches (the
// freshest data is the most useful once the collector is back) and reports
// what was evicted so the caller can count it. A single batch larger than
// the bound is still kept, alone, rather than dropped unseen.
//
// Thread-safety: one thread uses a queue; bytes() and size() may be read from
// any thread (they back /metrics gauges).
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <string>

namespace strata::agent {

struct EncodedBatch {
  std::string body;       // wire-format JSON, compressed as `zstd` says
  std::size_t items = 0;  // samples or log lines, for accounting
  bool zstd = false;      // body is a zstd frame (sent with Content-Encoding: zstd)
  // Not sent: what the producer needs back after a restart (the log batches
  // carry the tail checkpoint as of themselves, see agent.h). Kept only by
  // durable queues.
  std::string meta{};
};

struct Evicted {
  std::size_t batches = 0;
  std::size_t items = 0;
};

class BatchQueue {
 public:
  virtual ~BatchQueue() = default;
  virtual Evicted push(EncodedBatch batch) = 0;
  virtual bool empty() const = 0;
  virtual const EncodedBatch& front() const = 0;  // precondition: !empty()
  virtual void pop() = 0;
  virtual std::size_t size() const = 0;   // batches
  virtual std::size_t bytes() const = 0;  // sum of body sizes
  // True when a pushed batch survives a crash of the process (on-disk queue).
  virtual bool durable() const { return false; }
  // The meta of the newest batch held, empty if none (or not durable).
  virtual std::string newest_meta() const { return {}; }
};

class MemoryBatchQueue final : public BatchQueue {
 public:
  explicit MemoryBatchQueue(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  Evicted push(EncodedBatch batch) override;
  bool empty() const override { return q_.empty(); }
  const EncodedBatch& front() const override { return q_.front(); }
  void pop() override;
  std::size_t size() const override { return count_.load(std::memory_order_relaxed); }
  std::size_t bytes() const override { return bytes_.load(std::memory_order_relaxed); }

 private:
  void pop_front();
  std::size_t max_bytes_;
  std::deque<EncodedBatch> q_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> bytes_{0};
};

}  // namespace strata::agent

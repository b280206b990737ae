// BatchQueue: encoded batches waiting to be delivered to the collector, oldest
// first. The shipper only pushes, peeks and pops, so an on-disk buffer that
// survives restarts can replace MemoryBatchQueue later without touching it.
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
  std::string body;       // wire-format JSON
  std::size_t items = 0;  // samples or log lines, for accounting
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

#include "agent/batch_queue.h"

namespace strata::agent {

Evicted MemoryBatchQueue::push(EncodedBatch batch) {
  Evicted ev;
  std::size_t incoming = batch.body.size();
  while (!q_.empty() && bytes_.load(std::memory_order_relaxed) + incoming > max_bytes_) {
    ev.batches++;
    ev.items += q_.front().items;
    pop_front();
  }
  q_.push_back(std::move(batch));
  bytes_.fetch_add(incoming, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  return ev;
}

void MemoryBatchQueue::pop() {
  if (!q_.empty()) pop_front();
}

void MemoryBatchQueue::pop_front() {
  bytes_.fetch_sub(q_.front().body.size(), std::memory_order_relaxed);
  count_.fetch_sub(1, std::memory_order_relaxed);
  q_.pop_front();
}

}  // namespace strata::agent

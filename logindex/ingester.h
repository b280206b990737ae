// Ingester: the logindex's Kafka consumer. One thread polls the logs topic as
// a member of the logindex consumer group, decodes each message (a
// wire-format logs batch), appends its entries to the LogStore, makes the
// store's WAL durable (LogStore::sync) and only then commits the batch's
// offsets.
//
// Delivery. Offsets are committed only after the whole batch is indexed and
// fsynced, so a committed offset means the lines are on disk; a crash
// before the commit replays the batch and the store's deduplication absorbs
// it. If the sync fails, apply throws: ConsumeLoop stops without committing
// and /readyz says why. A
// message that does not decode is logged, counted and committed past: one
// poison message must not wedge its partition. A failed poll or commit is
// logged and retried with backoff; a failed commit only means a replay.
//
// The poll/apply/commit loop is common/consume_loop.h; this file holds what
// is specific to the store: decoding, applying and counting.
//
// Thread-safety: start() and stop() from one controlling thread; readiness()
// and the counters from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "common/consume_loop.h"
#include "common/kafka_bus.h"
#include "common/metrics_registry.h"
#include "logindex/log_store.h"

namespace strata::logindex {

struct IngesterOptions {
  kafka::KafkaOptions kafka;
  std::string group_id = "strata-logindex";
  std::string topic = "logs";
  std::size_t max_poll_messages = 1000;
  std::chrono::milliseconds poll_timeout{250};
  // Not ready when no poll has succeeded for this long.
  std::chrono::milliseconds stall_timeout{30'000};
};

// What applying one polled batch did.
struct BatchStats {
  std::size_t messages = 0;
  std::size_t rejected_messages = 0;  // did not decode
  AddResult entries;
};

// Decodes and appends messages, logging each poison message. The
// decode/apply half of the loop, usable without a broker. Does not sync.
BatchStats apply_log_messages(std::span<const kafka::InMessage> messages, LogStore& store);

class Ingester {
 public:
  Ingester(IngesterOptions options, LogStore& store, metrics::Registry& registry);
  ~Ingester();  // stop()
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // Creates the consumer (throws kafka::KafkaError) and starts the thread.
  void start();
  // Finishes the batch in hand (indexed and committed), leaves the group
  // and joins the thread. Idempotent.
  void stop();

  // nullopt when ready, else why not (for /readyz).
  std::optional<std::string> readiness() const { return loop_.readiness(); }
  std::uint64_t batches_committed() const { return loop_.batches_committed(); }

 private:
  void record(const BatchStats& stats);

  IngesterOptions options_;
  LogStore& store_;

  metrics::Counter& messages_;
  metrics::Counter& rejected_messages_;
  metrics::Counter& appended_;
  metrics::Counter& duplicates_;
  metrics::Counter& errors_;
  kafka::ConsumeLoop loop_;  // last: its thread uses the members above
};

}  // namespace strata::logindex

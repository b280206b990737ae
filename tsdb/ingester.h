// Ingester: the tsdb's Kafka consumer. One thread polls the metrics topic as
// a member of the tsdb consumer group, decodes each message (a wire-format
// metrics batch), appends its samples to the DB, makes them durable in the
// WAL (DB::sync) and only then commits the batch's offsets.
//
// Delivery, exactly-once in effect. A crash before the commit replays the
// batch from Kafka; what of it had reached the WAL comes back from the WAL
// too, and the head's idempotent append turns the double delivery into one
// copy (at-least-once in, exactly-once visible). A crash after the commit
// loses nothing because the WAL was fsynced first. If the sync fails, the
// loop stops without committing (see common/consume_loop.h). A message that does not
// decode is logged, counted and committed past: one poison message must not
// wedge its partition forever. A failed poll or commit is logged and
// retried with backoff; a failed commit only means a later replay.
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
#include "tsdb/append_counters.h"
#include "tsdb/db.h"

namespace strata::tsdb {

struct IngesterOptions {
  kafka::KafkaOptions kafka;
  std::string group_id = "strata-tsdb";
  std::string topic = "metrics";
  std::size_t max_poll_messages = 1000;
  std::chrono::milliseconds poll_timeout{250};
  // Not ready when no poll has succeeded for this long.
  std::chrono::milliseconds stall_timeout{30'000};
};

// What applying one polled batch did.
struct BatchStats {
  std::size_t messages = 0;
  std::size_t rejected_messages = 0;  // did not decode
  std::size_t series = 0;
  std::size_t rejected_series = 0;  // no usable labels
  AppendResult samples;
  std::string first_conflict;  // "series at ts", for a log line
};

// Decodes and applies messages to the store, logging each poison message.
// The decode/append half of the loop, usable without a broker.
BatchStats apply_metrics_messages(std::span<const kafka::InMessage> messages, DB& db);

class Ingester {
 public:
  Ingester(IngesterOptions options, DB& db, metrics::Registry& registry);
  ~Ingester();  // stop()
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // Creates the consumer (throws kafka::KafkaError) and starts the thread.
  void start();
  // Finishes the batch in hand (applied and committed), leaves the group and
  // joins the thread. Idempotent.
  void stop();

  // nullopt when ready, else why not (for /readyz).
  std::optional<std::string> readiness() const { return loop_.readiness(); }
  // Batches applied and committed since start (tests wait on it).
  std::uint64_t batches_committed() const { return loop_.batches_committed(); }

 private:
  void record(const BatchStats& stats);

  IngesterOptions options_;
  DB& db_;
  std::chrono::steady_clock::time_point last_conflict_log_{};

  metrics::Counter& messages_;
  metrics::Counter& rejected_messages_;
  metrics::Counter& rejected_series_;
  AppendCounters counters_;
  metrics::Counter& errors_;
  kafka::ConsumeLoop loop_;  // last: its thread uses the members above
};

}  // namespace strata::tsdb

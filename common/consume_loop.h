// ConsumeLoop: the poll -> apply -> commit loop every store runs on its Kafka
// topic, on a thread of its own.
//
// Delivery. Offsets are committed only after `apply` returned for the whole
// batch, so a crash replays it; stores make `apply` idempotent, which turns
// at-least-once delivery into exactly-once visible data. `apply` must not
// throw for bad messages: it logs, counts and skips them (a poison message
// must not wedge its partition). A failed poll is retried with exponential
// backoff (100 ms .. 10 s); a failed commit is logged and counted -- it only
// means a later replay. If `apply` throws (the store could not make the
// batch durable), the loop stops without committing and readiness() says
// why: nothing is acknowledged that is not stored.
//
// Thread-safety: start() and stop() from one controlling thread; readiness()
// and batches_committed() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "common/kafka_bus.h"
#include "common/metrics_registry.h"

namespace strata::kafka {

struct ConsumeLoopOptions {
  std::string name;  // for log lines, e.g. "tsdb ingest"
  KafkaOptions kafka;
  std::string group_id;
  std::string topic;
  std::size_t max_poll_messages = 1000;
  std::chrono::milliseconds poll_timeout{250};
  // Not ready when no poll has succeeded for this long.
  std::chrono::milliseconds stall_timeout{30'000};
};

class ConsumeLoop {
 public:
  using Apply = std::function<void(std::span<const InMessage>)>;

  // `errors` counts failed polls and commits.
  ConsumeLoop(ConsumeLoopOptions options, Apply apply, metrics::Counter& errors);
  ~ConsumeLoop();  // stop()
  ConsumeLoop(const ConsumeLoop&) = delete;
  ConsumeLoop& operator=(const ConsumeLoop&) = delete;

  // Creates the consumer (throws KafkaError) and starts the thread.
  void start();
  // Finishes the batch in hand (applied and committed), leaves the group and
  // joins the thread. Idempotent.
  void stop();

  // nullopt when ready, else why not (for /readyz).
  std::optional<std::string> readiness() const;
  std::uint64_t batches_committed() const { return batches_committed_.load(); }

 private:
  void run();
  bool sleep_unless_stopping(std::chrono::milliseconds d);  // false when stopping

  ConsumeLoopOptions options_;
  Apply apply_;
  metrics::Counter& errors_;
  std::unique_ptr<KafkaConsumer> consumer_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string failure_;  // why apply failed, under mu_

  std::atomic<bool> running_{false};
  std::atomic<std::int64_t> last_poll_ns_{0};  // steady clock; 0 = never
  std::atomic<std::uint64_t> batches_committed_{0};
};

}  // namespace strata::kafka

#include "common/consume_loop.h"

#include <spdlog/spdlog.h>

namespace strata::kafka {
namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ConsumeLoop::ConsumeLoop(ConsumeLoopOptions options, Apply apply, metrics::Counter& errors)
    : options_(std::move(options)), apply_(std::move(apply)), errors_(errors) {}

ConsumeLoop::~ConsumeLoop() { stop(); }

void ConsumeLoop::start() {
  if (thread_.joinable()) return;
  consumer_ = std::make_unique<KafkaConsumer>(options_.kafka, options_.group_id,
                                              std::vector<std::string>{options_.topic});
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  running_ = true;
  thread_ = std::thread([this] { run(); });
  spdlog::info("{}: consuming topic '{}' as group '{}'", options_.name, options_.topic,
               options_.group_id);
}

void ConsumeLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  consumer_.reset();  // leaves the group
}

bool ConsumeLoop::sleep_unless_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void ConsumeLoop::run() {
  std::chrono::milliseconds backoff{100};
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    std::vector<InMessage> batch;
    try {
      batch = consumer_->poll(options_.max_poll_messages, options_.poll_timeout);
      last_poll_ns_ = steady_ns();
      backoff = std::chrono::milliseconds{100};
    } catch (const std::exception& e) {
      errors_.inc();
      spdlog::error("{}: poll failed (retrying in {} ms): {}", options_.name, backoff.count(),
                    e.what());
      if (!sleep_unless_stopping(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds{10'000});
      continue;
    }
    if (batch.empty()) continue;
    try {
      apply_(batch);
    } catch (const std::exception& e) {
      // The store could not make the batch durable (a full or failing disk):
      // committing now would lose it. Stop consuming; the offsets stay
      // uncommitted, so a restart (or the partition's next owner) replays it.
      errors_.inc();
      {
        std::lock_guard lock(mu_);
        failure_ = e.what();
      }
      spdlog::critical("{}: applying a batch failed, stopping ingest without committing: {}",
                       options_.name, e.what());
      break;
    }
    try {
      consumer_->commit(batch);
      ++batches_committed_;
    } catch (const std::exception& e) {
      // The batch is applied; a replay after a crash will be deduplicated.
      errors_.inc();
      spdlog::warn("{}: commit failed, batch may be replayed: {}", options_.name, e.what());
    }
  }
  running_ = false;
}

std::optional<std::string> ConsumeLoop::readiness() const {
  if (!running_) {
    std::lock_guard lock(mu_);
    if (!failure_.empty()) return "ingest stopped after a failure: " + failure_;
    return std::string("ingest loop not running");
  }
  std::int64_t last = last_poll_ns_.load();
  if (last == 0) return std::string("waiting for the first Kafka poll");
  auto age = std::chrono::nanoseconds(steady_ns() - last);
  if (age > options_.stall_timeout)
    return "no successful Kafka poll for " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
  return std::nullopt;
}

}  // namespace strata::kafka

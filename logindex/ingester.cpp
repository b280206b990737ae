#include "logindex/ingester.h"

#include <spdlog/spdlog.h>

#include "common/wire_format.h"

namespace strata::logindex {
namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

BatchStats apply_log_messages(std::span<const kafka::InMessage> messages, MemoryIndex& index) {
  BatchStats stats;
  for (const auto& m : messages) {
    ++stats.messages;
    wire::LogsBatch batch;
    try {
      batch = wire::decode_logs(m.value);
    } catch (const std::exception& e) {
      ++stats.rejected_messages;
      spdlog::warn("logindex ingest: skipping undecodable message {}/{}@{}: {}", m.topic,
                   m.partition, m.offset, e.what());
      continue;
    }
    for (const auto& stream : batch.streams) {
      AddResult r = index.add(stream.labels, stream.entries);
      stats.entries.added += r.added;
      stats.entries.duplicates += r.duplicates;
    }
  }
  return stats;
}

Ingester::Ingester(IngesterOptions options, MemoryIndex& index, metrics::Registry& registry)
    : options_(std::move(options)),
      index_(index),
      messages_(registry.counter("strata_logindex_ingest_messages_total",
                                 "Kafka messages consumed from the logs topic.")),
      rejected_messages_(registry.counter(
          "strata_logindex_ingest_rejected_messages_total",
          "Kafka messages that failed to decode and were skipped (committed past).")),
      appended_(registry.counter("strata_logindex_appended_entries_total", "Log entries indexed.")),
      duplicates_(registry.counter(
          "strata_logindex_duplicate_entries_total",
          "Log entries ignored because an identical one (stream, timestamp, line) was already "
          "indexed (at-least-once replays).")),
      errors_(registry.counter("strata_logindex_ingest_errors_total",
                               "Failed Kafka polls and commits (retried).")) {
  registry.gauge_callback("strata_logindex_entries", "Log entries in the in-memory index.",
                          [&index] { return static_cast<double>(index.entry_count()); });
  registry.gauge_callback("strata_logindex_streams", "Streams in the in-memory index.",
                          [&index] { return static_cast<double>(index.stream_count()); });
  registry.gauge_callback("strata_logindex_terms", "Distinct terms in the in-memory index.",
                          [&index] { return static_cast<double>(index.term_count()); });
  registry.gauge_callback("strata_logindex_line_bytes", "Bytes of log lines held in memory.",
                          [&index] { return static_cast<double>(index.line_bytes()); });
}

Ingester::~Ingester() { stop(); }

void Ingester::start() {
  if (thread_.joinable()) return;
  consumer_ = std::make_unique<kafka::KafkaConsumer>(options_.kafka, options_.group_id,
                                                     std::vector<std::string>{options_.topic});
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  running_ = true;
  thread_ = std::thread([this] { run(); });
  spdlog::info("logindex ingest: consuming topic '{}' as group '{}'", options_.topic,
               options_.group_id);
}

void Ingester::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  consumer_.reset();  // leaves the group
}

bool Ingester::sleep_unless_stopping(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Ingester::run() {
  std::chrono::milliseconds backoff{100};
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    std::vector<kafka::InMessage> batch;
    try {
      batch = consumer_->poll(options_.max_poll_messages, options_.poll_timeout);
      last_poll_ns_ = steady_ns();
      backoff = std::chrono::milliseconds{100};
    } catch (const std::exception& e) {
      errors_.inc();
      spdlog::error("logindex ingest: poll failed (retrying in {} ms): {}", backoff.count(),
                    e.what());
      if (!sleep_unless_stopping(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds{10'000});
      continue;
    }
    if (batch.empty()) continue;
    record(apply_log_messages(batch, index_));
    try {
      consumer_->commit(batch);
      ++batches_committed_;
    } catch (const std::exception& e) {
      // The batch is indexed; a replay after a crash will be deduplicated.
      errors_.inc();
      spdlog::warn("logindex ingest: commit failed, batch may be replayed: {}", e.what());
    }
  }
  running_ = false;
}

void Ingester::record(const BatchStats& s) {
  messages_.inc(static_cast<double>(s.messages));
  rejected_messages_.inc(static_cast<double>(s.rejected_messages));
  appended_.inc(static_cast<double>(s.entries.added));
  duplicates_.inc(static_cast<double>(s.entries.duplicates));
}

std::optional<std::string> Ingester::readiness() const {
  if (!running_) return std::string("ingest loop not running");
  std::int64_t last = last_poll_ns_.load();
  if (last == 0) return std::string("waiting for the first Kafka poll");
  auto age = std::chrono::nanoseconds(steady_ns() - last);
  if (age > options_.stall_timeout)
    return "no successful Kafka poll for " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(age).count()) + " s";
  return std::nullopt;
}

}  // namespace strata::logindex

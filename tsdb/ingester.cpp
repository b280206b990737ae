#include "tsdb/ingester.h"

#include <spdlog/spdlog.h>

#include "common/wire_format.h"

namespace strata::tsdb {
namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

BatchStats apply_metrics_messages(std::span<const kafka::InMessage> messages, MemoryStore& store) {
  BatchStats stats;
  for (const auto& m : messages) {
    ++stats.messages;
    wire::MetricsBatch batch;
    try {
      batch = wire::decode_metrics(m.value);
    } catch (const std::exception& e) {
      ++stats.rejected_messages;
      spdlog::warn("tsdb ingest: skipping undecodable message {}/{}@{}: {}", m.topic, m.partition,
                   m.offset, e.what());
      continue;
    }
    for (const auto& series : batch.series) {
      ++stats.series;
      try {
        AppendResult r = store.append(series.labels, series.samples);
        if (r.conflicts > 0 && stats.samples.conflicts == 0)
          stats.first_conflict =
              series.labels.to_string() + " at " + std::to_string(r.first_conflict_ms) + " ms";
        stats.samples += r;
      } catch (const std::invalid_argument& e) {
        ++stats.rejected_series;
        spdlog::warn("tsdb ingest: skipping series in message {}/{}@{}: {}", m.topic, m.partition,
                     m.offset, e.what());
      }
    }
  }
  return stats;
}

Ingester::Ingester(IngesterOptions options, MemoryStore& store, metrics::Registry& registry)
    : options_(std::move(options)),
      store_(store),
      messages_(registry.counter("strata_tsdb_ingest_messages_total",
                                 "Kafka messages consumed from the metrics topic.")),
      rejected_messages_(registry.counter(
          "strata_tsdb_ingest_rejected_messages_total",
          "Kafka messages that failed to decode and were skipped (committed past).")),
      rejected_series_(registry.counter("strata_tsdb_ingest_rejected_series_total",
                                        "Series skipped for having no non-empty label.")),
      appended_(registry.counter("strata_tsdb_appended_samples_total", "Samples stored.")),
      duplicates_(registry.counter(
          "strata_tsdb_duplicate_samples_total",
          "Samples ignored because the identical (timestamp, value) was already stored "
          "(at-least-once replays).")),
      conflicts_(registry.counter(
          "strata_tsdb_conflicting_samples_total",
          "Samples rejected because another value was already stored at their timestamp.")),
      errors_(registry.counter("strata_tsdb_ingest_errors_total",
                               "Failed Kafka polls and commits (retried).")) {
  registry.gauge_callback("strata_tsdb_series", "Series in the in-memory store.",
                          [&store] { return static_cast<double>(store.series_count()); });
  registry.gauge_callback("strata_tsdb_samples", "Samples in the in-memory store.",
                          [&store] { return static_cast<double>(store.sample_count()); });
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
  spdlog::info("tsdb ingest: consuming topic '{}' as group '{}'", options_.topic,
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
      spdlog::error("tsdb ingest: poll failed (retrying in {} ms): {}", backoff.count(), e.what());
      if (!sleep_unless_stopping(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds{10'000});
      continue;
    }
    if (batch.empty()) continue;
    record(apply_metrics_messages(batch, store_));
    try {
      consumer_->commit(batch);
      ++batches_committed_;
    } catch (const std::exception& e) {
      // The batch is applied; a replay after a crash will be deduplicated.
      errors_.inc();
      spdlog::warn("tsdb ingest: commit failed, batch may be replayed: {}", e.what());
    }
  }
  running_ = false;
}

void Ingester::record(const BatchStats& s) {
  messages_.inc(static_cast<double>(s.messages));
  rejected_messages_.inc(static_cast<double>(s.rejected_messages));
  rejected_series_.inc(static_cast<double>(s.rejected_series));
  appended_.inc(static_cast<double>(s.samples.appended));
  duplicates_.inc(static_cast<double>(s.samples.duplicates));
  conflicts_.inc(static_cast<double>(s.samples.conflicts));
  if (s.samples.conflicts > 0) {
    // A misbehaving producer can conflict on every batch: log at most every 10 s.
    auto now = std::chrono::steady_clock::now();
    if (now - last_conflict_log_ >= std::chrono::seconds(10)) {
      last_conflict_log_ = now;
      spdlog::warn(
          "tsdb ingest: rejected {} samples with a different value at an existing timestamp "
          "(first: {}); see strata_tsdb_conflicting_samples_total",
          s.samples.conflicts, s.first_conflict);
    }
  }
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

}  // namespace strata::tsdb

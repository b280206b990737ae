#include "tsdb/ingester.h"

#include <spdlog/spdlog.h>

#include "common/wire_format.h"

namespace strata::tsdb {
BatchStats apply_metrics_messages(std::span<const kafka::InMessage> messages, DB& db) {
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
        AppendResult r = db.append(series.labels, series.samples);
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

Ingester::Ingester(IngesterOptions options, DB& db, metrics::Registry& registry)
    : options_(std::move(options)),
      db_(db),
      messages_(registry.counter("strata_tsdb_ingest_messages_total",
                                 "Kafka messages consumed from the metrics topic.")),
      rejected_messages_(registry.counter(
          "strata_tsdb_ingest_rejected_messages_total",
          "Kafka messages that failed to decode and were skipped (committed past).")),
      rejected_series_(registry.counter("strata_tsdb_ingest_rejected_series_total",
                                        "Series skipped for having no non-empty label.")),
      counters_(registry),
      errors_(registry.counter("strata_tsdb_ingest_errors_total",
                               "Failed Kafka polls and commits (retried).")),
      loop_(
          kafka::ConsumeLoopOptions{"tsdb ingest", options_.kafka, options_.group_id,
                                    options_.topic, options_.max_poll_messages,
                                    options_.poll_timeout, options_.stall_timeout},
          [this](std::span<const kafka::InMessage> batch) {
            auto stats = apply_metrics_messages(batch, db_);
            db_.sync();  // durable before the loop commits the offsets
            record(stats);
          },
          errors_) {}

Ingester::~Ingester() { stop(); }

void Ingester::start() { loop_.start(); }
void Ingester::stop() { loop_.stop(); }

void Ingester::record(const BatchStats& s) {
  messages_.inc(static_cast<double>(s.messages));
  rejected_messages_.inc(static_cast<double>(s.rejected_messages));
  rejected_series_.inc(static_cast<double>(s.rejected_series));
  counters_.add(s.samples);
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

}  // namespace strata::tsdb

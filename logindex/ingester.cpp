#include "logindex/ingester.h"

#include <spdlog/spdlog.h>

#include "common/wire_format.h"

namespace strata::logindex {
BatchStats apply_log_messages(std::span<const kafka::InMessage> messages, LogStore& store) {
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
      AddResult r = store.append(stream.labels, stream.entries);
      stats.entries.added += r.added;
      stats.entries.duplicates += r.duplicates;
    }
  }
  return stats;
}

Ingester::Ingester(IngesterOptions options, LogStore& store, metrics::Registry& registry)
    : options_(std::move(options)),
      store_(store),
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
                               "Failed Kafka polls and commits (retried).")),
      loop_(
          kafka::ConsumeLoopOptions{"logindex ingest", options_.kafka, options_.group_id,
                                    options_.topic, options_.max_poll_messages,
                                    options_.poll_timeout, options_.stall_timeout},
          [this](std::span<const kafka::InMessage> batch) {
            auto stats = apply_log_messages(batch, store_);
            // Durable before ConsumeLoop commits the offsets; a throw here
            // stops the loop without committing.
            store_.sync();
            record(stats);
          },
          errors_) {}

Ingester::~Ingester() { stop(); }

void Ingester::start() { loop_.start(); }
void Ingester::stop() { loop_.stop(); }

void Ingester::record(const BatchStats& s) {
  messages_.inc(static_cast<double>(s.messages));
  rejected_messages_.inc(static_cast<double>(s.rejected_messages));
  appended_.inc(static_cast<double>(s.entries.added));
  duplicates_.inc(static_cast<double>(s.entries.duplicates));
}

}  // namespace strata::logindex

#include "logindex/ingester.h"

#include <spdlog/spdlog.h>

#include "common/wire_format.h"

namespace strata::logindex {
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
                               "Failed Kafka polls and commits (retried).")),
      loop_(
          kafka::ConsumeLoopOptions{"logindex ingest", options_.kafka, options_.group_id,
                                    options_.topic, options_.max_poll_messages,
                                    options_.poll_timeout, options_.stall_timeout},
          [this](std::span<const kafka::InMessage> batch) {
            record(apply_log_messages(batch, index_));
          },
          errors_) {
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

void Ingester::start() { loop_.start(); }
void Ingester::stop() { loop_.stop(); }

void Ingester::record(const BatchStats& s) {
  messages_.inc(static_cast<double>(s.messages));
  rejected_messages_.inc(static_cast<double>(s.rejected_messages));
  appended_.inc(static_cast<double>(s.entries.added));
  duplicates_.inc(static_cast<double>(s.entries.duplicates));
}

}  // namespace strata::logindex

// PushApi: the collector's native ingest endpoints.
//
//   POST /api/v1/push/metrics   body: wire-format metrics batch (docs/format/wire.md)
//   POST /api/v1/push/logs      body: wire-format logs batch
//
// A request is validated whole (any error -> 400 naming the JSON path, nothing
// published), enriched with the configured static labels (a label the client
// already set is kept: the host knows best), split into one Kafka message per
// series / stream keyed by its fingerprint, and published. The response is
// 204 only after Kafka acknowledged every message; if Kafka cannot take them
// within the ack timeout the answer is 503 with Retry-After and the client
// must resend (at-least-once: the stores deduplicate a partial publish).
//
// Thread-safety: handlers run concurrently on the HTTP handler pool; the
// shared KafkaProducer is thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "common/http_server.h"
#include "common/kafka_bus.h"
#include "common/labels.h"
#include "common/metrics_registry.h"

namespace strata::collector {

struct PushLimits {
  std::size_t max_series_per_request = 100'000;
  std::size_t max_labels_per_series = 64;
  std::size_t max_label_value_bytes = 4096;
  std::size_t max_line_bytes = 256 * 1024;
};

class PushApi {
 public:
  PushApi(kafka::KafkaProducer& producer, std::string metrics_topic, std::string logs_topic,
          Labels static_labels, PushLimits limits, std::chrono::milliseconds ack_timeout,
          metrics::Registry& registry);

  void register_routes(http::HttpServer& server);

  http::Response push_metrics(const http::Request& req);
  http::Response push_logs(const http::Request& req);

 private:
  // Adds static labels the client did not set.
  void enrich(Labels& labels) const;
  http::Response publish(std::vector<kafka::OutMessage> messages, const char* what);

  kafka::KafkaProducer& producer_;
  std::string metrics_topic_, logs_topic_;
  Labels static_labels_;
  PushLimits limits_;
  std::chrono::milliseconds ack_timeout_;
  metrics::Counter& requests_ok_;
  metrics::Counter& requests_bad_;
  metrics::Counter& requests_unavailable_;
  metrics::Counter& samples_published_;
  metrics::Counter& lines_published_;
  metrics::Histogram& publish_seconds_;
};

}  // namespace strata::collector

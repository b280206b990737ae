// Publisher: the common tail of every ingest endpoint. Whatever protocol a
// request came in (native wire format, Prometheus remote-write, Loki push,
// Prometheus text import), its decoded batch goes through the same steps:
//
//   1. request-size limits (413) and validation (400 naming the first few
//      problems); a request is accepted or rejected whole;
//      then the tenant's rate limits (429 + Retry-After, naming the tenant
//      and the limit; collector.limits.tenant_*_per_second);
//   2. enrichment: the tenant's labels override the client's, static labels
//      (collector.static_labels) fill in what the client did not set;
//   3. relabeling (collector.relabel.file); dropped series/streams are counted;
//   4. one Kafka message per series / stream, keyed by its label fingerprint
//      (docs/format/wire.md "Kafka"); a series or stream whose message would
//      exceed kMaxMessageBytes is split into several messages with the same key;
//   5. publish and wait for Kafka's acknowledgement: 204 only once Kafka has
//      every message; 503 + Retry-After otherwise (the client resends; the
//      stores deduplicate what of a failed request did land).
//
// So every protocol produces byte-identical Kafka messages for the same data,
// and the stores consume them unchanged.
//
// Thread-safety: publish() runs concurrently on the HTTP handler threads; the
// shared KafkaProducer is thread-safe and everything else is immutable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "collector/rate_limiter.h"
#include "collector/relabel.h"
#include "collector/token_auth.h"
#include "collector/validator.h"
#include "common/http_server.h"
#include "common/kafka_bus.h"
#include "common/labels.h"
#include "common/metrics_registry.h"
#include "common/wire_format.h"

namespace strata::collector {

struct PublisherOptions {
  std::string metrics_topic = "metrics";
  std::string logs_topic = "logs";
  Labels static_labels;
  std::chrono::milliseconds ack_timeout{10'000};
  RelabelConfig relabel;
  // Per-tenant token buckets (0: off; burst 0: one second's worth).
  double tenant_samples_per_second = 0;
  double tenant_samples_burst = 0;
  double tenant_log_bytes_per_second = 0;
  double tenant_log_bytes_burst = 0;
  RateLimiter::Clock clock = TokenBucket::Clock::now;  // for the rate limits
};

// What a request is, for messages and self-metrics.
struct RequestContext {
  const char* protocol;  // "remote_write", "loki", ... (metric label)
  const char* what;      // "invalid remote-write request" (400 prefix)
  const Tenant* tenant;  // nullptr without auth
  Locator where;
};

class Publisher {
 public:
  // Kafka's default message.max.bytes is 1,000,000; stay clear of it.
  static constexpr std::size_t kMaxMessageBytes = 900'000;

  Publisher(kafka::KafkaProducer& producer, PublisherOptions options, Limits limits,
            metrics::Registry& registry);

  http::Response publish(wire::MetricsBatch batch, const RequestContext& ctx);
  http::Response publish(wire::LogsBatch batch, const RequestContext& ctx);

  // Counts a request rejected before it reached publish() (undecodable,
  // unauthorized, wrong content type) under `protocol`.
  void count_rejected(const char* protocol);

  const Validator& validator() const { return validator_; }

  // Encodes one series / stream as messages of at most kMaxMessageBytes
  // (split by samples / entries, same key). Exposed for tests.
  static std::vector<kafka::OutMessage> messages_for(const wire::Series& series,
                                                     const std::string& topic);
  static std::vector<kafka::OutMessage> messages_for(const wire::LogStream& stream,
                                                     const std::string& topic);

 private:
  void enrich(Labels& labels, const Tenant* tenant) const;
  // nullopt when `tenant` may send `cost` more; else the 429.
  std::optional<http::Response> over_limit(RateLimiter& limiter, double cost, const char* unit,
                                           const char* key, const RequestContext& ctx);
  http::Response send(std::vector<kafka::OutMessage> messages, const char* protocol);
  metrics::Counter& outcome(const char* protocol, const char* outcome);

  kafka::KafkaProducer& producer_;
  PublisherOptions options_;
  Validator validator_;
  RateLimiter samples_limit_;
  RateLimiter log_bytes_limit_;
  metrics::Registry& registry_;
  metrics::Counter& samples_published_;
  metrics::Counter& lines_published_;
  metrics::Counter& series_dropped_;
  metrics::Counter& streams_dropped_;
  metrics::Histogram& publish_seconds_;
  metrics::Counter& samples_limited_;
  metrics::Counter& log_bytes_limited_;
};

std::int64_t now_ms();

}  // namespace strata::collector

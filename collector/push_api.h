// PushApi: the collector's ingest endpoints, one per protocol a sender may
// already speak. Each handler authenticates (TokenAuth), checks the media
// type and encodings, decodes the body with its protocol's decoder and hands
// the batch to the Publisher, which validates, enriches, relabels and
// publishes it to Kafka -- the same steps and the same Kafka messages for
// every protocol:
//
//   POST /api/v1/push/metrics       native wire-format metrics batch (docs/format/wire.md)
//   POST /api/v1/push/logs          native wire-format logs batch
//   POST /api/v1/write              Prometheus remote-write 1.0 (snappy + protobuf)
//   POST /loki/api/v1/push          Loki push, JSON or snappy + protobuf
//   POST /api/v1/import/prometheus  Prometheus text exposition format
//
// Status codes (docs/collector.md): 204 once Kafka acknowledged everything;
// 400 malformed or invalid (whole request rejected, nothing published), 401
// missing/unknown token, 413 too large, 415 unsupported media type or
// encoding, 503 + Retry-After when Kafka cannot take it.
//
// Thread-safety: handlers run concurrently on the HTTP handler pool.
#pragma once

#include <cstddef>
#include <optional>

#include "collector/publisher.h"
#include "collector/token_auth.h"
#include "common/http_server.h"
#include "common/metrics_registry.h"

namespace strata::collector {

class PushApi {
 public:
  // `max_body_bytes` bounds bodies the handlers decompress themselves
  // (snappy), as the HTTP server bounds gzip/zstd ones.
  PushApi(Publisher& publisher, TokenAuth& auth, std::size_t max_body_bytes,
          metrics::Registry& registry);

  void register_routes(http::HttpServer& server);

  http::Response push_metrics(const http::Request& req);
  http::Response push_logs(const http::Request& req);
  http::Response remote_write(const http::Request& req);
  http::Response loki_push(const http::Request& req);
  http::Response import_prometheus(const http::Request& req);

 private:
  http::Response reject(const char* protocol, int status, std::string message);
  std::optional<http::Response> check_no_snappy(const http::Request& req, const char* protocol,
                                                const char* path);

  Publisher& publisher_;
  TokenAuth& auth_;
  std::size_t max_body_bytes_;
  metrics::Counter& exemplars_dropped_;
  metrics::Counter& histograms_dropped_;
  metrics::Counter& lines_sanitized_;
};

}  // namespace strata::collector

// Prometheus remote-write receiver: POST /api/v1/write on a tsdb node, as
// Prometheus's --web.enable-remote-write-receiver, writing straight into the
// DB (no Kafka). Off by default (tsdb.remote_write_receiver); the normal
// ingest path is collector -> Kafka -> Ingester. It is there for what needs
// a store filled directly: strata-alerting's rule unit tests (one child
// tsdb per test), a Prometheus or an agent remote-writing to one node, a
// tsdb run without Kafka (tsdb.ingest.kafka=false).
//
// Request: remote write 1.0, a prometheus.WriteRequest in protobuf,
// snappy-compressed (common/remote_write.h decodes it, as the collector
// does). Samples are stored as sent, stale markers (Prometheus's StaleNaN)
// included; exemplars and native histograms are dropped and counted.
//
// Answers, as Prometheus's receiver answers:
//   204  everything stored (a sample identical to a stored one, same
//        timestamp and bit-identical value, counts as stored: replays are
//        idempotent);
//   400  the body is not snappy or not a WriteRequest, a series has an
//        invalid metric or label name, no label, or a label value that is
//        not UTF-8 (checked before anything is written: nothing stored);
//        or some samples were refused: another value already stored at
//        that timestamp ("duplicate sample for timestamp"), or older than
//        the out-of-order window or the last block cut ("out of bounds").
//        The message names the first such series. Unlike Prometheus, which
//        rolls the whole request back, the request's other samples are
//        stored; a client resending it changes nothing (duplicates are
//        ignored), and Prometheus does not retry a 400;
//   413  the body decompresses beyond tsdb.http.max_body_bytes.
// Before 204 the WAL is synced (tsdb.wal.fsync), as the Kafka ingester
// syncs before committing offsets.
//
// Thread-safety: the handler may run on any number of HTTP threads at once
// (DB::append is thread-safe).
#pragma once

#include <cstddef>

#include "common/http_server.h"
#include "common/metrics_registry.h"
#include "tsdb/append_counters.h"
#include "tsdb/db.h"

namespace strata::tsdb {

class RemoteWriteReceiver {
 public:
  // `db` must outlive the routes. `max_decoded_bytes` bounds the
  // uncompressed body.
  RemoteWriteReceiver(DB& db, std::size_t max_decoded_bytes, metrics::Registry& registry);

  void register_routes(http::HttpServer& server);
  http::Response write(const http::Request& req);

 private:
  DB& db_;
  std::size_t max_decoded_bytes_;
  metrics::Counter& requests_;
  metrics::Counter& rejected_;
  AppendCounters counters_;
  metrics::Counter& exemplars_dropped_;
  metrics::Counter& histograms_dropped_;
};

}  // namespace strata::tsdb

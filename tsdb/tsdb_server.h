// TsdbServer: the strata-tsdb process minus main(): a Service (HTTP API with
// /metrics, /healthz, /readyz), the on-disk store (DB: head + WAL + blocks),
// the Prometheus query API over it, an admin endpoint, and the Kafka
// ingester filling it. The all-in-one binary embeds one next to the other
// components.
//
//   POST /api/v1/admin/tsdb/compact   cut the whole head into blocks now,
//                                     then compact, downsample and apply
//                                     retention (benchmarks, backups)
//   POST /api/v1/write                Prometheus remote write, straight into
//                                     the DB, with tsdb.remote_write_receiver
//                                     (remote_write_receiver.h)
//
// With tsdb.ingest.kafka=false the ingester is never started (no Kafka
// connection, no Kafka readiness check): the node serves what reaches it
// by remote write, or what its data directory already holds.
//
// Lifecycle: construct (reads and validates config, opens the data
// directory and replays the WAL; throws ConfigError or std::runtime_error),
// start() (binds the port, joins the consumer group), stop() (stops
// ingesting first so no batch is left half-committed, then drains HTTP).
// stop() is idempotent and run by the destructor. start()/stop() from one
// thread; url() from any.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/service.h"
#include "tsdb/db.h"
#include "tsdb/fanout_store.h"
#include "tsdb/ingester.h"
#include "tsdb/query_api.h"
#include "tsdb/remote_read.h"
#include "tsdb/remote_write_receiver.h"

namespace strata::tsdb {

// Declares every tsdb.* option (listen address, HTTP limits, consumer group,
// lookback, ingest batch size, storage).
void add_options(config::Schema& schema);
// Declares the query-side tsdb.* options alone (lookback, query limits,
// tsdb.query.peers): what a query node (strata-query) needs.
void add_query_options(config::Schema& schema);
// The PromQL API options the config describes (throws ConfigError).
QueryApiOptions query_options(const config::Config& cfg);
// The fan-out the tsdb.query.* keys describe; nullopt when tsdb.query.peers
// is empty (throws ConfigError on a malformed peer).
std::optional<FanoutOptions> fanout_options(const config::Config& cfg);

// Call once at process start, before threads: queries allocate and free
// tens of MB of decoded samples each, and with glibc's default trim
// threshold every query faults those pages in again (a third of a large
// query's time). Keeps up to 256 MiB of freed heap for the next query.
void tune_allocator_for_queries();

// The DB options the config describes (throws ConfigError).
DBOptions db_options(const config::Config& cfg);

class TsdbServer {
 public:
  explicit TsdbServer(const config::Config& cfg);
  ~TsdbServer();
  TsdbServer(const TsdbServer&) = delete;
  TsdbServer& operator=(const TsdbServer&) = delete;

  void start();
  void stop();
  std::string url() const { return service_.url(); }

  DB& db() { return *db_; }
  Ingester& ingester() { return *ingester_; }
  Service& service() { return service_; }

 private:
  // Declared first: the metric callbacks and handlers read it until the
  // service is gone.
  std::unique_ptr<DB> db_;
  std::unique_ptr<DbQueryStore> local_store_;
  Service service_;
  std::unique_ptr<QueryApi> local_api_;
  std::unique_ptr<FanoutStore> fanout_store_;  // with tsdb.query.peers only
  std::unique_ptr<QueryApi> fanout_api_;       // with tsdb.query.peers only
  std::unique_ptr<RemoteReadApi> remote_read_;
  std::unique_ptr<RemoteWriteReceiver> remote_write_;  // tsdb.remote_write_receiver only
  std::unique_ptr<Ingester> ingester_;
  bool kafka_ingest_ = true;  // tsdb.ingest.kafka
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace strata::tsdb

// LogIndexServer: the strata-logindex process minus main(): a Service (HTTP
// API with /metrics, /healthz, /readyz), the durable log store in
// logindex.data_dir (log_store.h), the search and Loki APIs over it, and the
// Kafka ingester filling it. The all-in-one binary embeds one next to the
// other components.
//
// Fan-out. With logindex.query.peers set, the API routes answer over those
// shards (fanout.h) instead of this store -- which is then included only if
// it is listed among the peers -- except requests carrying the fan-out
// header (a peer's fan-out asking this node), which this store answers.
// With no peers (the default) the APIs answer from this store.
//
// Lifecycle: construct (reads and validates config, throws ConfigError; opens
// the store, replaying its WAL),
// start() (binds the port, joins the consumer group), stop() (stops
// ingesting first so no batch is left half-committed, then drains HTTP).
// stop() is idempotent and run by the destructor. start()/stop() from one
// thread; url() from any.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/service.h"
#include "logindex/ingester.h"
#include "logindex/log_store.h"
#include "logindex/search_api.h"

namespace strata::logindex {

// Declares every logindex.* option (listen address, HTTP limits, consumer
// group, search limits and peers (query_options.h), ingest batch size, data
// directory, WAL, head flush, merge, retention).
void add_options(config::Schema& schema);
// The store options the logindex.* keys describe. Throws ConfigError.
LogStoreOptions store_options(const config::Config& cfg);

class LogIndexServer {
 public:
  explicit LogIndexServer(const config::Config& cfg);
  ~LogIndexServer();
  LogIndexServer(const LogIndexServer&) = delete;
  LogIndexServer& operator=(const LogIndexServer&) = delete;

  void start();
  void stop();
  std::string url() const { return service_.url(); }

  LogStore& store() { return *store_; }
  Ingester& ingester() { return *ingester_; }
  Service& service() { return service_; }

 private:
  void register_store_metrics();

  // Declared first: the metric callbacks and handlers read it until the
  // service is gone.
  std::unique_ptr<LogStore> store_;
  Service service_;
  std::unique_ptr<SearchApi> api_;
  std::unique_ptr<Ingester> ingester_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace strata::logindex

// TsdbServer: the strata-tsdb process minus main(): a Service (HTTP API with
// /metrics, /healthz, /readyz), the in-memory store, the Prometheus query
// API over it, and the Kafka ingester filling it. The all-in-one binary
// embeds one next to the other components.
//
// Lifecycle: construct (reads and validates config, throws ConfigError),
// start() (binds the port, joins the consumer group), stop() (stops
// ingesting first so no batch is left half-committed, then drains HTTP).
// stop() is idempotent and run by the destructor. start()/stop() from one
// thread; url() from any.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/service.h"
#include "tsdb/ingester.h"
#include "tsdb/memory_store.h"
#include "tsdb/query_api.h"

namespace strata::tsdb {

// Declares every tsdb.* option (listen address, HTTP limits, consumer group,
// lookback, ingest batch size).
void add_options(config::Schema& schema);

class TsdbServer {
 public:
  explicit TsdbServer(const config::Config& cfg);
  ~TsdbServer();
  TsdbServer(const TsdbServer&) = delete;
  TsdbServer& operator=(const TsdbServer&) = delete;

  void start();
  void stop();
  std::string url() const { return service_.url(); }

  MemoryStore& store() { return store_; }
  Ingester& ingester() { return *ingester_; }
  Service& service() { return service_; }

 private:
  // Declared first: the metric callbacks and handlers read it until the
  // service is gone.
  MemoryStore store_;
  Service service_;
  std::unique_ptr<QueryApi> api_;
  std::unique_ptr<Ingester> ingester_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace strata::tsdb

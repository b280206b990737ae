// strata-tsdb: the time-series store. See tsdb/tsdb_server.h.
#include "common/service.h"
#include "tsdb/tsdb_server.h"

int main(int argc, char** argv) {
  using namespace strata;
  tsdb::tune_allocator_for_queries();
  config::Schema schema;
  add_logging_options(schema);
  add_kafka_options(schema);
  tsdb::add_options(schema);
  return run_main(
      "strata-tsdb",
      "Time-series store: consumes metrics from Kafka, serves the Prometheus query API.", schema,
      argc, argv, [](const config::Config& c) {
        tsdb::TsdbServer s(c);
        s.start();
        wait_for_shutdown_signal();
        s.stop();
        return 0;
      });
}

// strata-collector: the ingest gateway. See collector/collector_server.h.
#include "collector/collector_server.h"

int main(int argc, char** argv) {
  using namespace strata;
  config::Schema schema;
  add_logging_options(schema);
  add_kafka_options(schema);
  collector::add_options(schema);
  return run_main("strata-collector",
                  "ingest gateway: validates pushes, tags them and publishes them to Kafka", schema,
                  argc, argv, [](const config::Config& cfg) {
                    collector::CollectorServer server(cfg);
                    server.start();
                    wait_for_shutdown_signal();
                    server.stop();
                    return 0;
                  });
}

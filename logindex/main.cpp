// strata-logindex: the log store. See logindex/logindex_server.h.
#include "common/service.h"
#include "logindex/logindex_server.h"

int main(int argc, char** argv) {
  using namespace strata;
  config::Schema schema;
  add_logging_options(schema);
  add_kafka_options(schema);
  logindex::add_options(schema);
  return run_main("strata-logindex",
                  "Log store: consumes logs from Kafka into an inverted index, serves searches.",
                  schema, argc, argv, [](const config::Config& c) {
                    logindex::LogIndexServer s(c);
                    s.start();
                    wait_for_shutdown_signal();
                    s.stop();
                    return 0;
                  });
}

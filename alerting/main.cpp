// strata-alerting: the rule evaluator. See alerting/alerting_server.h.
#include "alerting/alerting_server.h"

int main(int argc, char** argv) {
  using namespace strata;
  config::Schema schema;
  add_logging_options(schema);
  alerting::add_options(schema);
  return run_main("strata-alerting",
                  "rule evaluator: queries the store's HTTP API and sends alert webhooks", schema,
                  argc, argv, [](const config::Config& cfg) {
                    alerting::AlertingServer server(cfg);
                    server.start();
                    wait_for_shutdown_signal();
                    server.stop();
                    return 0;
                  });
}

// strata-agent: the per-host daemon. Everything lives in strata_agent; this
// file only wires the configuration schema to the process lifecycle.
#include "agent/agent.h"
#include "agent/options.h"
#include "common/service.h"

int main(int argc, char** argv) {
  strata::config::Schema schema;
  strata::add_logging_options(schema);
  strata::agent::add_options(schema);
  return strata::run_main(
      "strata-agent",
      "Host agent: ships host metrics (node_* series) and tailed log files to a Strata collector.",
      schema, argc, argv, [](const strata::config::Config& c) {
        strata::agent::Agent a(c);
        a.start();
        strata::wait_for_shutdown_signal();
        a.stop();
        return 0;
      });
}

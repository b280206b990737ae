// strata-alerting: the rule evaluator. See alerting/alerting_server.h.
//
//   strata-alerting [--config FILE] [--alerting.* flags]   run the service
//   strata-alerting check FILE...   validate rule files (exit 1 on errors)
//   strata-alerting test FILE...    promtool-format rule unit tests: not
//                                   available (they need a PromQL engine,
//                                   which alerting does not link; exit 2)
#include <cstring>
#include <iostream>

#include "alerting/alerting_server.h"
#include "alerting/rule_file.h"

namespace {

int check(int argc, char** argv) {
  using namespace strata::alerting;
  if (argc < 3) {
    std::cerr << "usage: strata-alerting check RULE_FILE...\n";
    return 2;
  }
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    std::cout << "Checking " << argv[i] << "\n";
    try {
      auto groups = load_rule_file(argv[i]);
      std::size_t n = 0;
      for (const auto& g : groups) n += g.rules.size();
      std::cout << "  SUCCESS: " << n << " rules found" << std::endl;
    } catch (const RuleFileError& e) {
      ++failed;
      std::cout << "  FAILED:" << std::endl;
      for (const auto& m : e.messages()) std::cerr << m << "\n";
    }
  }
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) return check(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "test") == 0) {
    std::cerr << "strata-alerting test: rule unit tests (promtool's `test rules` format) need a "
                 "PromQL engine to evaluate input_series, and strata-alerting deliberately links "
                 "no storage or query engine. Run `promtool test rules` on the same files: the "
                 "rule format is Prometheus's.\n";
    return 2;
  }
  config::Schema schema;
  add_logging_options(schema);
  alerting::add_options(schema);
  return run_main("strata-alerting",
                  "rule evaluator: Prometheus-format rule files evaluated against the stores' "
                  "query APIs; webhook and Alertmanager notifications.\n"
                  "Subcommands: `check FILE...` validates rule files",
                  schema, argc, argv, [](const config::Config& cfg) {
                    alerting::AlertingServer server(cfg);
                    server.start();
                    wait_for_shutdown_signal();
                    server.stop();
                    return 0;
                  });
}

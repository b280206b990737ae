// strata-alerting: the rule evaluator. See alerting/alerting_server.h.
//
//   strata-alerting [--config FILE] [--alerting.* flags]   run the service
//   strata-alerting check FILE...   validate rule files (exit 1 on errors)
//   strata-alerting test [--tsdb-binary PATH] FILE...
//                                   rule unit tests in promtool's `test
//                                   rules` format, run against a child
//                                   strata-tsdb (alerting/rule_test_runner.h)
#include <spdlog/spdlog.h>

#include <cstring>
#include <iostream>
#include <string_view>

#include "alerting/alerting_server.h"
#include "alerting/rule_file.h"
#include "alerting/rule_test_runner.h"

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

int test(int argc, char** argv) {
  using namespace strata::alerting;
  constexpr const char* kUsage =
      "usage: strata-alerting test [--tsdb-binary PATH] TEST_FILE...\n"
      "Runs rule unit tests written for `promtool test rules`; each test group runs against a\n"
      "child strata-tsdb (next to this binary or on $PATH unless --tsdb-binary is given).\n";
  ruletest::RunOptions options;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--tsdb-binary" || a.starts_with("--tsdb-binary=")) {
      if (a == "--tsdb-binary") {
        if (i + 1 >= argc) {
          std::cerr << "strata-alerting test: --tsdb-binary needs a path\n" << kUsage;
          return 2;
        }
        options.tsdb_binary = argv[++i];
      } else {
        options.tsdb_binary = std::string(a.substr(std::strlen("--tsdb-binary=")));
      }
      continue;
    }
    if (a.starts_with("--")) {
      std::cerr << "strata-alerting test: unknown option " << a << "\n" << kUsage;
      return 2;
    }
    files.emplace_back(a);
  }
  if (files.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  // Rule failures are reported in the test output; the evaluator's own log
  // lines would only repeat them.
  spdlog::set_level(spdlog::level::critical);
  return ruletest::run_test_files(files, options, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) return check(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "test") == 0) return test(argc, argv);
  block_reload_signal();  // before any thread: see wait_for_shutdown_signal()
  config::Schema schema;
  add_logging_options(schema);
  alerting::add_options(schema);
  return run_main(
      "strata-alerting",
      "rule evaluator: Prometheus-format rule files evaluated against the stores' "
      "query APIs; webhook and Alertmanager notifications.\n"
      "Subcommands: `check FILE...` validates rule files; `test [--tsdb-binary PATH] FILE...` "
      "runs rule unit tests (promtool's `test rules` format)",
      schema, argc, argv, [](const config::Config& cfg) {
        alerting::AlertingServer server(cfg);
        server.start();
        // SIGHUP reloads the rule files (as POST /-/reload does).
        wait_for_shutdown_signal([&] { server.reload(); });
        server.stop();
        return 0;
      });
}

// `strata-alerting test` (alerting/rule_test_runner.h) as users run it: the
// real binary on promtool-format test files (tests/data/alerting/unit_tests/,
// Prometheus's documentation example among them), each test group against a
// child strata-tsdb -- and Debian's `promtool test rules` on the same files,
// which must agree: both pass the good files and both report the same
// failures, line for line, on the deliberately wrong one.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"

using namespace strata;
using namespace std::chrono_literals;
using strata::testing::ChildProcess;

namespace {

const std::string kDir = std::string(STRATA_ALERTING_DATA_DIR) + "/unit_tests";

struct Run {
  int status = -1;
  std::string output;
};

Run run(const std::string& binary, std::vector<std::string> args) {
  ChildProcess p("rule-tests", binary, std::move(args));
  bool done = testing::eventually([&] { return !p.running(); }, 120s);
  Run r;
  r.status = p.stop();
  r.output = p.output();
  if (!done) FAIL("did not finish: " << r.output);
  return r;
}

Run strata_test(std::vector<std::string> files) {
  std::vector<std::string> args = {"test", "--tsdb-binary", STRATA_TSDB_BIN};
  for (auto& f : files) args.push_back(kDir + "/" + f);
  return run(STRATA_ALERTING_BIN, args);
}

Run promtool_test(std::vector<std::string> files) {
  std::vector<std::string> args = {"test", "rules"};
  for (auto& f : files) args.push_back(kDir + "/" + f);
  return run(testing::kPromtoolBinary, args);
}

// The report's lines without the per-file header (promtool prints
// "Unit Testing:  FILE" with two spaces) and blank lines.
std::multiset<std::string> report_lines(const std::string& output) {
  std::multiset<std::string> out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && !line.starts_with("Unit Testing:")) out.insert(line);
  return out;
}

}  // namespace

TEST_CASE("strata-alerting test passes Prometheus's documentation example, as promtool does",
          "[integration]") {
  REQUIRE(testing::prometheus_installed());
  auto ours = strata_test({"docs_test.yml", "recording_test.yml"});
  INFO(ours.output);
  CHECK(ours.status == 0);
  CHECK(ours.output.find("Unit Testing: " + kDir + "/docs_test.yml\n  SUCCESS\n") !=
        std::string::npos);
  CHECK(ours.output.find("Unit Testing: " + kDir + "/recording_test.yml\n  SUCCESS\n") !=
        std::string::npos);
  auto theirs = promtool_test({"docs_test.yml", "recording_test.yml"});
  INFO(theirs.output);
  CHECK(theirs.status == 0);
  CHECK(report_lines(theirs.output) == report_lines(ours.output));
}

TEST_CASE("strata-alerting test reports wrong expectations exactly as promtool does",
          "[integration]") {
  REQUIRE(testing::prometheus_installed());
  auto ours = strata_test({"failing_test.yml"});
  auto theirs = promtool_test({"failing_test.yml"});
  INFO("strata-alerting:\n" << ours.output << "\npromtool:\n" << theirs.output);
  CHECK(ours.status == 1);
  CHECK(theirs.status == 1);
  CHECK(ours.output.find("  FAILED:") != std::string::npos);
  // The alert with the wrong label, the alert expected before it fires and
  // the wrong value: the same three failures, the same text.
  CHECK(report_lines(ours.output) == report_lines(theirs.output));
  CHECK(ours.output.find("got: {__name__=\"go_goroutines\", instance=\"localhost:9090\", "
                         "job=\"prometheus\"} 5E+01") != std::string::npos);
}

TEST_CASE("strata-alerting test: bad files and a missing tsdb exit 2 naming the problem",
          "[integration]") {
  const std::string dir = testing::temp_dir("rule-tests-bad");
  std::ofstream(dir + "/bad_test.yml") << "rule_files: [" << kDir << "/alerts.yml]\n"
                                       << "tests:\n"
                                       << "  - input_series:\n"
                                       << "      - series: 'up{job=\"a\"}'\n"
                                       << "        values: '1x-3'\n"
                                       << "    exp_alerts: []\n";
  auto bad = run(STRATA_ALERTING_BIN, {"test", "--tsdb-binary", STRATA_TSDB_BIN,
                                       dir + "/bad_test.yml", kDir + "/docs_test.yml"});
  INFO(bad.output);
  CHECK(bad.status == 2);
  CHECK(bad.output.find(dir + "/bad_test.yml:5:20: tests[0].input_series[0].values: char 3: "
                              "expected a repetition count") != std::string::npos);
  CHECK(bad.output.find("tests[0].exp_alerts: unknown field 'exp_alerts'") != std::string::npos);
  // The other file still ran.
  CHECK(bad.output.find("docs_test.yml\n  SUCCESS") != std::string::npos);
  if (testing::prometheus_installed())
    CHECK(run(testing::kPromtoolBinary, {"test", "rules", dir + "/bad_test.yml"}).status != 0);

  std::ofstream(dir + "/bad_rules_test.yml") << "rule_files: [" << kDir << "/../bad.yml]\n"
                                             << "tests: [{input_series: []}]\n";
  auto bad_rules = run(STRATA_ALERTING_BIN,
                       {"test", "--tsdb-binary", STRATA_TSDB_BIN, dir + "/bad_rules_test.yml"});
  INFO(bad_rules.output);
  CHECK(bad_rules.status == 2);
  CHECK(bad_rules.output.find("bad.yml:5:48: group \"broken\", rule \"SyntaxError\"") !=
        std::string::npos);

  auto no_tsdb = run(STRATA_ALERTING_BIN,
                     {"test", "--tsdb-binary", dir + "/no-such-tsdb", kDir + "/docs_test.yml"});
  CHECK(no_tsdb.status == 2);
  CHECK(no_tsdb.output.find("--tsdb-binary " + dir + "/no-such-tsdb: not an executable file") !=
        std::string::npos);
  auto usage = run(STRATA_ALERTING_BIN, {"test"});
  CHECK(usage.status == 2);
  CHECK(usage.output.find("usage: strata-alerting test") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("strata-alerting test finds strata-tsdb on $PATH", "[integration]") {
  const std::string tsdb_dir = std::filesystem::path(STRATA_TSDB_BIN).parent_path().string();
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  setenv("PATH", (tsdb_dir + ":" + saved).c_str(), 1);
  auto r = run(STRATA_ALERTING_BIN, {"test", kDir + "/docs_test.yml"});
  setenv("PATH", saved.c_str(), 1);
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.find("SUCCESS") != std::string::npos);
}

// promtool's rule unit-test files (alerting/rule_test_file.h): the expanding
// series notation, series label sets, and the test-file YAML with its
// validation.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>

#include "alerting/rule_test_file.h"
#include "common/wire_format.h"

using namespace strata;
using namespace strata::alerting::ruletest;
using namespace std::chrono_literals;

namespace {

using Values = std::vector<std::optional<double>>;

std::string notation_error(const std::string& text) {
  try {
    expand_series_values(text);
  } catch (const NotationError& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> file_errors(const std::string& text) {
  try {
    parse_test_file(text, "t.yml");
  } catch (const TestFileError& e) {
    return e.messages();
  }
  return {};
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST_CASE("series notation expands as promtool's", "[alerting]") {
  CHECK(expand_series_values("1 2 3") == Values{1, 2, 3});
  CHECK(expand_series_values("-2+4x3") == Values{-2, 2, 6, 10});
  CHECK(expand_series_values(" 1-2x4") == Values{1, -1, -3, -5, -7});
  CHECK(expand_series_values("1x4") == Values{1, 1, 1, 1, 1});
  CHECK(expand_series_values("5x0") == Values{5});
  CHECK(expand_series_values("1 _x3 4") == Values{1, std::nullopt, std::nullopt, std::nullopt, 4});
  CHECK(expand_series_values("_ 1 _x0") == Values{std::nullopt, 1});
  CHECK(expand_series_values("10+10x2 30+20x5") == Values{10, 20, 30, 30, 50, 70, 90, 110, 130});
  CHECK(expand_series_values("1.5e3 -.5 +2") == Values{1500, -0.5, 2});
  CHECK(expand_series_values("").empty());
  CHECK(expand_series_values("   ").empty());
  // Each value is the previous one plus the step (Prometheus's rounding).
  auto tenths = expand_series_values("0+0.1x3");
  REQUIRE(tenths.size() == 4);
  CHECK(*tenths[3] == 0.1 + 0.1 + 0.1);
  // Special values.
  auto special = expand_series_values("Inf -Inf NaN +inf nanx1 stale");
  REQUIRE(special.size() == 7);
  CHECK(*special[0] == HUGE_VAL);
  CHECK(*special[1] == -HUGE_VAL);
  CHECK(std::isnan(*special[2]));
  CHECK(*special[3] == HUGE_VAL);
  CHECK(std::isnan(*special[4]));
  CHECK(std::isnan(*special[5]));
  CHECK(std::bit_cast<std::uint64_t>(*special[6]) == wire::kStaleNaNBits);
}

TEST_CASE("bad series notation is rejected naming the character", "[alerting]") {
  CHECK(notation_error("1 2 abc") == "char 5: expected a number, '_' or \"stale\", got \"abc\"");
  CHECK(notation_error("1x-3") ==
        "char 3: expected a repetition count after 'x' (a non-negative integer), got \"-3\"");
  CHECK(notation_error("1x") ==
        "char 3: expected a repetition count after 'x' (a non-negative integer), got \"\"");
  CHECK(notation_error("1x2.5") ==
        "char 3: expected a repetition count after 'x' (a non-negative integer), got \"2.5\"");
  CHECK(notation_error("1+2") == "char 4: expected 'xN' after a+b (a+bxN)");
  CHECK(notation_error("1+x3") == "char 3: expected a number after the sign, got \"x3\"");
  CHECK(notation_error("1.2.3") == "char 4: unexpected \".3\" after a number");
  CHECK(notation_error("_3") == "char 2: expected '_' or '_xN', got \"_3\"");
  CHECK(notation_error("1e") == "char 2: bad exponent in \"e\"");
  CHECK(notation_error("stalex2") ==
        "char 1: expected a number, '_' or \"stale\", got \"stalex2\"");
  CHECK(notation_error("1,2") == "char 2: unexpected \",2\" after a number");
  CHECK_THAT(notation_error("1x99999999999"), Catch::Contains("expands to more than"));
  CHECK_THAT(notation_error("1x99999999999999999999999"), Catch::Contains("out of range"));
  CHECK_THROWS_AS(expand_series_values("1x5 2", 6), NotationError);
  CHECK(expand_series_values("1x4 2", 6).size() == 6);
}

TEST_CASE("series label sets parse as metric notation", "[alerting]") {
  CHECK(parse_series_labels("up{job=\"api\", instance=\"a:9090\"}") ==
        Labels{{"__name__", "up"}, {"job", "api"}, {"instance", "a:9090"}});
  CHECK(parse_series_labels("job:up:sum") == Labels{{"__name__", "job:up:sum"}});
  CHECK(parse_series_labels("{__name__=\"up\",job='api',}") ==
        Labels{{"__name__", "up"}, {"job", "api"}});
  CHECK(parse_series_labels("sum{a=\"b\"}") == Labels{{"__name__", "sum"}, {"a", "b"}});
  CHECK(parse_series_labels("x{a=\"\"}") == Labels{{"__name__", "x"}});
  CHECK(parse_series_labels("{}", true).empty());
  CHECK(parse_series_labels("", true).empty());
  auto err = [](const std::string& text) {
    try {
      parse_series_labels(text);
    } catch (const NotationError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(err("") == "char 1: empty series: expected name{label=\"value\", ...}");
  CHECK(err("{}") == "char 1: a series needs at least one label");
  CHECK(err("up{job=~\"a.*\"}") == "char 3: label job: a series takes name=\"value\", not =~");
  CHECK(err("up{job=\"a\", job=\"b\"}") == "char 3: label \"job\" given twice");
  CHECK(err("up{__name__=\"x\"}") == "char 3: label \"__name__\" given twice");
  CHECK(err("up{job=\"a\"} 1 2") == "char 13: unexpected \"1 2\" after the label set");
  CHECK_THAT(err("up{job=\"a\""), Catch::StartsWith("char 11: "));
  CHECK_THAT(err("1up"), Catch::StartsWith("char 1: "));
  CHECK_THAT(err("\"up\""), Catch::StartsWith("char 1: expected a metric name or '{'"));
}

TEST_CASE("test files parse into tests with expanded series", "[alerting]") {
  const std::string text = R"(rule_files:
  - alerts.yml
evaluation_interval: 30s
group_eval_order: [b, a]
tests:
  - input_series:
      - series: 'up{job="api"}'
        values: '1 _ stale 0+1x2'
    alert_rule_test:
      - eval_time: 5m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: page}
            exp_annotations: {summary: "down"}
      - eval_time: 1h30m
        alertname: Down
    promql_expr_test:
      - expr: up == 0
        eval_time: 90s
        exp_samples:
          - labels: 'up{job="api"}'
            value: 0
          - labels: '{}'
            value: .inf
  - name: second
    interval: 1m
    external_labels: {cluster: eu1}
    external_url: http://x
)";
  auto f = parse_test_file(text, "t.yml");
  CHECK(f.rule_files == std::vector<std::string>{"alerts.yml"});
  CHECK(f.evaluation_interval == 30s);
  CHECK(f.group_eval_order == std::vector<std::string>{"b", "a"});
  REQUIRE(f.tests.size() == 2);
  const auto& t = f.tests[0];
  CHECK(t.interval == 30s);  // default: evaluation_interval
  REQUIRE(t.input_series.size() == 1);
  CHECK(t.input_series[0].labels == Labels{{"__name__", "up"}, {"job", "api"}});
  REQUIRE(t.input_series[0].values.size() == 6);
  CHECK(!t.input_series[0].values[1]);
  CHECK(wire::is_stale_nan(*t.input_series[0].values[2]));
  REQUIRE(t.alert_tests.size() == 2);
  CHECK(t.alert_tests[0].eval_time == 5min);
  CHECK(t.alert_tests[0].alertname == "Down");
  REQUIRE(t.alert_tests[0].exp_alerts.size() == 1);
  CHECK(t.alert_tests[0].exp_alerts[0].labels.at("severity") == "page");
  CHECK(t.alert_tests[0].exp_alerts[0].annotations.at("summary") == "down");
  CHECK(t.alert_tests[1].exp_alerts.empty());
  CHECK(t.max_eval_time() == 90min);
  REQUIRE(t.expr_tests.size() == 1);
  CHECK(t.expr_tests[0].eval_time == 90s);
  REQUIRE(t.expr_tests[0].exp_samples.size() == 2);
  CHECK(t.expr_tests[0].exp_samples[0].value == 0);
  CHECK(t.expr_tests[0].exp_samples[1].labels.empty());
  CHECK(t.expr_tests[0].exp_samples[1].value == HUGE_VAL);
  CHECK(f.tests[1].name == "second");
  CHECK(f.tests[1].interval == 1min);
  CHECK(f.tests[1].external_labels.at("cluster") == "eu1");
  CHECK(f.tests[1].external_url == "http://x");
  // Defaults: evaluation_interval 1m; an empty file has no tests.
  CHECK(parse_test_file("tests: []\n", "t.yml").evaluation_interval == 1min);
  CHECK(parse_test_file("", "t.yml").tests.empty());
}

TEST_CASE("bad test files are rejected naming file, line, test index and field", "[alerting]") {
  auto errs = file_errors(R"(rule_files: [a.yml]
evaluation_intervall: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="api"}'
        values: '1 2 x3'
      - series: 'up{job=~"api"}'
        values: '1x-3'
      - values: '1'
        labels: 'x'
    alert_rule_test:
      - eval_time: 10 minutes
        exp_alerts:
          - exp_labels: {severity: page}
            exp_label: {}
    promql_expr_test:
      - expr: 'sum(up'
        eval_time: 1m
        exp_samples:
          - labels: 'up'
            value: high
    unknown_key: 1
)");
  const std::string all = joined(errs);
  INFO(all);
  CHECK_THAT(all, Catch::Contains("t.yml:2:1: evaluation_intervall: unknown field "
                                  "'evaluation_intervall'"));
  // The column points at the offending character of a plain scalar.
  CHECK_THAT(all, Catch::Contains("t.yml:7:22: tests[0].input_series[0].values: char 5: "
                                  "expected a number, '_' or \"stale\", got \"x3\""));
  CHECK_THAT(all, Catch::Contains("t.yml:8:20: tests[0].input_series[1].series: char 3: label "
                                  "job: a series takes name=\"value\", not =~"));
  CHECK_THAT(all, Catch::Contains("t.yml:9:20: tests[0].input_series[1].values: char 3: expected "
                                  "a repetition count after 'x'"));
  CHECK_THAT(all, Catch::Contains("tests[0].input_series[2].labels: unknown field 'labels'"));
  CHECK_THAT(all, Catch::Contains("tests[0].input_series[2].series: missing"));
  CHECK_THAT(all, Catch::Contains("t.yml:13:20: tests[0].alert_rule_test[0].eval_time: not a "
                                  "valid duration: \"10 minutes\""));
  CHECK_THAT(all,
             Catch::Contains("tests[0].alert_rule_test[0].exp_alerts[0].exp_label: unknown field"));
  CHECK_THAT(all, Catch::Contains("tests[0].alert_rule_test[0].alertname: missing"));
  CHECK_THAT(all, Catch::Contains("tests[0].promql_expr_test[0].expr: parse error"));
  CHECK_THAT(all, Catch::Contains(
                      "tests[0].promql_expr_test[0].exp_samples[0].value: not a number: \"high\""));
  CHECK_THAT(all, Catch::Contains("tests[0].unknown_key: unknown field 'unknown_key'"));

  CHECK_THAT(joined(file_errors("group_eval_order: [a, b, a]\n")),
             Catch::Contains("group name repeated in evaluation order: a"));
  CHECK_THAT(joined(file_errors("tests: {a: 1}\n")), Catch::Contains("tests: expected a list"));
  CHECK_THAT(joined(file_errors("rule_files: a.yml\n")),
             Catch::Contains("rule_files: expected a list of strings"));
  CHECK_THAT(joined(file_errors("tests:\n  - input_series: [{series: 'a', values: [1]}]\n")),
             Catch::Contains("tests[0].input_series[0].values: expected a string"));
  CHECK_THAT(joined(file_errors("tests: [\n")), Catch::Contains("t.yml:2:1: YAML: "));
  CHECK_THAT(joined(file_errors("- a\n")), Catch::Contains("expected a map"));
  try {
    load_test_file("/nonexistent/t.yml");
    FAIL("no error");
  } catch (const TestFileError& e) {
    CHECK_THAT(e.what(), Catch::Contains("/nonexistent/t.yml: cannot read test file"));
  }
}

TEST_CASE("durations print as Prometheus prints them", "[alerting]") {
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(10min) == "10m");
  CHECK(format_duration(90min) == "1h30m");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(1500ms) == "1s500ms");
  CHECK(format_duration(std::chrono::hours(24 * 14)) == "2w");
  CHECK(format_duration(std::chrono::hours(24 * 15)) == "15d");
}

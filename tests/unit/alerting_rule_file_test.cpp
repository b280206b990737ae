#include "alerting/rule_file.h"

#include <catch2/catch.hpp>

using namespace strata::alerting;

namespace {
const std::string kData = STRATA_ALERTING_DATA_DIR;

// Every message of the file's RuleFileError.
std::vector<std::string> errors_of(const std::string& text) {
  try {
    parse_rule_file(text, "rules.yml");
  } catch (const RuleFileError& e) {
    return e.messages();
  }
  return {};
}
bool has(const std::vector<std::string>& msgs, const std::string& part) {
  for (const auto& m : msgs)
    if (m.find(part) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("rule files in the style of Prometheus's docs and the node mixin parse", "[alerting]") {
  auto docs = load_rule_file(kData + "/prometheus_docs.yml");
  REQUIRE(docs.size() == 3);
  CHECK(docs[0].name == "example");
  CHECK(docs[0].rules[0].record == "code:prometheus_http_requests_total:sum");
  CHECK(docs[1].interval == std::chrono::minutes(1));
  CHECK(docs[1].limit == 10);
  const auto& alerts = docs[2].rules;
  REQUIRE(alerts.size() == 4);
  CHECK(alerts[0].alert == "HighRequestLatency");
  CHECK(alerts[0].for_duration == std::chrono::minutes(10));
  CHECK(alerts[0].keep_firing_for == std::chrono::minutes(5));
  CHECK(alerts[0].labels.at("severity") == "page");
  CHECK(alerts[1].annotation_templates.count("summary") == 1);

  auto mixin = load_rule_file(kData + "/node_mixin.yml");
  REQUIRE(mixin.size() == 2);
  CHECK(mixin[0].rules.size() == 5);
  CHECK(mixin[1].rules.size() == 3);
  CHECK(mixin[1].rules[0].record == "instance:node_num_cpu:sum");

  auto logs = load_rule_file(kData + "/logs.yml");
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].source == RuleSource::kLogs);
  CHECK(logs[0].rules.size() == 2);
  // The store's LogQL has no comparisons: alerting applies the trailing one.
  const auto& burst = logs[0].rules[0];
  CHECK(burst.query == "sum by (service) (count_over_time({service=\"api\"} |= \"error\" [5m]))");
  REQUIRE(burst.threshold);
  CHECK(burst.threshold->holds(101));
  CHECK_FALSE(burst.threshold->holds(100));
  CHECK_FALSE(logs[0].rules[1].threshold);

  auto all = load_rule_files({kData + "/node_mixin.yml", kData + "/prometheus_*.yml"});
  CHECK(all.size() == 5);
  // A glob matching nothing is fine (as in Prometheus); a missing file is not.
  CHECK(load_rule_files({kData + "/no-such-*.yml"}).empty());
  CHECK_THROWS_WITH(load_rule_files({kData + "/no-such.yml"}),
                    Catch::Contains("no-such.yml: cannot read rule file"));
}

TEST_CASE("bad rules are rejected naming file, line, column, group and rule", "[alerting]") {
  std::vector<std::string> msgs;
  try {
    load_rule_file(kData + "/bad.yml");
    FAIL("bad.yml accepted");
  } catch (const RuleFileError& e) {
    msgs = e.messages();
  }
  for (const auto& m : msgs) INFO(m);
  std::string f = kData + "/bad.yml";
  CHECK(has(msgs, f + ":5:48: group \"broken\", rule \"SyntaxError\": expr: parse error"));
  CHECK(has(msgs,
            "rule \"UnknownFunction\": expr: parse error at char 1: unknown function with name "
            "\"no_such_function\""));
  CHECK(has(msgs, f + ":11:20: group \"broken\", rule \"BadTemplate\": annotations.summary: "
                      "template error at col 1: unclosed action"));
  CHECK(has(msgs,
            "rule \"UnknownTemplateFunction\": annotations.summary: template error at col 13: "
            "function \"humanise\" not defined"));
  CHECK(has(msgs, "rule \"BadFor\": for: not a valid duration: \"10 minutes\""));
  CHECK(has(msgs, "invalid recording rule name: not a metric name"));
  CHECK(has(msgs, "rule \"Both\": only one of 'record' and 'alert' must be set"));
  CHECK(
      has(msgs, "rule \"RangeVector\": expr: an alerting rule needs an instant vector expression"));
  CHECK(has(msgs,
            "group \"broken-logs\", rule \"NotAMetricQuery\": expr: a log rule needs a LogQL "
            "metric query"));
  CHECK(msgs.size() == 9);
}

TEST_CASE("rule file structure is validated like Prometheus", "[alerting]") {
  CHECK(has(errors_of("groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n    bogus: 1\n"),
            "rules.yml:6:5: group \"a\", rule \"X\": unknown field 'bogus'"));
  CHECK(has(errors_of("groups:\n- name: a\n- name: a\n"), "group name is used twice"));
  CHECK(has(errors_of("groups:\n- rules: []\n"), "group without a name"));
  CHECK(has(errors_of("groups:\n- name: a\n  rules:\n  - alert: X\n"), "field 'expr' must be set"));
  CHECK(has(errors_of("groups:\n- name: a\n  rules:\n  - record: r\n    expr: up\n    for: 5m\n"),
            "invalid field 'for' in recording rule"));
  CHECK(has(errors_of("groups:\n- name: a\n  interval: fast\n"), "interval: not a valid duration"));
  CHECK(has(errors_of("groups:\n- name: a\n  source: traces\n"), "source: expected"));
  CHECK(has(
      errors_of(
          "groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n    labels:\n      0bad: x\n"),
      "invalid label name: 0bad"));
  CHECK(has(errors_of("groups: [\n"), "rules.yml:"));
  CHECK(has(errors_of("groupz: []\n"), "unknown field 'groupz'"));
  CHECK(errors_of("").empty());
  CHECK(has(errors_of("groups:\n- name: l\n  source: logs\n  rules:\n  - alert: X\n    expr: "
                      "count_over_time({a=\"b\"}[5m) > 1\n"),
            "group \"l\", rule \"X\": expr: parse error"));
}

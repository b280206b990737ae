// Relabel rules: Prometheus's semantics for every action, and config errors.
#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include "collector/relabel.h"
#include "common/config.h"

using namespace strata;
using namespace strata::collector;

namespace {

RelabelRules rules(const std::string& yaml) {
  return parse_relabel_rules(YAML::Load(yaml), "test");
}

// Applies and renders ("dropped" when dropped).
std::string apply(const std::string& yaml, Labels labels) {
  if (!relabel(rules(yaml), labels)) return "dropped";
  return labels.to_string();
}

std::string config_error(const std::string& yaml) {
  try {
    parse_relabel_config(yaml, "relabel.yaml");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const Labels kIn{{"__name__", "node_cpu_seconds_total"},
                 {"cpu", "0"},
                 {"mode", "idle"},
                 {"instance", "host-1:9100"}};

}  // namespace

TEST_CASE("relabel: keep and drop match the joined source labels, anchored",
          "[collector][relabel]") {
  CHECK(apply("[{source_labels: [__name__], regex: node_cpu.*, action: keep}]", kIn) != "dropped");
  CHECK(apply("[{source_labels: [__name__], regex: cpu, action: keep}]", kIn) == "dropped");
  CHECK(apply("[{source_labels: [__name__], regex: 'node_cpu_seconds_total', action: drop}]",
              kIn) == "dropped");
  CHECK(apply("[{source_labels: [cpu, mode], separator: '/', regex: '0/idle', action: drop}]",
              kIn) == "dropped");
  CHECK(apply("[{source_labels: [cpu, mode], regex: '0;user', action: drop}]", kIn) != "dropped");
  // A missing source label is the empty string.
  CHECK(apply("[{source_labels: [nope], regex: '', action: drop}]", kIn) == "dropped");
  CHECK(apply("[{source_labels: [cpu], target_label: mode, action: keepequal}]", kIn) == "dropped");
  CHECK(apply("[{source_labels: [cpu], target_label: mode, action: dropequal}]", kIn) != "dropped");
}

TEST_CASE("relabel: replace expands groups, deletes on empty", "[collector][relabel]") {
  CHECK(
      apply("[{source_labels: [instance], regex: '(.*):\\d+', target_label: host, "
            "replacement: '$1'}]",
            kIn) ==
      R"({__name__="node_cpu_seconds_total", cpu="0", host="host-1", instance="host-1:9100", mode="idle"})");
  CHECK(apply("[{source_labels: [instance], regex: '(?P<h>[^:]+):(?P<p>.*)', target_label: "
              "hp, replacement: '${p}-$h-$$-${1}x'}]",
              Labels{{"instance", "a:1"}}) == R"({hp="1-a-$-ax", instance="a:1"})");
  // No match: unchanged. Empty result: the target is deleted.
  CHECK(apply("[{source_labels: [cpu], regex: '9', target_label: cpu, replacement: x}]",
              Labels{{"cpu", "0"}}) == R"({cpu="0"})");
  CHECK(apply("[{source_labels: [nope], target_label: cpu}]", Labels{{"cpu", "0"}, {"a", "b"}}) ==
        R"({a="b"})");
  // Template target label; an invalid expanded name skips the rule.
  CHECK(apply("[{source_labels: [mode], target_label: 'm_$1', replacement: yes}]",
              Labels{{"mode", "idle"}}) == R"({m_idle="yes", mode="idle"})");
  CHECK(apply("[{source_labels: [mode], target_label: '$1', replacement: yes}]",
              Labels{{"mode", "1x"}}) == R"({mode="1x"})");
  CHECK(apply("[{source_labels: [mode], target_label: mode, action: uppercase}]",
              Labels{{"mode", "idle"}}) == R"({mode="IDLE"})");
}

TEST_CASE("relabel: hashmod as Prometheus computes it", "[collector][relabel]") {
  // Prometheus's own relabel test: "baz" mod 1000 = 976.
  CHECK(relabel_hash("baz") % 1000 == 976);
  CHECK(apply("[{source_labels: [c], target_label: d, modulus: 1000, action: hashmod}]",
              Labels{{"c", "baz"}}) == R"({c="baz", d="976"})");
  CHECK(apply("[{source_labels: [c], target_label: d, modulus: 1000, action: hashmod}, "
              "{source_labels: [d], regex: '976', action: keep}]",
              Labels{{"c", "foo"}}) == "dropped");  // foo -> 696
}

TEST_CASE("relabel: labelmap, labeldrop, labelkeep work on names", "[collector][relabel]") {
  CHECK(apply("[{regex: '__meta_(.+)', action: labelmap}]",
              Labels{{"__meta_zone", "a"}, {"x", "1"}}) == R"({__meta_zone="a", x="1", zone="a"})");
  CHECK(apply("[{regex: 'cpu|mode', action: labeldrop}]", kIn) ==
        R"({__name__="node_cpu_seconds_total", instance="host-1:9100"})");
  CHECK(apply("[{regex: '__name__|cpu', action: labelkeep}]", kIn) ==
        R"({__name__="node_cpu_seconds_total", cpu="0"})");
  CHECK(apply("[{regex: '.*', action: labeldrop}]", kIn) == "dropped");  // nothing left
}

TEST_CASE("relabel: configuration errors name the rule and field", "[collector][relabel]") {
  CHECK(config_error("metrics: [{action: explode}]") ==
        "relabel.yaml metrics rule 0 (line 1): unknown action 'explode' (replace, keep, drop, "
        "keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase)");
  CHECK_THAT(config_error("metrics:\n  - {regex: '(', action: drop}"),
             Catch::Contains("metrics rule 0 (line 2): invalid regex '('"));
  CHECK_THAT(config_error("logs: [{action: replace}]"),
             Catch::Contains("logs rule 0 (line 1): action replace needs 'target_label'"));
  CHECK_THAT(config_error("metrics: [{action: hashmod, target_label: x}]"),
             Catch::Contains("needs a 'modulus' > 0"));
  CHECK_THAT(config_error("metrics: [{action: labeldrop, regex: a, source_labels: [b]}]"),
             Catch::Contains("takes only 'regex'"));
  CHECK_THAT(config_error("metrics: [{action: keep, sauce_labels: [a]}]"),
             Catch::Contains("unknown field 'sauce_labels'"));
  CHECK_THAT(config_error("metrics: [{target_label: 'bad-name'}]"),
             Catch::Contains("target_label 'bad-name' is not a valid label name"));
  CHECK_THAT(config_error("traces: []"), Catch::Contains("unknown section 'traces'"));
  auto cfg =
      parse_relabel_config("metrics: [{action: drop, regex: x, source_labels: [a]}]\nlogs:", "f");
  CHECK(cfg.metrics.size() == 1);
  CHECK(cfg.logs.empty());
}

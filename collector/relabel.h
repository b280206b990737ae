// Relabeling: Prometheus's relabel_config rules, applied by the collector to
// every series (and, with their own rule list, every log stream) after
// enrichment and before publishing.
//
// Semantics are Prometheus's (model/relabel): the values of source_labels
// joined by `separator` are matched against `regex`, which is anchored at both
// ends; actions replace (default), keep, drop, keepequal, dropequal, hashmod,
// labelmap, labeldrop, labelkeep, lowercase, uppercase; `replacement` expands
// $1, ${1}, $name and ${name}; a replace whose result is empty deletes the
// target label; hashmod takes the last 8 bytes of the MD5 of the value,
// big-endian, modulo `modulus`. Rules run in order, each on the previous
// one's result. Every regex is RE2 (linear time, no backtracking blow-up).
//
// The rules are YAML, as under Prometheus's metric_relabel_configs:
//     metrics:
//       - source_labels: [__name__]
//         regex: go_.*
//         action: drop
//     logs:
//       - action: labeldrop
//         regex: filename
//
// Thread-safety: rules are immutable after parsing; apply() may run
// concurrently on the same rules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"

namespace re2 {
class RE2;
}

namespace YAML {
class Node;
}

namespace strata::collector {

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

struct RelabelRule {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::shared_ptr<const re2::RE2> regex;  // anchored; default "(.*)"
  std::string regex_text = "(.*)";        // as configured, for messages
  std::string target_label;
  std::string replacement = "$1";
  std::uint64_t modulus = 0;
  RelabelAction action = RelabelAction::kReplace;
};

using RelabelRules = std::vector<RelabelRule>;

struct RelabelConfig {
  RelabelRules metrics;
  RelabelRules logs;
  bool empty() const { return metrics.empty() && logs.empty(); }
};

// Parses a list of rules. Throws config::ConfigError naming `origin`, the
// rule index and the field (an unknown action, a bad regex, a missing
// target_label, ...).
RelabelRules parse_relabel_rules(const YAML::Node& list, const std::string& origin);
// Parses a whole file's text ({metrics: [...], logs: [...]}).
RelabelConfig parse_relabel_config(const std::string& yaml_text, const std::string& origin);
RelabelConfig load_relabel_config(const std::string& path);

// Applies the rules. Returns false when the set is dropped (keep/drop, or
// nothing left); then `labels` is unspecified.
bool relabel(const RelabelRules& rules, Labels& labels);

// The hashmod hash: the last 8 bytes of MD5(value), read big-endian.
std::uint64_t relabel_hash(std::string_view value);

}  // namespace strata::collector

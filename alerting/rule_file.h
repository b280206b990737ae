// Rule files: Prometheus's rule-file YAML format, loaded and fully validated.
//
//   groups:
//     - name: node                # required, unique per file
//       interval: 30s             # optional; default alerting.interval
//       limit: 10                 # optional; 0 = no limit on alerts/series
//       source: logs              # Strata extension, optional: metrics|logs
//       rules:
//         - alert: HighLoad       # or  record: job:load1:avg
//           expr: node_load1 > 4
//           for: 10m
//           keep_firing_for: 5m
//           labels: {severity: page}
//           annotations: {summary: "{{ $labels.instance }} load {{ $value }}"}
//
// `source` is the one Strata extension: a group with `source: logs` holds
// LogQL metric queries evaluated against the log store's Loki API
// (/loki/api/v1/query), every other group PromQL against the metrics store.
// It is a group-level key because a group is evaluated at one timestamp
// against one store, and Loki's own ruler files hold whole groups of LogQL.
//
// Validation at load, as Prometheus does and a little more: unknown keys,
// missing or conflicting alert/record, bad durations, invalid metric or
// label names, duplicate group names, annotations on recording rules,
// every expression parsed with the real parser (PromQL: tsdb/promql/parser.h,
// LogQL: logindex/logql/parser.h -- parsers only, never a storage engine)
// and type-checked (alerts need an instant vector), every label and
// annotation template compiled (template.h). All errors of a file are
// collected; each names the file, line and column, group and rule:
//
//   rules.yml:12:15: group "node", rule "HighLoad": expr: parse error at
//   char 6: unexpected ")"
//
// Loading is a pure function of the file text; the result is immutable.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "alerting/template.h"

namespace strata::alerting {

enum class RuleSource { kMetrics, kLogs };

// A trailing `<op> <number>` of a log rule, applied by alerting: the log
// store's LogQL has no comparison operators, so for
// `sum(count_over_time({app="api"} |= "error" [5m])) > 100` the store is
// asked for the left-hand side and alerting keeps the samples for which the
// comparison holds (PromQL's filter semantics).
struct LogThreshold {
  enum class Op { kGt, kGe, kLt, kLe, kEq, kNe };
  Op op = Op::kGt;
  double value = 0;
  bool holds(double sample) const;
};

struct RuleDef {
  std::string alert;   // set for an alerting rule
  std::string record;  // set for a recording rule
  std::string expr;
  // Log rules: what is sent to the log store (expr without a trailing
  // comparison, which is then in `threshold`).
  std::string query;
  std::optional<LogThreshold> threshold;
  std::chrono::milliseconds for_duration{0};
  std::chrono::milliseconds keep_firing_for{0};
  std::map<std::string, std::string> labels;       // raw template text
  std::map<std::string, std::string> annotations;  // raw template text
  std::map<std::string, Template> label_templates;
  std::map<std::string, Template> annotation_templates;
  int line = 0;  // 1-based line of the rule in its file

  bool is_alert() const { return !alert.empty(); }
  const std::string& name() const { return is_alert() ? alert : record; }
};

struct RuleGroup {
  std::string file;
  std::string name;
  std::chrono::milliseconds interval{0};  // 0: the configured default
  int limit = 0;
  RuleSource source = RuleSource::kMetrics;
  std::vector<RuleDef> rules;
};

// All problems found in one or more files, one message per line.
class RuleFileError : public std::runtime_error {
 public:
  explicit RuleFileError(std::vector<std::string> messages);
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
};

// Parses and validates one file's text; `file` names it in errors.
// Throws RuleFileError listing every problem.
std::vector<RuleGroup> parse_rule_file(const std::string& text, const std::string& file);
// Reads the file (errors name it) and parses it.
std::vector<RuleGroup> load_rule_file(const std::string& path);
// Expands glob patterns (as Prometheus's rule_files does) and loads every
// match in name order. As in Prometheus a group is identified by file and
// name, so two files may use the same group name. Throws RuleFileError with
// the problems of every file.
std::vector<RuleGroup> load_rule_files(const std::vector<std::string>& patterns);

}  // namespace strata::alerting

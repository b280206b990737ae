// Rule unit-test files: promtool's `test rules` YAML (Prometheus 2.42's
// format), parsed and fully validated, plus the two notations it embeds.
//
//   rule_files: [alerts.yml]       # relative to the test file; globs allowed
//   evaluation_interval: 1m        # default 1m
//   group_eval_order: [g1, g2]     # optional; order of groups at one instant
//   tests:
//     - name: ...                  # optional
//       interval: 1m               # spacing of input samples; default evaluation_interval
//       external_labels: {k: v}    # $externalLabels in templates
//       external_url: http://...   # $externalURL in templates
//       input_series:
//         - series: 'up{job="api"}'
//           values: '1+1x3 _ stale 0x2'
//       alert_rule_test:
//         - eval_time: 5m
//           alertname: InstanceDown
//           exp_alerts: [{exp_labels: {..}, exp_annotations: {..}}]
//       promql_expr_test:
//         - expr: up == 0
//           eval_time: 4m
//           exp_samples: [{labels: 'up{job="api"}', value: 0}]
//
// Series values ("expanding notation", as Prometheus's series
// descriptions), one item per whitespace-separated word, the i-th value at
// time i * interval:
//   a          one value: a number (`1`, `-2.5`, `1e3`, `Inf`, `-Inf`, `NaN`)
//   axn        a, n+1 times
//   a+bxn      a, a+b, a+2b ... a+nb (n+1 values; each one the previous plus
//   a-bxn      b, as Prometheus adds); a-bxn likewise downwards
//   _          no sample at this step;  _xn  no sample for n steps
//   stale      a stale marker (Prometheus's StaleNaN)
// n is a non-negative decimal integer.
//
// Guarantees: parsing is a pure function of the text, with no I/O (only
// load_test_file reads the file). Everything is checked, promtool's strict
// unmarshalling included: unknown fields, wrong types, bad durations, bad
// notation, bad label sets, a missing alertname, a group named twice in
// group_eval_order. Every problem of a file is reported, each naming the
// file, line and column, the test index and the field:
//
//   t.yml:9:19: tests[0].input_series[1].values: char 5: expected a
//   repetition count after 'x', got "-3"
//
// Expansion is bounded (kMaxSamplesPerSeries), so `1x99999999999` is an
// error, not an out-of-memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"

namespace strata::alerting::ruletest {

inline constexpr std::size_t kMaxSamplesPerSeries = 10'000'000;

// A notation error; what() starts with "char N: " (1-based, in the text).
class NotationError : public std::invalid_argument {
 public:
  NotationError(std::size_t position, const std::string& message);
  std::size_t position() const { return position_; }

 private:
  std::size_t position_;
};

// Expands a `values` string: one entry per step, nullopt for `_` (no
// sample), StaleNaN for `stale`. Throws NotationError.
std::vector<std::optional<double>> expand_series_values(
    std::string_view text, std::size_t max_values = kMaxSamplesPerSeries);

// Parses a label set in series notation: `name{a="b", c="d"}`, `name`,
// `{__name__="name", a="b"}`; only `=` (a series, not a selector), no name
// twice. Empty values are dropped (absent == ""). `allow_empty`: "" and
// `{}` give the empty set (an expected scalar sample). Throws NotationError.
Labels parse_series_labels(std::string_view text, bool allow_empty = false);

struct InputSeries {
  Labels labels;
  std::vector<std::optional<double>> values;
};

struct ExpectedAlert {
  std::map<std::string, std::string> labels;  // without alertname
  std::map<std::string, std::string> annotations;
};

struct AlertTest {
  std::chrono::milliseconds eval_time{0};
  std::string alertname;
  std::vector<ExpectedAlert> exp_alerts;
};

struct ExpectedSample {
  Labels labels;
  double value = 0;
};

struct ExprTest {
  std::string expr;
  std::chrono::milliseconds eval_time{0};
  std::vector<ExpectedSample> exp_samples;
};

struct TestGroup {
  std::string name;                       // optional
  std::chrono::milliseconds interval{0};  // resolved: never 0
  std::vector<InputSeries> input_series;
  std::vector<AlertTest> alert_tests;
  std::vector<ExprTest> expr_tests;
  std::map<std::string, std::string> external_labels;
  std::string external_url;

  // The largest eval_time of the group's tests (0 without tests).
  std::chrono::milliseconds max_eval_time() const;
};

struct TestFile {
  std::string path;
  std::vector<std::string> rule_files;  // as written (see resolve_rule_files)
  std::chrono::milliseconds evaluation_interval{60'000};
  std::vector<std::string> group_eval_order;
  std::vector<TestGroup> tests;
};

// Every problem found in one file, one message per line.
class TestFileError : public std::runtime_error {
 public:
  explicit TestFileError(std::vector<std::string> messages);
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
};

// Parses and validates one file's text; `path` names it in errors. Throws
// TestFileError listing every problem.
TestFile parse_test_file(const std::string& text, const std::string& path);
// Reads the file (errors name it) and parses it.
TestFile load_test_file(const std::string& path);

// rule_files as promtool resolves them: relative to the test file's
// directory, globs expanded (sorted). `warnings` gets one line per pattern
// that matched nothing (not an error, as in promtool).
std::vector<std::string> resolve_rule_files(const TestFile& file,
                                            std::vector<std::string>* warnings = nullptr);

// A duration as Prometheus prints one (model.Duration): "1h30m", "10m",
// "90s", "500ms", "0s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace strata::alerting::ruletest

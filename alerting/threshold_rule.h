// ThresholdRule: one alerting rule of the form `<selector> <op> <threshold>`
// held for a `for` duration, and the per-series state machine that drives it
// (inactive -> pending -> firing -> resolved), as Prometheus evaluates
// alerting rules. Pure logic: no I/O, so it is tested without any server.
//
// Not thread-safe: one evaluator thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/labels.h"

namespace strata::alerting {

enum class Op { kGt, kGe, kLt, kLe, kEq, kNe };
Op parse_op(const std::string& s);  // throws std::invalid_argument
bool compare(double value, Op op, double threshold);

struct RuleSpec {
  std::string name;  // becomes the alertname label
  std::string expr;  // PromQL instant-vector selector sent to the query API
  Op op = Op::kGt;
  double threshold = 0;
  std::chrono::milliseconds hold{0};  // the rule's `for`
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct QueriedSample {
  Labels labels;
  double value = 0;
};

enum class AlertState { kPending, kFiring };

struct Alert {
  Labels labels;  // series labels + rule labels + alertname
  AlertState state = AlertState::kPending;
  double value = 0;
  std::int64_t active_since_ms = 0;  // when the condition first held
  std::int64_t fired_at_ms = 0;      // when it started firing (0 while pending)
  std::int64_t resolved_at_ms = 0;   // set on the resolving evaluation
};

struct Transitions {
  std::vector<Alert> fired;     // pending -> firing this round
  std::vector<Alert> resolved;  // firing -> inactive this round
};

class ThresholdRule {
 public:
  explicit ThresholdRule(RuleSpec spec);
  const RuleSpec& spec() const { return spec_; }

  // Applies one evaluation's query result at time `now_ms`.
  Transitions evaluate(const std::vector<QueriedSample>& result, std::int64_t now_ms);
  std::vector<Alert> active() const;

 private:
  Labels alert_labels(const Labels& series) const;
  RuleSpec spec_;
  std::map<std::uint64_t, Alert> active_;  // by alert-label fingerprint
};

}  // namespace strata::alerting

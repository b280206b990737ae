#include "alerting/threshold_rule.h"

#include <cmath>
#include <set>
#include <stdexcept>

namespace strata::alerting {

Op parse_op(const std::string& s) {
  if (s == ">") return Op::kGt;
  if (s == ">=") return Op::kGe;
  if (s == "<") return Op::kLt;
  if (s == "<=") return Op::kLe;
  if (s == "==") return Op::kEq;
  if (s == "!=") return Op::kNe;
  throw std::invalid_argument("comparison operator: expected one of > >= < <= == !=, got '" + s +
                              "'");
}

bool compare(double v, Op op, double t) {
  // NaN never satisfies a threshold, as in PromQL comparisons.
  if (std::isnan(v)) return false;
  switch (op) {
    case Op::kGt:
      return v > t;
    case Op::kGe:
      return v >= t;
    case Op::kLt:
      return v < t;
    case Op::kLe:
      return v <= t;
    case Op::kEq:
      return v == t;
    case Op::kNe:
      return v != t;
  }
  return false;
}

ThresholdRule::ThresholdRule(RuleSpec spec) : spec_(std::move(spec)) {}

Labels ThresholdRule::alert_labels(const Labels& series) const {
  Labels out;
  for (const auto& [n, v] : series.items())
    if (n != "__name__") out.set(n, v);
  for (const auto& [n, v] : spec_.labels) out.set(n, v);
  out.set("alertname", spec_.name);
  return out;
}

Transitions ThresholdRule::evaluate(const std::vector<QueriedSample>& result, std::int64_t now_ms) {
  Transitions t;
  std::set<std::uint64_t> seen;
  for (const auto& s : result) {
    if (!compare(s.value, spec_.op, spec_.threshold)) continue;
    Labels labels = alert_labels(s.labels);
    auto fp = labels.fingerprint();
    seen.insert(fp);
    auto [it, inserted] = active_.try_emplace(fp);
    Alert& a = it->second;
    if (inserted) {
      a.labels = std::move(labels);
      a.active_since_ms = now_ms;
    }
    a.value = s.value;
    if (a.state == AlertState::kPending && now_ms - a.active_since_ms >= spec_.hold.count()) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = now_ms;
      t.fired.push_back(a);
    }
  }
  for (auto it = active_.begin(); it != active_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    // A pending alert that stops matching just disappears; only a firing one resolves.
    if (it->second.state == AlertState::kFiring) {
      it->second.resolved_at_ms = now_ms;
      t.resolved.push_back(it->second);
    }
    it = active_.erase(it);
  }
  return t;
}

std::vector<Alert> ThresholdRule::active() const {
  std::vector<Alert> out;
  for (const auto& [fp, a] : active_) out.push_back(a);
  return out;
}

}  // namespace strata::alerting

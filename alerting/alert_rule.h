// AlertRule: the state machine of one alerting rule, as Prometheus runs it.
//
// Every sample the rule's expression returns at an evaluation is an active
// alert, identified by its labels (the sample's labels without __name__,
// plus the rule's templated labels, plus alertname):
//
//   inactive --condition holds--> pending --held for `for`--> firing
//   pending  --condition gone--> (forgotten: pending alerts never notify)
//   firing   --condition gone for `keep_firing_for`--> resolved (notified once,
//             then forgotten)
//
// A failed evaluation (query error, timeout) is not an empty result: the
// caller reports the error and does not call evaluate(), so nothing
// resolves on missing data. Which alerts need a notification is decided
// here too (needs_sending): a firing alert when it fired or every
// `resend_delay` after, a resolved alert once.
//
// Alerts carry ActiveAt, FiredAt, LastSentAt...: restore() puts saved alerts
// back after a restart, so a pending timer continues from its ActiveAt and
// a firing alert is not re-sent before its resend_delay.
//
// Pure logic, no I/O or clock of its own (every call takes the evaluation
// time), so tests drive it on a fake timeline. Not thread-safe: the group's
// evaluator owns it; readers take a copy (alerts()) under the group's lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "alerting/rule_file.h"
#include "common/labels.h"

namespace strata::alerting {

enum class AlertState { kInactive, kPending, kFiring };
const char* state_name(AlertState s);  // "inactive", "pending", "firing"

struct Alert {
  Labels labels;
  std::map<std::string, std::string> annotations;
  AlertState state = AlertState::kPending;
  double value = 0;
  std::int64_t active_at_ms = 0;          // when the condition first held
  std::int64_t fired_at_ms = 0;           // when it started firing; 0 before
  std::int64_t resolved_at_ms = 0;        // when it resolved; 0 while active
  std::int64_t last_sent_at_ms = 0;       // last notification handed to the notifier
  std::int64_t keep_firing_since_ms = 0;  // condition gone while firing; 0 while it holds
};

struct Sample {
  Labels labels;
  double value = 0;
};

struct ExternalContext {
  std::map<std::string, std::string> external_labels;
  std::string external_url;
};

class AlertRule {
 public:
  AlertRule(RuleDef def, int limit, const ExternalContext* external);
  const RuleDef& def() const { return def_; }

  // Applies one successful evaluation's result at `ts_ms`. Throws
  // std::runtime_error (and keeps the previous alerts) when the result is
  // invalid: two samples with the same labels after templating, or more
  // alerts than the group's limit (then, as Prometheus does, every alert of
  // the rule is dropped).
  void evaluate(const std::vector<Sample>& result, std::int64_t ts_ms);

  // Alerts due a notification at `ts_ms`; marks them sent (LastSentAt) and
  // forgets the resolved ones it returns.
  std::vector<Alert> take_notifications(std::int64_t ts_ms, std::chrono::milliseconds resend_delay);

  std::vector<Alert> alerts() const;  // pending, firing and not-yet-notified resolved
  // Puts saved alerts back (after a restart). Inactive ones are ignored.
  void restore(std::vector<Alert> alerts);
  // The rule's overall state: firing if any alert fires, else pending if
  // any is pending, else inactive.
  AlertState state() const;

 private:
  RuleDef def_;
  int limit_;
  const ExternalContext* external_;
  std::map<std::uint64_t, Alert> alerts_;  // by label fingerprint
};

}  // namespace strata::alerting

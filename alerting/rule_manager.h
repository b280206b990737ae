// RuleManager: runs the rule groups. Each group is evaluated at its
// interval, at one timestamp for all its rules (so `a > b` across rules of a
// group sees one instant), rules in file order, each rule's query through
// the store's HTTP API (QueryBackend).
//
// Scheduling: a group's evaluation timestamps are the instants
// k * interval + offset, where offset is a hash of the group's file and name
// (spread like Prometheus's, stable across restarts). A group that falls
// behind skips to the latest due slot and counts the missed ones
// (strata_alerting_group_iterations_missed_total).
//
// Per rule, per round:
//  - alerting rule: the result drives AlertRule's state machine; alerts due
//    a notification go to the NotifySink (never blocks: see notifier.h).
//  - recording rule: each sample becomes a series named after the rule (its
//    labels + the rule's labels) at the group's timestamp; the group's
//    results are pushed in one batch through the collector (Pusher); a
//    series the rule produced last round and no longer does gets a stale
//    marker (Prometheus's StaleNaN), as Prometheus writes one. With
//    ManagerOptions::push_each_rule, each rule's results (and ALERTS
//    series) are pushed as soon as the rule is evaluated instead, so a
//    later rule of the group sees them at the same timestamp when the
//    Pusher writes straight into the store, as Prometheus commits per rule
//    (the rule unit tests, rule_test_runner.h).
//  - every pending or firing alert is also written as Prometheus's series
//    ALERTS{alertname, alertstate, <labels>} 1 and
//    ALERTS_FOR_STATE{alertname, <labels>} <active since, unix s>, pushed
//    with the group's results (when a Pusher is set); a series that ends
//    gets a stale marker.
//  - a failed or slow query (QueryBackend throws) marks the rule unhealthy
//    with lastError and changes no alert: a firing alert stays firing.
// After each round the alerts of every rule are saved (StateFile) when a
// data dir is configured, and restored at construction.
//
// Time comes from an injectable Clock. start() runs one thread per group on
// the real clock; without start(), a test drives evaluation with run_due()
// after moving a FakeClock, on its own thread, deterministically.
//
// Thread-safety: snapshot() may be called from any thread (the HTTP API)
// while groups evaluate; each group's state is guarded by its own mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alerting/alert_payload.h"
#include "alerting/alert_rule.h"
#include "alerting/clock.h"
#include "alerting/rule_file.h"
#include "alerting/state_file.h"
#include "common/metrics_registry.h"
#include "common/wire_format.h"

namespace strata::alerting {

// Runs one instant query; throws std::runtime_error on any failure. One per
// group thread (implementations need not be thread-safe).
class QueryBackend {
 public:
  virtual ~QueryBackend() = default;
  virtual std::vector<Sample> query(RuleSource source, const std::string& expr,
                                    std::int64_t ts_ms) = 0;
};
using QueryBackendFactory = std::function<std::unique_ptr<QueryBackend>()>;
// Writes recording-rule results; throws on failure. Called from group threads.
using Pusher = std::function<void(const wire::MetricsBatch&)>;
using NotifySink = std::function<void(const Notification&)>;

struct ManagerOptions {
  std::chrono::milliseconds default_interval{15'000};
  std::chrono::milliseconds resend_delay{60'000};
  std::string data_dir;  // empty: alerts are not persisted
  ExternalContext external;
  // Push after every rule rather than once per group round (see above).
  bool push_each_rule = false;
  // A reload hands the previous manager's alerts over (alerts_by_rule()),
  // so pending timers and firing alerts carry on without the state file;
  // rules still present (same file, group, name and expression) get theirs.
  std::shared_ptr<const SavedAlerts> inherited_alerts;
};

struct RuleSnapshot {
  const RuleDef* def = nullptr;
  std::string health = "unknown";  // "ok", "err", "unknown" (not yet evaluated)
  std::string last_error;
  std::int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  AlertState state = AlertState::kInactive;
  std::vector<Alert> alerts;
};

struct GroupSnapshot {
  const RuleGroup* def = nullptr;
  std::chrono::milliseconds interval{0};
  std::int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  std::vector<RuleSnapshot> rules;
};

class RuleManager {
 public:
  RuleManager(std::vector<RuleGroup> groups, ManagerOptions options, const Clock& clock,
              QueryBackendFactory queries, Pusher push, NotifySink notify,
              metrics::Registry& registry);
  ~RuleManager();  // stop()
  RuleManager(const RuleManager&) = delete;
  RuleManager& operator=(const RuleManager&) = delete;

  // start() after stop() resumes evaluation.
  void start();
  void stop();
  // Evaluates, on the calling thread, every group due at clock.now_ms().
  // Returns how many groups were evaluated. Not to be mixed with start().
  int run_due();
  // Evaluates one group at `ts_ms` now, whatever its schedule.
  void evaluate_group(std::size_t group, std::int64_t ts_ms);

  std::size_t group_count() const;
  std::int64_t next_evaluation_ms(std::size_t group) const;
  std::vector<GroupSnapshot> snapshot() const;
  // Every alerting rule's alerts, by rule identity (what the state file
  // holds): what a reload hands to the next manager.
  SavedAlerts alerts_by_rule() const;

 private:
  struct RuleRun;
  struct GroupRun;
  void evaluate(GroupRun& g, QueryBackend& backend, std::int64_t ts_ms);
  bool due(GroupRun& g, std::int64_t now_ms, std::int64_t& ts_ms);
  void loop(GroupRun& g);
  void save_state();
  // Pushes (then clears) the recording-rule results and ALERTS series
  // gathered so far in a round; a failed push marks `recording_rules`
  // unhealthy.
  void write_results(GroupRun& g, wire::MetricsBatch& recorded,
                     std::vector<std::size_t>& recording_rules, wire::MetricsBatch& alert_series);
  // The rule's ALERTS{alertstate} = 1 and ALERTS_FOR_STATE = active-since
  // (unix seconds) series at `ts_ms`, and stale markers for the ones gone.
  void append_alert_series(RuleRun& run, std::int64_t ts_ms, wire::MetricsBatch& out);

  ManagerOptions options_;
  const Clock& clock_;
  QueryBackendFactory queries_;
  Pusher push_;
  NotifySink notify_;
  std::vector<std::unique_ptr<GroupRun>> groups_;
  std::unique_ptr<QueryBackend> inline_backend_;  // for run_due()
  struct Persistence;
  std::unique_ptr<Persistence> persistence_;
  metrics::Counter& evaluations_;
  metrics::Counter& failures_;
  metrics::Counter& missed_;
  metrics::Counter& recorded_samples_;
  metrics::Registry& registry_;
  std::atomic<bool> stopping_{false};  // stop() cuts a running round short
};

}  // namespace strata::alerting

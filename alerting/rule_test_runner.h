// Rule unit tests: `strata-alerting test FILE...`, promtool's `test rules`
// run through Strata's own evaluator and store (the file format is
// rule_test_file.h).
//
// Alerting links no storage or query engine, so each test group gets a
// real store: a child `strata-tsdb` on a temp data directory and a free
// loopback port (tsdb.listen=127.0.0.1:0, the port read from its log),
// with its remote-write receiver on and no Kafka. Then, as promtool does:
//  1. the expanded input series are remote-written into it (sample i of a
//     series at i * interval from time 0; `_` writes nothing, `stale` a
//     StaleNaN);
//  2. the rule groups are stepped from time 0 to the group's largest
//     eval_time, every evaluation_interval, on a FakeClock, through the
//     service's own RuleManager / AlertRule / templates, queries going to
//     the child's /api/v1/query; at each step every group is evaluated, in
//     group_eval_order (listed groups in that order; others keep file order
//     and rank with the first listed, as promtool ranks them 0). Recording
//     rule results and ALERTS / ALERTS_FOR_STATE are remote-written back
//     after each rule, so later rules and promql_expr_test see them;
//  3. alert_rule_test: after the step at t <= eval_time < t + interval,
//     the FIRING alerts of the rules named alertname (labels with
//     alertname, and annotations) must equal exp_alerts, in any order;
//  4. promql_expr_test: after the last step, the instant query at
//     eval_time must return exp_samples, in any order: labels exactly,
//     values within 1e-9 relative (NaN equals NaN).
// A rule that fails to evaluate ends its test group with the error, as in
// promtool. Groups with `source: logs` are skipped (with a warning): no
// log store is started.
//
// Output, as promtool's: per file "Unit Testing: FILE", then "  SUCCESS" or
// "  FAILED:" and every failure (expected vs got). Exit status: 0 all
// passed, 1 a test failed, 2 a file could not be used (unreadable or
// invalid test or rule file) or the store could not be run (binary missing,
// did not start) -- 2 wins over 1.
//
// Guarantees: every child tsdb is stopped (SIGTERM, then SIGKILL after 10 s;
// it also gets SIGTERM if this process dies) and its directory removed,
// whatever happens. Nothing listens beyond loopback. Not thread-safe; one
// run at a time per process.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

namespace strata::alerting::ruletest {

struct RunOptions {
  // The strata-tsdb to start; empty: the one next to this executable, else
  // the first on $PATH.
  std::string tsdb_binary;
  // How long a child tsdb may take to answer /readyz.
  std::chrono::milliseconds tsdb_start_timeout{60'000};
};

// The strata-tsdb binary `options` designates. Throws std::runtime_error
// naming the places looked at.
std::string find_tsdb_binary(const RunOptions& options);

// Runs every file's tests; writes the report to `out` (and, as promtool,
// the failures to `err`). Returns the exit status (0, 1, 2).
int run_test_files(const std::vector<std::string>& files, const RunOptions& options,
                   std::ostream& out, std::ostream& err);

}  // namespace strata::alerting::ruletest

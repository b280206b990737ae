// Timeline tests: the rule manager driven on a fake clock, with a fake query
// backend whose answer the test sets, and notifications captured in memory.
#include <catch2/catch.hpp>

#include <functional>
#include <optional>

#include <fmt/format.h>

#include "alerting/rule_manager.h"
#include "alerting/state_file.h"
#include "tests/support/process.h"

using namespace strata;
using namespace strata::alerting;
using namespace std::chrono_literals;

namespace {

// The value the "store" returns for every query; nullopt = query fails.
struct FakeStore {
  std::optional<double> value;  // returned as one series {instance="a"} when set
  bool empty = false;           // an empty vector (the condition does not hold)
  int queries = 0;
  std::int64_t last_ts = 0;
};

class FakeBackend final : public QueryBackend {
 public:
  explicit FakeBackend(FakeStore& s) : s_(s) {}
  std::vector<Sample> query(RuleSource, const std::string&, std::int64_t ts) override {
    ++s_.queries;
    s_.last_ts = ts;
    if (!s_.value && !s_.empty) throw std::runtime_error("query http://store: timed out");
    if (s_.empty) return {};
    return {Sample{Labels{{"__name__", "errors"}, {"instance", "a"}}, *s_.value}};
  }

 private:
  FakeStore& s_;
};

RuleGroup group(std::chrono::milliseconds for_d, std::chrono::milliseconds keep = 0ms) {
  std::string yaml = fmt::format(R"(groups:
- name: g
  interval: 10s
  rules:
  - alert: HighErrors
    expr: errors > 5
    for: {}ms
    keep_firing_for: {}ms
    labels: {{severity: page, instance_copy: "{{{{ $labels.instance }}}}"}}
    annotations: {{summary: "{{{{ $labels.instance }}}} has {{{{ $value }}}} errors"}}
)",
                                 for_d.count(), keep.count());
  return parse_rule_file(yaml, "t.yml").at(0);
}

struct Harness {
  FakeStore store;
  FakeClock clock{1'000'000'000'000};  // a round number of ms
  metrics::Registry registry;
  std::vector<Notification> sent;
  std::unique_ptr<RuleManager> manager;

  explicit Harness(RuleGroup g, std::string data_dir = "", std::chrono::milliseconds resend = 1h) {
    ManagerOptions o;
    o.default_interval = 10s;
    o.resend_delay = resend;
    o.data_dir = std::move(data_dir);
    manager = std::make_unique<RuleManager>(
        std::vector<RuleGroup>{std::move(g)}, o, clock,
        [this] { return std::make_unique<FakeBackend>(store); }, nullptr,
        [this](const Notification& n) { sent.push_back(n); }, registry);
  }
  // Advances the clock second by second for `d`, running due groups.
  void run_for(std::chrono::milliseconds d) {
    for (auto end = clock.now_ms() + d.count(); clock.now_ms() < end;) {
      clock.advance(1s);
      manager->run_due();
    }
  }
  std::vector<Alert> alerts() { return manager->snapshot().at(0).rules.at(0).alerts; }
  RuleSnapshot rule() { return manager->snapshot().at(0).rules.at(0); }
};

}  // namespace

TEST_CASE("one timestamp per group, at its interval, on a stable schedule", "[alerting]") {
  Harness h(group(0ms));
  h.store.empty = true;
  h.run_for(60s);
  CHECK(h.store.queries == 6);
  CHECK(h.store.last_ts % 10'000 == h.manager->next_evaluation_ms(0) % 10'000);
  CHECK(h.manager->next_evaluation_ms(0) - h.store.last_ts == 10'000);
}

TEST_CASE("a series crossing the threshold fires exactly after `for`", "[alerting]") {
  Harness h(group(60s));
  h.store.empty = true;
  h.run_for(15s);
  h.store.empty = false;
  h.store.value = 10;
  // The first evaluation that sees it makes it pending.
  std::int64_t first_seen = 0;
  while (h.alerts().empty()) {
    h.run_for(1s);
  }
  first_seen = h.alerts()[0].active_at_ms;
  CHECK(h.alerts()[0].state == AlertState::kPending);
  CHECK(h.rule().state == AlertState::kPending);
  // Still pending 1 s before `for` has passed ...
  h.clock.set(first_seen + 59'000);
  h.manager->run_due();
  CHECK(h.sent.empty());
  CHECK(h.alerts()[0].state == AlertState::kPending);
  // ... and firing at the first evaluation at or after active_at + for.
  h.clock.set(first_seen + 60'000);
  h.manager->run_due();
  REQUIRE(h.sent.size() == 1);
  const Alert& a = h.sent[0].alerts.at(0);
  CHECK(a.state == AlertState::kFiring);
  CHECK(a.fired_at_ms == first_seen + 60'000);
  CHECK(a.labels.get("alertname") == "HighErrors");
  CHECK(a.labels.get("severity") == "page");
  CHECK(a.labels.get("instance_copy") == "a");
  CHECK(a.labels.get("__name__").empty());
  CHECK(a.annotations.at("summary") == "a has 10 errors");
  // No second notification while it keeps firing (resend_delay is 1h here).
  h.run_for(5min);
  CHECK(h.sent.size() == 1);
}

TEST_CASE("a flapping series never pages", "[alerting]") {
  Harness h(group(30s));
  for (int i = 0; i < 20; ++i) {
    h.store.empty = false;
    h.store.value = 10;
    h.run_for(20s);  // holds for 20 s < for
    h.store.empty = true;
    h.run_for(10s);
  }
  CHECK(h.sent.empty());
}

TEST_CASE("keep_firing_for holds a firing alert, then one resolved notification", "[alerting]") {
  Harness h(group(0ms, 2min));
  h.store.value = 10;
  h.run_for(10s);
  REQUIRE(h.sent.size() == 1);
  h.store.value.reset();
  h.store.empty = true;
  h.run_for(110s);  // condition gone, but kept firing for 2 minutes
  CHECK(h.sent.size() == 1);
  REQUIRE(h.alerts().size() == 1);
  CHECK(h.alerts()[0].state == AlertState::kFiring);
  CHECK(h.alerts()[0].keep_firing_since_ms > 0);
  h.run_for(20s);
  REQUIRE(h.sent.size() == 2);
  CHECK(h.sent[1].alerts.at(0).state == AlertState::kInactive);
  CHECK(h.sent[1].alerts.at(0).resolved_at_ms > 0);
  h.run_for(5min);
  CHECK(h.sent.size() == 2);  // exactly one resolved notification
  CHECK(h.alerts().empty());
}

TEST_CASE("the condition returning within keep_firing_for keeps the alert without a new page",
          "[alerting]") {
  Harness h(group(0ms, 2min));
  h.store.value = 10;
  h.run_for(10s);
  h.store.empty = true;
  h.run_for(60s);
  h.store.empty = false;
  h.run_for(60s);
  CHECK(h.sent.size() == 1);
  REQUIRE(h.alerts().size() == 1);
  CHECK(h.alerts()[0].keep_firing_since_ms == 0);
}

TEST_CASE("a failing query marks the rule unhealthy and never resolves a firing alert",
          "[alerting]") {
  Harness h(group(0ms));
  h.store.value = 10;
  h.run_for(10s);
  REQUIRE(h.sent.size() == 1);
  h.store.value.reset();  // the store times out
  h.run_for(5min);
  CHECK(h.sent.size() == 1);
  CHECK(h.rule().health == "err");
  CHECK(h.rule().last_error.find("timed out") != std::string::npos);
  REQUIRE(h.alerts().size() == 1);
  CHECK(h.alerts()[0].state == AlertState::kFiring);
  h.store.value = 10;  // back: still the same alert, no re-page
  h.run_for(20s);
  CHECK(h.rule().health == "ok");
  CHECK(h.rule().last_error.empty());
  CHECK(h.sent.size() == 1);
}

TEST_CASE("firing alerts are re-sent every resend_delay", "[alerting]") {
  Harness h(group(0ms), "", 1min);
  h.store.value = 10;
  h.run_for(10s);
  REQUIRE(h.sent.size() == 1);
  h.run_for(5min);
  CHECK(h.sent.size() == 6);
  CHECK(h.sent.back().valid_until_ms > h.clock.now_ms());
}

TEST_CASE("alert state survives a restart: the pending timer continues, no re-page", "[alerting]") {
  std::string dir = strata::testing::temp_dir("strata-alert-state");
  std::int64_t active_at = 0;
  std::int64_t t0 = 0;
  {
    Harness h(group(60s), dir);
    h.store.value = 10;
    h.run_for(30s);
    REQUIRE(h.alerts().size() == 1);
    active_at = h.alerts()[0].active_at_ms;
    t0 = h.clock.now_ms();
  }
  {
    Harness h(group(60s), dir);
    h.clock.set(t0);
    REQUIRE(h.alerts().size() == 1);
    CHECK(h.alerts()[0].state == AlertState::kPending);
    CHECK(h.alerts()[0].active_at_ms == active_at);
    h.store.value = 10;
    h.clock.set(active_at + 59'000);
    h.manager->run_due();
    CHECK(h.sent.empty());
    h.run_for(20s);
    REQUIRE(h.sent.size() == 1);  // fired after `for` counted from the first ActiveAt
    CHECK(h.sent[0].alerts[0].fired_at_ms - active_at < 70'000);
    t0 = h.clock.now_ms();
  }
  {
    Harness h(group(60s), dir);
    h.clock.set(t0);
    h.store.value = 10;
    h.run_for(2min);
    CHECK(h.sent.empty());  // already notified before the restart
    REQUIRE(h.alerts().size() == 1);
    CHECK(h.alerts()[0].state == AlertState::kFiring);
  }
}

TEST_CASE("the state file round-trips and rejects other versions", "[alerting]") {
  SavedAlerts s;
  Alert a;
  a.labels = Labels{{"alertname", "X"}, {"instance", "a\"b"}};
  a.annotations = {{"summary", "line1\nline2"}};
  a.state = AlertState::kFiring;
  a.value = 0.25;
  a.active_at_ms = 1;
  a.fired_at_ms = 2;
  a.last_sent_at_ms = 3;
  a.keep_firing_since_ms = 4;
  s[RuleKey{"f.yml", "g", "X", "up == 0"}] = {a};
  auto back = decode_state(encode_state(s, 99));
  REQUIRE(back.size() == 1);
  const Alert& b = back.begin()->second.at(0);
  CHECK(b.labels == a.labels);
  CHECK(b.annotations == a.annotations);
  CHECK(b.state == AlertState::kFiring);
  CHECK(b.value == 0.25);
  CHECK(b.active_at_ms == 1);
  CHECK(b.fired_at_ms == 2);
  CHECK(b.last_sent_at_ms == 3);
  CHECK(b.keep_firing_since_ms == 4);
  CHECK_THROWS_WITH(decode_state("{\"version\":2,\"rules\":[]}"),
                    Catch::Contains("version 2 is not supported"));
  CHECK_THROWS_WITH(decode_state("{\"version\":1,\"rules\":[{\"file\":\"f\"}]}"),
                    Catch::Contains("rules[0]: missing string 'group'"));
}

TEST_CASE("a result over the group's limit, or with duplicate labels, fails the rule",
          "[alerting]") {
  auto groups = parse_rule_file(R"(groups:
- name: g
  interval: 10s
  limit: 1
  rules:
  - alert: TooMany
    expr: errors > 5
- name: h
  interval: 10s
  rules:
  - alert: Collide
    expr: errors > 5
    labels: {instance: same}
)",
                                "t.yml");
  class TwoSeries final : public QueryBackend {
   public:
    std::vector<Sample> query(RuleSource, const std::string&, std::int64_t) override {
      return {Sample{Labels{{"instance", "a"}}, 10}, Sample{Labels{{"instance", "b"}}, 10}};
    }
  };
  FakeClock clock(1'000'000'000'000);
  metrics::Registry registry;
  std::vector<Notification> sent;
  ManagerOptions o;
  RuleManager m(
      groups, o, clock, [] { return std::make_unique<TwoSeries>(); }, nullptr,
      [&](const Notification& n) { sent.push_back(n); }, registry);
  m.evaluate_group(0, clock.now_ms());
  m.evaluate_group(1, clock.now_ms());
  auto snap = m.snapshot();
  CHECK(snap[0].rules[0].health == "err");
  CHECK(snap[0].rules[0].last_error == "exceeded limit of 1 with 2 alerts");
  CHECK(snap[0].rules[0].alerts.empty());
  CHECK(snap[1].rules[0].health == "err");
  CHECK(snap[1].rules[0].last_error.find("same labelset") != std::string::npos);
  CHECK(sent.empty());
}

TEST_CASE("ALERTS and ALERTS_FOR_STATE series follow the alert, then go stale",
          "[alerting][timeline]") {
  auto groups = parse_rule_file(R"(groups:
- name: g
  interval: 10s
  rules:
  - alert: High
    expr: load > 5
    for: 20s
    labels: {severity: page}
)",
                                "t.yml");
  struct Switch final : public QueryBackend {
    bool* on;
    explicit Switch(bool* o) : on(o) {}
    std::vector<Sample> query(RuleSource, const std::string&, std::int64_t) override {
      if (!*on) return {};
      return {Sample{Labels{{"__name__", "load"}, {"instance", "a"}}, 7}};
    }
  };
  bool on = true;
  const std::int64_t t0 = 1'000'000'000'000;
  FakeClock clock(t0);
  metrics::Registry registry;
  std::vector<wire::MetricsBatch> pushed;
  RuleManager m(
      groups, ManagerOptions{}, clock, [&] { return std::make_unique<Switch>(&on); },
      [&](const wire::MetricsBatch& b) { pushed.push_back(b); }, nullptr, registry);
  // name -> alertstate -> value of the last round's series
  auto round = [&](std::int64_t ts) {
    pushed.clear();
    m.evaluate_group(0, ts);
    std::map<std::string, double> out;
    for (const auto& b : pushed)
      for (const auto& s : b.series) {
        CHECK(s.labels.get("alertname") == "High");
        CHECK(s.labels.get("severity") == "page");
        CHECK(s.labels.get("instance") == "a");
        out[std::string(s.labels.get("__name__")) + "/" + std::string(s.labels.get("alertstate"))] =
            s.samples.at(0).value;
      }
    return out;
  };
  auto r = round(t0);
  CHECK(r.size() == 2);
  CHECK(r["ALERTS/pending"] == 1);
  CHECK(r["ALERTS_FOR_STATE/"] == t0 / 1000.0);
  r = round(t0 + 20'000);  // fires: the pending series ends
  CHECK(r["ALERTS/firing"] == 1);
  CHECK(wire::is_stale_nan(r["ALERTS/pending"]));
  CHECK(r["ALERTS_FOR_STATE/"] == t0 / 1000.0);
  on = false;
  r = round(t0 + 30'000);  // resolved: everything ends
  CHECK(r.size() == 2);
  CHECK(wire::is_stale_nan(r["ALERTS/firing"]));
  CHECK(wire::is_stale_nan(r["ALERTS_FOR_STATE/"]));
  CHECK(round(t0 + 40'000).empty());
}

TEST_CASE("recording rules: a series that disappears gets one stale marker",
          "[alerting][timeline]") {
  auto groups = parse_rule_file(R"(groups:
- name: g
  interval: 10s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
)",
                                "t.yml");
  // The store answers with the jobs listed in `jobs`; nullopt: the query fails.
  struct Jobs final : public QueryBackend {
    std::optional<std::vector<std::string>>* jobs;
    explicit Jobs(std::optional<std::vector<std::string>>* j) : jobs(j) {}
    std::vector<Sample> query(RuleSource, const std::string&, std::int64_t) override {
      if (!*jobs) throw std::runtime_error("store down");
      std::vector<Sample> out;
      for (const auto& j : **jobs) out.push_back(Sample{Labels{{"job", j}}, 1});
      return out;
    }
  };
  std::optional<std::vector<std::string>> jobs = std::vector<std::string>{"api", "batch"};
  const std::int64_t t0 = 1'000'000'000'000;
  FakeClock clock(t0);
  metrics::Registry registry;
  std::vector<wire::MetricsBatch> pushed;
  RuleManager m(
      groups, ManagerOptions{}, clock, [&] { return std::make_unique<Jobs>(&jobs); },
      [&](const wire::MetricsBatch& b) { pushed.push_back(b); }, nullptr, registry);
  auto round = [&](std::int64_t ts) {
    pushed.clear();
    m.evaluate_group(0, ts);
    std::map<std::string, double> got;
    for (const auto& b : pushed)
      for (const auto& s : b.series) {
        CHECK(s.labels.get("__name__") == "job:up:sum");
        CHECK(s.samples.at(0).timestamp_ms == ts);
        got[std::string(s.labels.get("job"))] = s.samples.at(0).value;
      }
    return got;
  };
  CHECK(round(t0).size() == 2);
  jobs = std::vector<std::string>{"api"};
  auto r = round(t0 + 10'000);
  CHECK(r.size() == 2);
  CHECK(r["api"] == 1);
  CHECK(wire::is_stale_nan(r["batch"]));
  CHECK(round(t0 + 20'000).size() == 1);  // the marker is written once
  // A failed query is not an empty result: nothing ends.
  jobs = std::nullopt;
  CHECK(round(t0 + 30'000).empty());
  jobs = std::vector<std::string>{};
  r = round(t0 + 40'000);
  CHECK(r.size() == 1);
  CHECK(wire::is_stale_nan(r["api"]));
}

TEST_CASE("push_each_rule: a later rule of the group sees a recording at the same timestamp",
          "[alerting][timeline]") {
  auto groups = parse_rule_file(R"(groups:
- name: g
  interval: 10s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: JobDown
    expr: job:up:sum == 0
)",
                                "t.yml");
  // A store that holds what was pushed: the alert's query sees the recorded
  // value only if it was written at the evaluation timestamp already.
  struct Store {
    std::map<std::int64_t, double> recorded;  // ts -> job:up:sum{job="api"}
  };
  struct Backend final : public QueryBackend {
    Store* store;
    explicit Backend(Store* s) : store(s) {}
    std::vector<Sample> query(RuleSource, const std::string& expr, std::int64_t ts) override {
      if (expr == "sum by (job) (up)") return {Sample{Labels{{"job", "api"}}, 0}};
      auto it = store->recorded.find(ts);
      if (it == store->recorded.end() || it->second != 0) return {};
      return {Sample{Labels{{"__name__", "job:up:sum"}, {"job", "api"}}, 0}};
    }
  };
  for (bool each : {false, true}) {
    Store store;
    const std::int64_t t0 = 1'000'000'000'000;
    FakeClock clock(t0);
    metrics::Registry registry;
    std::size_t pushes = 0;
    ManagerOptions o;
    o.push_each_rule = each;
    RuleManager m(
        groups, o, clock, [&] { return std::make_unique<Backend>(&store); },
        [&](const wire::MetricsBatch& b) {
          ++pushes;
          for (const auto& s : b.series)
            if (s.labels.get("__name__") == "job:up:sum")
              store.recorded[s.samples.at(0).timestamp_ms] = s.samples.at(0).value;
        },
        nullptr, registry);
    m.evaluate_group(0, t0);
    auto snap = m.snapshot();
    INFO("push_each_rule " << each);
    // Per rule: the alert saw the value recorded a moment before; per
    // group round: it is written after the alert was evaluated.
    CHECK(snap[0].rules[1].alerts.size() == (each ? 1u : 0u));
    CHECK(pushes == (each ? 2u : 1u));  // (ALERTS series in a push of their own)
  }
}

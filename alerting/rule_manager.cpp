#include "alerting/rule_manager.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "alerting/state_file.h"
#include "common/http_client.h"

namespace strata::alerting {

struct RuleManager::RuleRun {
  const RuleDef* def = nullptr;
  std::unique_ptr<AlertRule> alert;  // null for a recording rule
  // The ALERTS / ALERTS_FOR_STATE series written last round, so that one
  // that is gone gets a stale marker (by fingerprint).
  std::map<std::uint64_t, Labels> alert_series;
  // Likewise the series a recording rule wrote last round.
  std::map<std::uint64_t, Labels> recorded_series;
  std::string health = "unknown";
  std::string last_error;
  std::int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
};

struct RuleManager::GroupRun {
  RuleGroup def;
  std::chrono::milliseconds interval{0};
  std::int64_t offset_ms = 0;
  std::int64_t next_ms = 0;  // next scheduled evaluation; 0 = not yet scheduled
  mutable std::mutex mu;     // guards rules' state and the figures below
  std::vector<RuleRun> rules;
  std::int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  metrics::Gauge* duration_gauge = nullptr;
  metrics::Gauge* lag_gauge = nullptr;
  // Thread control (start()).
  std::mutex wait_mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread thread;
};

struct RuleManager::Persistence {
  explicit Persistence(const std::string& dir) : file(dir) {}
  StateFile file;
};

namespace {

RuleKey key_of(const RuleGroup& g, const RuleDef& r) {
  return RuleKey{g.file, g.name, r.name(), r.expr};
}

std::string generator_url(const std::string& external_url, const std::string& expr) {
  return fmt::format("{}/graph?g0.expr={}&g0.tab=1", external_url,
                     http::HttpClient::url_encode(expr));
}

}  // namespace

RuleManager::RuleManager(std::vector<RuleGroup> groups, ManagerOptions options, const Clock& clock,
                         QueryBackendFactory queries, Pusher push, NotifySink notify,
                         metrics::Registry& registry)
    : options_(std::move(options)),
      clock_(clock),
      queries_(std::move(queries)),
      push_(std::move(push)),
      notify_(std::move(notify)),
      evaluations_(registry.counter("strata_alerting_rule_evaluations_total",
                                    "Rule evaluations (one per rule per group round).")),
      failures_(registry.counter("strata_alerting_rule_evaluation_failures_total",
                                 "Rule evaluations that failed (query error or timeout, bad "
                                 "result, push failure).")),
      missed_(registry.counter("strata_alerting_group_iterations_missed_total",
                               "Group evaluation slots skipped because a round ran late.")),
      recorded_samples_(registry.counter("strata_alerting_recorded_samples_total",
                                         "Samples written by recording rules.")),
      registry_(registry) {
  SavedAlerts saved;
  if (!options_.data_dir.empty()) persistence_ = std::make_unique<Persistence>(options_.data_dir);
  if (options_.inherited_alerts)
    saved = *options_.inherited_alerts;
  else if (persistence_)
    saved = persistence_->file.load();
  std::size_t restored = 0;
  for (auto& def : groups) {
    auto g = std::make_unique<GroupRun>();
    g->def = std::move(def);
    g->interval = g->def.interval.count() > 0 ? g->def.interval : options_.default_interval;
    Labels id{{"file", g->def.file}, {"name", g->def.name}};
    g->offset_ms = static_cast<std::int64_t>(id.fingerprint() %
                                             static_cast<std::uint64_t>(g->interval.count()));
    Labels gl{{"rule_group", g->def.file + ";" + g->def.name}};
    g->duration_gauge = &registry.gauge("strata_alerting_group_last_duration_seconds",
                                        "Duration of the group's last evaluation round.", gl);
    g->lag_gauge = &registry.gauge(
        "strata_alerting_group_last_lag_seconds",
        "How long after its scheduled timestamp the group's last round finished.", gl);
    for (const auto& r : g->def.rules) {
      RuleRun run;
      run.def = &r;
      if (r.is_alert()) {
        run.alert = std::make_unique<AlertRule>(r, g->def.limit, &options_.external);
        if (auto it = saved.find(key_of(g->def, r)); it != saved.end()) {
          restored += it->second.size();
          run.alert->restore(std::move(it->second));
          saved.erase(it);
        }
      }
      g->rules.push_back(std::move(run));
    }
    groups_.push_back(std::move(g));
  }
  if (restored)
    spdlog::info("alerting: restored {} alert(s) from {}", restored,
                 options_.inherited_alerts ? "the rules before the reload" : "the state file");
}

RuleManager::~RuleManager() { stop(); }

std::size_t RuleManager::group_count() const { return groups_.size(); }

std::int64_t RuleManager::next_evaluation_ms(std::size_t group) const {
  const auto& g = *groups_.at(group);
  std::lock_guard lock(g.mu);
  return g.next_ms;
}

bool RuleManager::due(GroupRun& g, std::int64_t now_ms, std::int64_t& ts_ms) {
  std::int64_t iv = g.interval.count();
  // The latest slot k*iv + offset <= now.
  std::int64_t slot = now_ms - ((now_ms - g.offset_ms) % iv + iv) % iv;
  std::lock_guard lock(g.mu);
  if (g.next_ms == 0) g.next_ms = slot < now_ms ? slot + iv : slot;  // first slot from now on
  if (now_ms < g.next_ms) return false;
  if (slot > g.next_ms) missed_.inc(static_cast<double>((slot - g.next_ms) / iv));
  ts_ms = slot;
  g.next_ms = slot + iv;
  return true;
}

int RuleManager::run_due() {
  if (!inline_backend_) inline_backend_ = queries_();
  int n = 0;
  for (auto& g : groups_) {
    std::int64_t ts = 0;
    if (due(*g, clock_.now_ms(), ts)) {
      evaluate(*g, *inline_backend_, ts);
      ++n;
    }
  }
  return n;
}

void RuleManager::evaluate_group(std::size_t group, std::int64_t ts_ms) {
  if (!inline_backend_) inline_backend_ = queries_();
  evaluate(*groups_.at(group), *inline_backend_, ts_ms);
}

void RuleManager::evaluate(GroupRun& g, QueryBackend& backend, std::int64_t ts_ms) {
  auto group_start = std::chrono::steady_clock::now();
  wire::MetricsBatch recorded;
  wire::MetricsBatch alert_series;           // ALERTS and ALERTS_FOR_STATE
  std::vector<std::size_t> recording_rules;  // indexes whose samples are in `recorded`
  std::vector<Notification> notes;
  auto valid_until = ts_ms + 4 * std::max(options_.resend_delay, g.interval).count();
  for (std::size_t i = 0; i < g.rules.size(); ++i) {
    // A round against a slow store can take long; at shutdown the rest of
    // it is skipped (the next start evaluates again) rather than waited for.
    if (stopping_) break;
    RuleRun& run = g.rules[i];
    const RuleDef& def = *run.def;
    auto start = std::chrono::steady_clock::now();
    std::string error;
    std::vector<Sample> result;
    try {
      if (g.def.source == RuleSource::kLogs) {
        result = backend.query(g.def.source, def.query, ts_ms);
        if (def.threshold)  // NaN fails every comparison, as in PromQL
          std::erase_if(result, [&](const Sample& s) { return !def.threshold->holds(s.value); });
      } else {
        result = backend.query(g.def.source, def.expr, ts_ms);
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    {
      std::lock_guard lock(g.mu);
      if (error.empty() && def.is_alert()) {
        try {
          run.alert->evaluate(result, ts_ms);
        } catch (const std::exception& e) {
          error = e.what();
        }
        if (error.empty()) {
          append_alert_series(run, ts_ms, alert_series);
          Notification n;
          n.group = g.def.name;
          n.rule = def.alert;
          n.alerts = run.alert->take_notifications(ts_ms, options_.resend_delay);
          if (!n.alerts.empty()) {
            n.generator_url = generator_url(options_.external.external_url, def.expr);
            n.valid_until_ms = valid_until;
            notes.push_back(std::move(n));
          }
        }
      } else if (error.empty()) {
        std::map<std::uint64_t, Labels> now;
        std::size_t first = recorded.series.size();
        for (const auto& s : result) {
          Labels l = s.labels;
          for (const auto& [k, v] : def.labels) l.set(k, v);
          l.set("__name__", def.record);
          if (!now.emplace(l.fingerprint(), l).second) {
            error = "vector contains metrics with the same labelset after applying rule labels";
            break;
          }
          recorded.series.push_back(wire::Series{std::move(l), {{ts_ms, s.value}}});
        }
        if (error.empty() && g.def.limit > 0 &&
            result.size() > static_cast<std::size_t>(g.def.limit))
          error = fmt::format("exceeded limit of {} with {} series", g.def.limit, result.size());
        if (!error.empty()) {
          recorded.series.resize(first);
        } else {
          // A series the rule no longer produces ends with a stale marker,
          // as Prometheus writes it.
          for (auto& [fp, labels] : run.recorded_series)
            if (!now.contains(fp))
              recorded.series.push_back(wire::Series{labels, {{ts_ms, wire::stale_nan()}}});
          run.recorded_series = std::move(now);
          recording_rules.push_back(i);
        }
      }
      evaluations_.inc();
      if (!error.empty()) {
        failures_.inc();
        if (run.health != "err" || run.last_error != error)
          spdlog::warn("alerting: group \"{}\", rule \"{}\": {}", g.def.name, def.name(), error);
      }
      run.health = error.empty() ? "ok" : "err";
      run.last_error = error;
      run.last_evaluation_ms = ts_ms;
      run.evaluation_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (options_.push_each_rule) write_results(g, recorded, recording_rules, alert_series);
  }
  write_results(g, recorded, recording_rules, alert_series);
  for (const auto& n : notes) {
    spdlog::info("alerting: group \"{}\", rule \"{}\": notifying {} alert(s)", n.group, n.rule,
                 n.alerts.size());
    if (notify_) notify_(n);
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - group_start).count();
  {
    std::lock_guard lock(g.mu);
    g.last_evaluation_ms = ts_ms;
    g.evaluation_seconds = secs;
  }
  g.duration_gauge->set(secs);
  g.lag_gauge->set(static_cast<double>(clock_.now_ms() - ts_ms) / 1000.0);
  save_state();
}

void RuleManager::write_results(GroupRun& g, wire::MetricsBatch& recorded,
                                std::vector<std::size_t>& recording_rules,
                                wire::MetricsBatch& alert_series) {
  if (!recorded.series.empty()) {
    std::string error;
    if (!push_) {
      error = "recording rules need alerting.push_url (the collector) to write their results";
    } else {
      try {
        push_(recorded);
        recorded_samples_.inc(static_cast<double>(recorded.series.size()));
      } catch (const std::exception& e) {
        error = std::string("writing results: ") + e.what();
      }
    }
    if (!error.empty()) {
      std::lock_guard lock(g.mu);
      for (auto i : recording_rules) {
        if (g.rules[i].health == "ok") failures_.inc();
        g.rules[i].health = "err";
        g.rules[i].last_error = error;
      }
      spdlog::warn("alerting: group \"{}\": {}", g.def.name, error);
    }
  }
  recorded.series.clear();
  recording_rules.clear();
  if (!alert_series.series.empty() && push_) {
    try {
      push_(alert_series);
    } catch (const std::exception& e) {
      // The alerts themselves are unaffected: only their series are missing.
      spdlog::warn("alerting: group \"{}\": writing ALERTS series: {}", g.def.name, e.what());
    }
  }
  alert_series.series.clear();
}

void RuleManager::append_alert_series(RuleRun& run, std::int64_t ts_ms, wire::MetricsBatch& out) {
  std::map<std::uint64_t, Labels> now;
  auto add = [&](Labels labels, double value) {
    const auto fp = labels.fingerprint();
    out.series.push_back(wire::Series{labels, {{ts_ms, value}}});
    now.emplace(fp, std::move(labels));
  };
  for (const auto& a : run.alert->alerts()) {
    if (a.resolved_at_ms != 0 || a.state == AlertState::kInactive) continue;
    Labels l = a.labels;
    l.set("alertname", run.def->alert);
    Labels for_state = l;
    for_state.set("__name__", "ALERTS_FOR_STATE");
    add(std::move(for_state), static_cast<double>(a.active_at_ms) / 1000.0);
    l.set("__name__", "ALERTS");
    l.set("alertstate", state_name(a.state));
    add(std::move(l), 1);
  }
  // Series of alerts that resolved or changed state end with a stale marker,
  // as Prometheus writes them.
  for (auto& [fp, labels] : run.alert_series)
    if (!now.contains(fp)) out.series.push_back(wire::Series{labels, {{ts_ms, wire::stale_nan()}}});
  run.alert_series = std::move(now);
}

SavedAlerts RuleManager::alerts_by_rule() const {
  SavedAlerts state;
  for (const auto& g : groups_) {
    std::lock_guard lock(g->mu);
    for (const auto& r : g->rules)
      if (r.alert) {
        auto alerts = r.alert->alerts();
        if (!alerts.empty()) state[key_of(g->def, *r.def)] = std::move(alerts);
      }
  }
  return state;
}

void RuleManager::save_state() {
  if (!persistence_) return;
  SavedAlerts state = alerts_by_rule();
  try {
    persistence_->file.save(state, clock_.now_ms());
  } catch (const std::exception& e) {
    // Evaluation goes on: losing the ability to save must not stop paging.
    spdlog::error("alerting: saving alert state: {}", e.what());
  }
}

void RuleManager::loop(GroupRun& g) {
  auto backend = queries_();
  std::unique_lock lock(g.wait_mu);
  while (!g.stopping) {
    lock.unlock();
    std::int64_t ts = 0;
    if (due(g, clock_.now_ms(), ts)) evaluate(g, *backend, ts);
    std::int64_t next;
    {
      std::lock_guard glock(g.mu);
      next = g.next_ms;
    }
    lock.lock();
    auto delay = std::chrono::milliseconds(std::max<std::int64_t>(next - clock_.now_ms(), 1));
    g.cv.wait_for(lock, delay, [&] { return g.stopping; });
  }
}

void RuleManager::start() {
  stopping_ = false;  // start() after stop() resumes (a failed reload)
  for (auto& g : groups_) {
    {
      std::lock_guard lock(g->wait_mu);
      g->stopping = false;
    }
    GroupRun* gp = g.get();
    g->thread = std::thread([this, gp] { loop(*gp); });
  }
}

void RuleManager::stop() {
  stopping_ = true;
  for (auto& g : groups_) {
    std::lock_guard lock(g->wait_mu);
    g->stopping = true;
    g->cv.notify_all();
  }
  for (auto& g : groups_)
    if (g->thread.joinable()) g->thread.join();
}

std::vector<GroupSnapshot> RuleManager::snapshot() const {
  std::vector<GroupSnapshot> out;
  for (const auto& g : groups_) {
    std::lock_guard lock(g->mu);
    GroupSnapshot gs;
    gs.def = &g->def;
    gs.interval = g->interval;
    gs.last_evaluation_ms = g->last_evaluation_ms;
    gs.evaluation_seconds = g->evaluation_seconds;
    for (const auto& r : g->rules) {
      RuleSnapshot rs;
      rs.def = r.def;
      rs.health = r.health;
      rs.last_error = r.last_error;
      rs.last_evaluation_ms = r.last_evaluation_ms;
      rs.evaluation_seconds = r.evaluation_seconds;
      if (r.alert) {
        rs.alerts = r.alert->alerts();
        rs.state = r.alert->state();
      }
      gs.rules.push_back(std::move(rs));
    }
    out.push_back(std::move(gs));
  }
  return out;
}

}  // namespace strata::alerting

#include "alerting/alert_rule.h"

#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace strata::alerting {

const char* state_name(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "inactive";
}

AlertRule::AlertRule(RuleDef def, int limit, const ExternalContext* external)
    : def_(std::move(def)), limit_(limit), external_(external) {}

void AlertRule::evaluate(const std::vector<Sample>& result, std::int64_t ts_ms) {
  static const ExternalContext kNone;
  const ExternalContext& ext = external_ ? *external_ : kNone;
  std::map<std::uint64_t, Alert> fresh;  // what this result says is active
  for (const auto& s : result) {
    Labels series;
    for (const auto& [n, v] : s.labels.items())
      if (n != "__name__") series.set(n, v);
    // Templates see the sample's labels, as in Prometheus.
    TemplateData data{&series, s.value, &ext.external_labels, ext.external_url};
    Labels labels = series;
    for (const auto& [name, tmpl] : def_.label_templates) labels.set(name, tmpl.render(data));
    labels.set("alertname", def_.alert);
    Alert a;
    a.value = s.value;
    for (const auto& [name, tmpl] : def_.annotation_templates)
      a.annotations[name] = tmpl.render(data);
    a.labels = std::move(labels);
    auto fp = a.labels.fingerprint();
    if (!fresh.emplace(fp, std::move(a)).second)
      throw std::runtime_error(
          "vector contains metrics with the same labelset after applying alert labels");
  }
  std::size_t active = 0;
  std::map<std::uint64_t, Alert> next;
  for (auto& [fp, a] : fresh) {
    auto it = alerts_.find(fp);
    if (it != alerts_.end() && it->second.state != AlertState::kInactive) {
      Alert& old = it->second;
      old.value = a.value;
      old.annotations = std::move(a.annotations);
      old.keep_firing_since_ms = 0;
      next.emplace(fp, std::move(old));
    } else {
      a.state = AlertState::kPending;
      a.active_at_ms = ts_ms;
      next.emplace(fp, std::move(a));
    }
  }
  for (auto& [fp, a] : alerts_) {
    if (next.count(fp)) continue;
    if (a.state == AlertState::kPending) continue;  // never fired: forgotten silently
    if (a.state == AlertState::kInactive) {
      next.emplace(fp, std::move(a));  // resolved, notification still due
      continue;
    }
    // Firing, condition gone: keep_firing_for holds it a while.
    if (def_.keep_firing_for.count() > 0) {
      if (a.keep_firing_since_ms == 0) a.keep_firing_since_ms = ts_ms;
      if (ts_ms - a.keep_firing_since_ms < def_.keep_firing_for.count()) {
        next.emplace(fp, std::move(a));
        continue;
      }
    }
    a.state = AlertState::kInactive;
    a.resolved_at_ms = ts_ms;
    next.emplace(fp, std::move(a));
  }
  for (auto& [fp, a] : next) {
    if (a.state == AlertState::kPending && ts_ms - a.active_at_ms >= def_.for_duration.count()) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = ts_ms;
    }
    if (a.state != AlertState::kInactive) ++active;
  }
  if (limit_ > 0 && active > static_cast<std::size_t>(limit_)) {
    alerts_.clear();
    throw std::runtime_error(fmt::format("exceeded limit of {} with {} alerts", limit_, active));
  }
  alerts_ = std::move(next);
}

std::vector<Alert> AlertRule::take_notifications(std::int64_t ts_ms,
                                                 std::chrono::milliseconds resend_delay) {
  std::vector<Alert> out;
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Alert& a = it->second;
    if (a.state == AlertState::kInactive) {
      a.last_sent_at_ms = ts_ms;
      out.push_back(a);
      it = alerts_.erase(it);
      continue;
    }
    if (a.state == AlertState::kFiring &&
        (a.last_sent_at_ms < a.fired_at_ms || ts_ms - a.last_sent_at_ms >= resend_delay.count())) {
      a.last_sent_at_ms = ts_ms;
      out.push_back(a);
    }
    ++it;
  }
  return out;
}

std::vector<Alert> AlertRule::alerts() const {
  std::vector<Alert> out;
  out.reserve(alerts_.size());
  for (const auto& [fp, a] : alerts_) out.push_back(a);
  return out;
}

void AlertRule::restore(std::vector<Alert> alerts) {
  for (auto& a : alerts) {
    if (a.state == AlertState::kInactive) continue;
    alerts_[a.labels.fingerprint()] = std::move(a);
  }
}

AlertState AlertRule::state() const {
  AlertState s = AlertState::kInactive;
  for (const auto& [fp, a] : alerts_) {
    if (a.state == AlertState::kFiring) return AlertState::kFiring;
    if (a.state == AlertState::kPending) s = AlertState::kPending;
  }
  return s;
}

}  // namespace strata::alerting

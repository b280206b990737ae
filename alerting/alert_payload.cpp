#include "alerting/alert_payload.h"

#include <ctime>

#include <fmt/format.h>

#include "common/logging.h"

namespace strata::alerting {
namespace {

// Alertmanager's zero time: what a firing alert's endsAt reads in webhooks.
constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

bool resolved(const Alert& a) { return a.state == AlertState::kInactive; }

}  // namespace

std::string rfc3339(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

std::string webhook_payload(const Notification& n, const std::string& receiver,
                            const std::string& external_url) {
  bool any_firing = false;
  for (const auto& a : n.alerts) any_firing |= !resolved(a);
  // Labels and annotations every alert shares, as Alertmanager computes them.
  std::vector<Label> common_labels, common_annotations;
  if (!n.alerts.empty()) {
    for (const auto& [k, v] : n.alerts[0].labels.items()) {
      bool all = true;
      for (const auto& a : n.alerts) all &= a.labels.get(k) == v;
      if (all) common_labels.emplace_back(k, v);
    }
    for (const auto& [k, v] : n.alerts[0].annotations) {
      bool all = true;
      for (const auto& a : n.alerts) {
        auto it = a.annotations.find(k);
        all &= it != a.annotations.end() && it->second == v;
      }
      if (all) common_annotations.emplace_back(k, v);
    }
  }
  std::string out = "{\"version\":\"4\",\"groupKey\":";
  logging::append_json_string(out, fmt::format("{{}}/{{}}:{{alertname=\"{}\"}}", n.rule));
  out += fmt::format(",\"truncatedAlerts\":0,\"status\":\"{}\",\"receiver\":",
                     any_firing ? "firing" : "resolved");
  logging::append_json_string(out, receiver);
  out += ",\"groupLabels\":";
  logging::append_json_object(out, std::vector<Label>{{"alertname", n.rule}});
  out += ",\"commonLabels\":";
  logging::append_json_object(out, common_labels);
  out += ",\"commonAnnotations\":";
  logging::append_json_object(out, common_annotations);
  out += ",\"externalURL\":";
  logging::append_json_string(out, external_url);
  out += ",\"alerts\":[";
  for (std::size_t i = 0; i < n.alerts.size(); ++i) {
    const Alert& a = n.alerts[i];
    if (i) out += ',';
    out += fmt::format("{{\"status\":\"{}\",\"labels\":", resolved(a) ? "resolved" : "firing");
    logging::append_json_object(out, a.labels.items());
    out += ",\"annotations\":";
    logging::append_json_object(out, a.annotations);
    out += fmt::format(
        ",\"startsAt\":\"{}\",\"endsAt\":\"{}\",\"generatorURL\":", rfc3339(a.fired_at_ms),
        resolved(a) ? rfc3339(a.resolved_at_ms) : std::string(kZeroTime));
    logging::append_json_string(out, n.generator_url);
    out += fmt::format(",\"fingerprint\":\"{:016x}\"}}", a.labels.fingerprint());
  }
  out += "]}";
  return out;
}

std::string alertmanager_v2_payload(const Notification& n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n.alerts.size(); ++i) {
    const Alert& a = n.alerts[i];
    if (i) out += ',';
    out += "{\"labels\":";
    logging::append_json_object(out, a.labels.items());
    out += ",\"annotations\":";
    logging::append_json_object(out, a.annotations);
    out += fmt::format(
        ",\"startsAt\":\"{}\",\"endsAt\":\"{}\",\"generatorURL\":", rfc3339(a.fired_at_ms),
        rfc3339(resolved(a) ? a.resolved_at_ms : n.valid_until_ms));
    logging::append_json_string(out, n.generator_url);
    out += '}';
  }
  return out + "]";
}

}  // namespace strata::alerting

#include "alerting/webhook_notifier.h"

#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/logging.h"

namespace strata::alerting {
namespace {

void append_string(std::string& out, std::string_view s) {
  out += '"';
  logging::append_json_escaped(out, s);
  out += '"';
}

void append_object(std::string& out, const std::vector<Label>& kv) {
  out += '{';
  for (std::size_t i = 0; i < kv.size(); ++i) {
    if (i) out += ',';
    append_string(out, kv[i].first);
    out += ':';
    append_string(out, kv[i].second);
  }
  out += '}';
}

}  // namespace

std::string rfc3339(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

WebhookNotifier::WebhookNotifier(std::string url, std::string external_url)
    : url_(std::move(url)),
      external_url_(std::move(external_url)),
      // Bounded retries: an evaluation round must not stall for long on a dead
      // receiver; the next transition is sent anyway.
      client_(http::ClientOptions{std::chrono::milliseconds(2000), std::chrono::milliseconds(10000),
                                  3, std::chrono::milliseconds(100),
                                  std::chrono::milliseconds(1000)}) {}

std::string WebhookNotifier::payload(const std::string& rule_name, const std::vector<Alert>& alerts,
                                     bool resolved,
                                     const std::map<std::string, std::string>& annotations) const {
  const char* status = resolved ? "resolved" : "firing";
  std::vector<Label> ann(annotations.begin(), annotations.end());
  std::string out = "{\"version\":\"4\",\"groupKey\":";
  append_string(out, "{}:{alertname=\"" + rule_name + "\"}");
  out += fmt::format(",\"truncatedAlerts\":0,\"status\":\"{}\",\"receiver\":\"webhook\",", status);
  out += "\"groupLabels\":";
  append_object(out, {{"alertname", rule_name}});
  out += ",\"commonLabels\":";
  append_object(out, {{"alertname", rule_name}});
  out += ",\"commonAnnotations\":";
  append_object(out, ann);
  out += ",\"externalURL\":";
  append_string(out, external_url_);
  out += ",\"alerts\":[";
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    const Alert& a = alerts[i];
    if (i) out += ',';
    out += fmt::format("{{\"status\":\"{}\",\"labels\":", status);
    append_object(out, a.labels.items());
    out += ",\"annotations\":";
    std::vector<Label> with_value = ann;
    with_value.emplace_back("value", fmt::format("{}", a.value));
    append_object(out, with_value);
    out += fmt::format(
        ",\"startsAt\":\"{}\",\"endsAt\":\"{}\",\"generatorURL\":", rfc3339(a.fired_at_ms),
        resolved ? rfc3339(a.resolved_at_ms) : "0001-01-01T00:00:00Z");
    append_string(out, external_url_);
    out += fmt::format(",\"fingerprint\":\"{:016x}\"}}", a.labels.fingerprint());
  }
  out += "]}";
  return out;
}

bool WebhookNotifier::notify(const std::string& rule_name, const std::vector<Alert>& alerts,
                             bool resolved, const std::map<std::string, std::string>& annotations) {
  if (alerts.empty()) return true;
  auto resp = client_.post(url_, payload(rule_name, alerts, resolved, annotations),
                           {{"Content-Type", "application/json"}});
  if (!resp.ok()) {
    spdlog::error("alerting: webhook {} failed after {} attempts: {}", url_, resp.attempts,
                  resp.error.empty() ? fmt::format("HTTP {}", resp.status) : resp.error);
    return false;
  }
  return true;
}

}  // namespace strata::alerting

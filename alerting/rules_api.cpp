#include "alerting/rules_api.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "alerting/alert_payload.h"
#include "common/logging.h"

namespace strata::alerting {
namespace {

// Prometheus's strconv.FormatFloat(v, 'e', -1, 64).
std::string prom_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  return std::string(buf, r.ptr);
}

std::string time_or_zero(std::int64_t ms) {
  return ms == 0 ? std::string("0001-01-01T00:00:00Z") : rfc3339(ms);
}

void append_alert(std::string& out, const Alert& a) {
  out += "{\"labels\":";
  logging::append_json_object(out, a.labels.items());
  out += ",\"annotations\":";
  logging::append_json_object(out, a.annotations);
  out += fmt::format(",\"state\":\"{}\",\"activeAt\":\"{}\",", state_name(a.state),
                     time_or_zero(a.active_at_ms));
  if (a.keep_firing_since_ms)
    out += fmt::format("\"keepFiringSince\":\"{}\",", rfc3339(a.keep_firing_since_ms));
  out += "\"value\":";
  logging::append_json_string(out, prom_value(a.value));
  out += '}';
}

}  // namespace

std::string rules_json(const std::vector<GroupSnapshot>& groups, const std::string& type) {
  std::string out = "{\"status\":\"success\",\"data\":{\"groups\":[";
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    if (gi) out += ',';
    out += "{\"name\":";
    logging::append_json_string(out, g.def->name);
    out += ",\"file\":";
    logging::append_json_string(out, g.def->file);
    out += ",\"rules\":[";
    bool first = true;
    for (const auto& r : g.rules) {
      bool alert = r.def->is_alert();
      if ((type == "alert" && !alert) || (type == "record" && alert)) continue;
      if (!first) out += ',';
      first = false;
      out += '{';
      if (alert) {
        out += fmt::format("\"state\":\"{}\",", state_name(r.state));
      }
      out += "\"name\":";
      logging::append_json_string(out, r.def->name());
      out += ",\"query\":";
      logging::append_json_string(out, r.def->expr);
      if (alert) {
        out +=
            fmt::format(",\"duration\":{},\"keepFiringFor\":{}", r.def->for_duration.count() / 1000,
                        r.def->keep_firing_for.count() / 1000);
      }
      out += ",\"labels\":";
      logging::append_json_object(out, r.def->labels);
      if (alert) {
        out += ",\"annotations\":";
        logging::append_json_object(out, r.def->annotations);
        out += ",\"alerts\":[";
        bool fa = true;
        for (const auto& a : r.alerts) {
          if (a.state == AlertState::kInactive) continue;
          if (!fa) out += ',';
          fa = false;
          append_alert(out, a);
        }
        out += ']';
      }
      out += ",\"health\":";
      logging::append_json_string(out, r.health);
      out += ",\"lastError\":";
      logging::append_json_string(out, r.last_error);
      out += fmt::format(",\"evaluationTime\":{},\"lastEvaluation\":\"{}\",\"type\":\"{}\"}}",
                         r.evaluation_seconds, time_or_zero(r.last_evaluation_ms),
                         alert ? "alerting" : "recording");
    }
    out += fmt::format(
        "],\"interval\":{},\"limit\":{},\"evaluationTime\":{},\"lastEvaluation\":\"{}\"}}",
        static_cast<double>(g.interval.count()) / 1000.0, g.def->limit, g.evaluation_seconds,
        time_or_zero(g.last_evaluation_ms));
  }
  return out + "]}}";
}

std::string alerts_json(const std::vector<GroupSnapshot>& groups) {
  std::string out = "{\"status\":\"success\",\"data\":{\"alerts\":[";
  bool first = true;
  for (const auto& g : groups)
    for (const auto& r : g.rules)
      for (const auto& a : r.alerts) {
        if (a.state == AlertState::kInactive) continue;
        if (!first) out += ',';
        first = false;
        append_alert(out, a);
      }
  return out + "]}}";
}

}  // namespace strata::alerting

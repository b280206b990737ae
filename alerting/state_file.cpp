#include "alerting/state_file.h"

#include <simdjson.h>

#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/file.h"
#include "common/logging.h"
#include "common/wire_format.h"

namespace strata::alerting {
namespace {

std::string get_str(simdjson::dom::element e, const char* key, const std::string& where) {
  std::string_view v;
  if (e[key].get(v)) throw std::runtime_error(fmt::format("{}: missing string '{}'", where, key));
  return std::string(v);
}

std::int64_t get_int(simdjson::dom::element e, const char* key, const std::string& where) {
  std::int64_t v = 0;
  if (e[key].get(v)) throw std::runtime_error(fmt::format("{}: missing integer '{}'", where, key));
  return v;
}

std::vector<Label> get_map(simdjson::dom::element e, const char* key, const std::string& where) {
  simdjson::dom::object o;
  if (e[key].get(o)) throw std::runtime_error(fmt::format("{}: missing object '{}'", where, key));
  std::vector<Label> out;
  for (auto f : o) {
    std::string_view v;
    if (f.value.get(v)) throw std::runtime_error(fmt::format("{}.{}: not a string", where, key));
    out.emplace_back(std::string(f.key), std::string(v));
  }
  return out;
}

}  // namespace

std::string encode_state(const SavedAlerts& state, std::int64_t saved_at_ms) {
  std::string out =
      fmt::format("{{\"version\":{},\"savedAt\":{},\"rules\":[", kStateFileVersion, saved_at_ms);
  bool first_rule = true;
  for (const auto& [key, alerts] : state) {
    if (alerts.empty()) continue;
    if (!first_rule) out += ',';
    first_rule = false;
    out += "\n{\"file\":";
    logging::append_json_string(out, key.file);
    out += ",\"group\":";
    logging::append_json_string(out, key.group);
    out += ",\"rule\":";
    logging::append_json_string(out, key.rule);
    out += ",\"expr\":";
    logging::append_json_string(out, key.expr);
    out += ",\"alerts\":[";
    for (std::size_t i = 0; i < alerts.size(); ++i) {
      const Alert& a = alerts[i];
      if (i) out += ',';
      out += "{\"labels\":";
      logging::append_json_object(out, a.labels.items());
      out += ",\"annotations\":";
      logging::append_json_object(out, a.annotations);
      out += fmt::format(
          ",\"state\":\"{}\",\"value\":\"{}\",\"activeAt\":{},\"firedAt\":{},\"resolvedAt\":{},"
          "\"lastSentAt\":{},\"keepFiringSince\":{}}}",
          state_name(a.state), wire::format_value(a.value), a.active_at_ms, a.fired_at_ms,
          a.resolved_at_ms, a.last_sent_at_ms, a.keep_firing_since_ms);
    }
    out += "]}";
  }
  return out + "\n]}\n";
}

SavedAlerts decode_state(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json).get(doc))
    throw std::runtime_error(std::string("not JSON: ") + simdjson::error_message(err));
  std::int64_t version = 0;
  if (doc["version"].get(version)) throw std::runtime_error("no 'version' field");
  if (version != kStateFileVersion)
    throw std::runtime_error(fmt::format("version {} is not supported (this build reads {})",
                                         version, kStateFileVersion));
  simdjson::dom::array rules;
  if (doc["rules"].get(rules)) throw std::runtime_error("no 'rules' array");
  SavedAlerts out;
  std::size_t ri = 0;
  for (auto r : rules) {
    std::string where = fmt::format("rules[{}]", ri++);
    RuleKey key{get_str(r, "file", where), get_str(r, "group", where), get_str(r, "rule", where),
                get_str(r, "expr", where)};
    simdjson::dom::array alerts;
    if (r["alerts"].get(alerts)) throw std::runtime_error(where + ": no 'alerts' array");
    auto& list = out[key];
    std::size_t ai = 0;
    for (auto e : alerts) {
      std::string w = fmt::format("{}.alerts[{}]", where, ai++);
      Alert a;
      a.labels = Labels(get_map(e, "labels", w));
      for (auto& [k, v] : get_map(e, "annotations", w)) a.annotations[k] = v;
      std::string state = get_str(e, "state", w);
      if (state == "pending")
        a.state = AlertState::kPending;
      else if (state == "firing")
        a.state = AlertState::kFiring;
      else if (state == "inactive")
        a.state = AlertState::kInactive;
      else
        throw std::runtime_error(w + ": unknown state '" + state + "'");
      a.value = wire::parse_value(get_str(e, "value", w));
      a.active_at_ms = get_int(e, "activeAt", w);
      a.fired_at_ms = get_int(e, "firedAt", w);
      a.resolved_at_ms = get_int(e, "resolvedAt", w);
      a.last_sent_at_ms = get_int(e, "lastSentAt", w);
      a.keep_firing_since_ms = get_int(e, "keepFiringSince", w);
      list.push_back(std::move(a));
    }
  }
  return out;
}

StateFile::StateFile(std::filesystem::path dir) : path_(dir / "alert_state.json") {
  std::filesystem::create_directories(dir);
}

void StateFile::save(const SavedAlerts& state, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  // Only a change of what a restart needs (which alerts, their state and
  // timers) is worth a write; values and annotations change every round and
  // are refreshed by the first evaluation after a restart anyway. Without
  // this, 10k active alerts would rewrite megabytes every round.
  SavedAlerts skeleton = state;
  for (auto& [key, alerts] : skeleton)
    for (auto& a : alerts) {
      a.value = 0;
      a.annotations.clear();
    }
  std::string body = encode_state(skeleton, 0);
  if (body == last_written_) return;
  write_file_durably(path_, encode_state(state, now_ms));
  last_written_ = std::move(body);
}

SavedAlerts StateFile::load() {
  std::lock_guard lock(mu_);
  if (!std::filesystem::exists(path_)) return {};
  try {
    return decode_state(read_file(path_));
  } catch (const std::exception& e) {
    auto bad = path_;
    bad += ".bad";
    spdlog::error(
        "alerting: state file {} is unreadable ({}); moved to {}, starting without "
        "saved alerts",
        path_.string(), e.what(), bad.string());
    std::filesystem::rename(path_, bad);
    return {};
  }
}

}  // namespace strata::alerting

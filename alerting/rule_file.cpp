#include "alerting/rule_file.h"

#include <glob.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/wire_format.h"
#include "logindex/logql/parser.h"
#include "tsdb/promql/parser.h"

namespace strata::alerting {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += '\n';
    out += s;
  }
  return out;
}

bool valid_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Splits `<lhs> <op> <number>` at its last comparison (log rules only).
std::optional<std::pair<std::string, LogThreshold>> split_threshold(const std::string& expr) {
  static const RE2 re(
      R"(^([\s\S]*[^\s<>=!])\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?))\s*$)");
  std::string lhs, op, num;
  if (!RE2::FullMatch(expr, re, &lhs, &op, &num)) return std::nullopt;
  LogThreshold t;
  using Op = LogThreshold::Op;
  t.op = op == ">"    ? Op::kGt
         : op == ">=" ? Op::kGe
         : op == "<"  ? Op::kLt
         : op == "<=" ? Op::kLe
         : op == "==" ? Op::kEq
                      : Op::kNe;
  t.value = std::strtod(num.c_str(), nullptr);
  return std::make_pair(lhs, t);
}

// Collects errors with their location prefix.
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Mark& m, const std::string& where, const std::string& msg) {
    std::string loc =
        m.is_null() ? file_ : fmt::format("{}:{}:{}", file_, m.line + 1, m.column + 1);
    errors_.push_back(where.empty() ? fmt::format("{}: {}", loc, msg)
                                    : fmt::format("{}: {}: {}", loc, where, msg));
  }
  void error_at(int line, int column, const std::string& where, const std::string& msg) {
    errors_.push_back(fmt::format("{}:{}:{}: {}: {}", file_, line, column, where, msg));
  }
  std::vector<std::string>& errors() { return errors_; }

  std::vector<RuleGroup> run(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      error(e.mark, "", "YAML: " + e.msg);
      return {};
    }
    std::vector<RuleGroup> groups;
    if (root.IsNull()) return groups;  // an empty file has no groups, as in Prometheus
    if (!root.IsMap()) {
      error(root.Mark(), "", "expected a map with a 'groups' key");
      return groups;
    }
    for (const auto& kv : root) {
      auto key = kv.first.as<std::string>();
      if (key != "groups")
        error(kv.first.Mark(), "", "unknown field '" + key + "' (expected 'groups')");
    }
    YAML::Node gs = root["groups"];
    if (!gs) return groups;
    if (!gs.IsSequence()) {
      error(gs.Mark(), "", "'groups' must be a list");
      return groups;
    }
    std::set<std::string> names;
    for (const auto& g : gs) {
      RuleGroup group;
      if (parse_group(g, group)) {
        if (!names.insert(group.name).second)
          error(g.Mark(), fmt::format("group \"{}\"", group.name),
                "group name is used twice in this file");
        groups.push_back(std::move(group));
      }
    }
    return groups;
  }

 private:
  bool scalar(const YAML::Node& n, const std::string& where, const std::string& key,
              std::string& out) {
    if (!n.IsScalar()) {
      error(n.Mark(), where, key + ": expected a string");
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool duration(const YAML::Node& n, const std::string& where, const std::string& key,
                std::chrono::milliseconds& out) {
    std::string s;
    if (!scalar(n, where, key, s)) return false;
    try {
      out = tsdb::promql::parse_duration(s);
    } catch (const std::exception&) {
      error(n.Mark(), where, fmt::format("{}: not a valid duration: \"{}\"", key, s));
      return false;
    }
    return true;
  }

  bool parse_group(const YAML::Node& g, RuleGroup& group) {
    group.file = file_;
    if (!g.IsMap()) {
      error(g.Mark(), "", "a group must be a map");
      return false;
    }
    if (!g["name"] || !g["name"].IsScalar() || g["name"].Scalar().empty()) {
      error(g.Mark(), "", "group without a name");
      return false;
    }
    group.name = g["name"].Scalar();
    std::string where = fmt::format("group \"{}\"", group.name);
    for (const auto& kv : g) {
      auto key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "name") continue;
      if (key == "interval") {
        if (duration(v, where, "interval", group.interval) && group.interval.count() <= 0)
          error(v.Mark(), where, "interval: must be > 0");
      } else if (key == "limit") {
        std::string s;
        if (scalar(v, where, key, s)) {
          try {
            std::size_t used = 0;
            group.limit = std::stoi(s, &used);
            if (used != s.size() || group.limit < 0) throw std::invalid_argument(s);
          } catch (const std::exception&) {
            error(v.Mark(), where, "limit: expected a non-negative integer, got \"" + s + "\"");
          }
        }
      } else if (key == "source") {
        std::string s;
        if (scalar(v, where, key, s)) {
          if (s == "metrics")
            group.source = RuleSource::kMetrics;
          else if (s == "logs")
            group.source = RuleSource::kLogs;
          else
            error(v.Mark(), where, "source: expected \"metrics\" or \"logs\", got \"" + s + "\"");
        }
      } else if (key != "rules") {
        error(kv.first.Mark(), where, "unknown field '" + key + "'");
      }
    }
    YAML::Node rules = g["rules"];
    if (!rules) return true;  // Prometheus accepts a group without rules
    if (!rules.IsSequence()) {
      error(rules.Mark(), where, "'rules' must be a list");
      return true;
    }
    int index = 0;
    for (const auto& r : rules) {
      RuleDef rule;
      if (parse_rule(r, group, index++, rule)) group.rules.push_back(std::move(rule));
    }
    return true;
  }

  void string_map(const YAML::Node& n, const std::string& where, const std::string& key,
                  std::map<std::string, std::string>& out) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      error(n.Mark(), where, key + ": expected a map");
      return;
    }
    for (const auto& kv : n) {
      std::string name = kv.first.Scalar();
      if (!kv.second.IsScalar()) {
        error(kv.second.Mark(), where, fmt::format("{}.{}: expected a string", key, name));
        continue;
      }
      out[name] = kv.second.Scalar();
    }
  }

  void compile_templates(const YAML::Node& n, const std::string& where, const std::string& key,
                         const std::map<std::string, std::string>& in,
                         std::map<std::string, Template>& out) {
    for (const auto& [name, text] : in) {
      try {
        out.emplace(name, Template::parse(text));
      } catch (const TemplateError& e) {
        YAML::Node v = n[name];
        error(v ? v.Mark() : n.Mark(), where, fmt::format("{}.{}: {}", key, name, e.what()));
      }
    }
  }

  void check_expr(const YAML::Node& n, const RuleGroup& group, RuleDef& rule,
                  const std::string& where) {
    std::size_t position = 0;  // 0-based byte in the expression
    std::string message;
    try {
      if (group.source == RuleSource::kLogs) {
        rule.query = rule.expr;
        std::optional<logindex::logql::Query> parsed;
        try {
          parsed = logindex::logql::parse(rule.expr);
        } catch (const logindex::logql::ParseError&) {
          // Maybe a comparison the store does not evaluate: alerting does.
          auto split = split_threshold(rule.expr);
          if (!split) throw;
          parsed = logindex::logql::parse(split->first);  // its error, if any, is the one to show
          rule.query = split->first;
          rule.threshold = split->second;
        }
        const auto& q = *parsed;
        if (!q.is_metric()) {
          message =
              "a log rule needs a LogQL metric query (count_over_time, rate, ...), not a log query";
        }
      } else {
        auto e = tsdb::promql::parse_expr(rule.expr);
        auto t = e->value_type();
        using tsdb::promql::ValueType;
        if (rule.is_alert() && t != ValueType::kVector)
          message = "an alerting rule needs an instant vector expression";
        else if (!rule.is_alert() && t != ValueType::kVector && t != ValueType::kScalar)
          message = "a recording rule needs an instant vector or scalar expression";
      }
    } catch (const tsdb::promql::ParseError& e) {
      position = e.position() > 0 ? e.position() - 1 : 0;
      message = e.what();
    } catch (const logindex::logql::ParseError& e) {
      position = e.position();
      message = e.what();
    }
    if (message.empty()) return;
    // Point at the offending byte of the file when the expression is a
    // one-line plain scalar; otherwise at the expression's start.
    YAML::Mark m = n.Mark();
    if (n.Tag() == "?" && rule.expr.find('\n') == std::string::npos)
      error_at(m.line + 1, m.column + 1 + static_cast<int>(position), where, "expr: " + message);
    else
      error(m, where, "expr: " + message);
  }

  bool parse_rule(const YAML::Node& r, const RuleGroup& group, int index, RuleDef& rule) {
    std::string gwhere = fmt::format("group \"{}\"", group.name);
    if (!r.IsMap()) {
      error(r.Mark(), gwhere, fmt::format("rule {}: a rule must be a map", index + 1));
      return false;
    }
    rule.line = r.Mark().line + 1;
    if (r["alert"] && r["alert"].IsScalar()) rule.alert = r["alert"].Scalar();
    if (r["record"] && r["record"].IsScalar()) rule.record = r["record"].Scalar();
    std::string where = fmt::format("{}, rule \"{}\"", gwhere,
                                    !rule.alert.empty()    ? rule.alert
                                    : !rule.record.empty() ? rule.record
                                                           : fmt::format("#{}", index + 1));
    bool ok = true;
    if (r["alert"] && r["record"]) {
      error(r.Mark(), where, "only one of 'record' and 'alert' must be set");
      ok = false;
    } else if (rule.alert.empty() && rule.record.empty()) {
      error(r.Mark(), where, "one of 'record' or 'alert' must be set");
      ok = false;
    }
    if (!rule.record.empty() && !valid_metric_name(rule.record)) {
      error(r["record"].Mark(), where, "invalid recording rule name: " + rule.record);
      ok = false;
    }
    for (const auto& kv : r) {
      auto key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "alert" || key == "record") continue;
      if (key == "expr") {
        if (scalar(v, where, key, rule.expr) && rule.expr.empty()) {
          error(v.Mark(), where, "expr: field 'expr' must be set");
          ok = false;
        }
      } else if (key == "for") {
        ok &= duration(v, where, key, rule.for_duration);
      } else if (key == "keep_firing_for") {
        ok &= duration(v, where, key, rule.keep_firing_for);
      } else if (key == "labels") {
        string_map(v, where, key, rule.labels);
      } else if (key == "annotations") {
        string_map(v, where, key, rule.annotations);
      } else {
        error(kv.first.Mark(), where, "unknown field '" + key + "'");
        ok = false;
      }
    }
    if (!r["expr"]) {
      error(r.Mark(), where, "field 'expr' must be set");
      ok = false;
    }
    if (!rule.record.empty()) {
      for (const char* k : {"for", "keep_firing_for", "annotations"})
        if (r[k]) {
          error(r[k].Mark(), where, fmt::format("invalid field '{}' in recording rule", k));
          ok = false;
        }
    }
    for (const auto& [name, value] : rule.labels) {
      if (!wire::valid_label_name(name)) {
        error(r["labels"].Mark(), where, "labels: invalid label name: " + name);
        ok = false;
      }
      if (!rule.record.empty() && name == "__name__") {
        error(r["labels"].Mark(), where, "labels: __name__ cannot be set in a recording rule");
        ok = false;
      }
    }
    for (const auto& [name, value] : rule.annotations)
      if (!wire::valid_label_name(name)) {
        error(r["annotations"].Mark(), where, "annotations: invalid annotation name: " + name);
        ok = false;
      }
    std::size_t before = errors_.size();
    if (r["labels"])
      compile_templates(r["labels"], where, "labels", rule.labels, rule.label_templates);
    if (r["annotations"])
      compile_templates(r["annotations"], where, "annotations", rule.annotations,
                        rule.annotation_templates);
    if (!rule.expr.empty()) check_expr(r["expr"], group, rule, where);
    return ok && errors_.size() == before;
  }

  std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace

RuleFileError::RuleFileError(std::vector<std::string> messages)
    : std::runtime_error(join(messages)), messages_(std::move(messages)) {}

std::vector<RuleGroup> parse_rule_file(const std::string& text, const std::string& file) {
  Checker c(file);
  auto groups = c.run(text);
  if (!c.errors().empty()) throw RuleFileError(std::move(c.errors()));
  return groups;
}

bool LogThreshold::holds(double v) const {
  switch (op) {
    case Op::kGt:
      return v > value;
    case Op::kGe:
      return v >= value;
    case Op::kLt:
      return v < value;
    case Op::kLe:
      return v <= value;
    case Op::kEq:
      return v == value;
    case Op::kNe:
      return v != value;
  }
  return false;
}

std::vector<RuleGroup> load_rule_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw RuleFileError({fmt::format("{}: cannot read rule file: {}", path, std::strerror(errno))});
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_rule_file(ss.str(), path);
}

std::vector<RuleGroup> load_rule_files(const std::vector<std::string>& patterns) {
  std::vector<std::string> errors;
  std::vector<RuleGroup> all;
  for (const auto& pattern : patterns) {
    glob_t g{};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    std::vector<std::string> paths;
    if (rc == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    // A pattern matching nothing is fine (as in Prometheus); a plain path
    // that does not exist is an error, reported by load_rule_file.
    if (paths.empty() && pattern.find_first_of("*?[") == std::string::npos)
      paths.push_back(pattern);
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      try {
        for (auto& group : load_rule_file(p)) all.push_back(std::move(group));
      } catch (const RuleFileError& e) {
        errors.insert(errors.end(), e.messages().begin(), e.messages().end());
      }
    }
  }
  if (!errors.empty()) throw RuleFileError(std::move(errors));
  return all;
}

}  // namespace strata::alerting

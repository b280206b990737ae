#include "collector/relabel.h"

#include <openssl/evp.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "common/config.h"
#include "common/wire_format.h"

namespace strata::collector {
namespace {

using config::ConfigError;

const std::map<std::string, RelabelAction>& actions() {
  static const std::map<std::string, RelabelAction> m = {
      {"replace", RelabelAction::kReplace},     {"keep", RelabelAction::kKeep},
      {"drop", RelabelAction::kDrop},           {"keepequal", RelabelAction::kKeepEqual},
      {"dropequal", RelabelAction::kDropEqual}, {"hashmod", RelabelAction::kHashMod},
      {"labelmap", RelabelAction::kLabelMap},   {"labeldrop", RelabelAction::kLabelDrop},
      {"labelkeep", RelabelAction::kLabelKeep}, {"lowercase", RelabelAction::kLowercase},
      {"uppercase", RelabelAction::kUppercase},
  };
  return m;
}

// A label set being rewritten: sorted by name, no empty values.
class Builder {
 public:
  explicit Builder(const Labels& labels) {
    for (const auto& l : labels.items())
      if (!l.second.empty()) items_.push_back(l);
  }
  std::string_view get(std::string_view name) const {
    auto it = find(name);
    return it != items_.end() && it->first == name ? std::string_view(it->second)
                                                   : std::string_view();
  }
  void set(const std::string& name, std::string value) {
    if (value.empty()) return del(name);
    auto it = find(name);
    if (it != items_.end() && it->first == name) {
      it->second = std::move(value);
    } else {
      items_.emplace(it, name, std::move(value));
    }
  }
  void del(std::string_view name) {
    auto it = find(name);
    if (it != items_.end() && it->first == name) items_.erase(it);
  }
  const std::vector<Label>& items() const { return items_; }
  std::vector<Label>& items() { return items_; }

 private:
  std::vector<Label>::iterator find(std::string_view name) {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const Label& l, std::string_view n) { return l.first < n; });
  }
  std::vector<Label>::const_iterator find(std::string_view name) const {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const Label& l, std::string_view n) { return l.first < n; });
  }
  std::vector<Label> items_;
};

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Go's regexp.Expand: $1, ${1}, $name, ${name}, $$; a malformed $ is literal.
// A name is the longest run of [a-zA-Z0-9_], so "$1x" names group "1x".
std::string expand(std::string_view tmpl, const re2::RE2& re,
                   const std::vector<re2::StringPiece>& g) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size();) {
    const char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out += c;
      ++i;
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    std::string_view name;
    std::size_t next = i + 1;
    if (tmpl[i + 1] == '{') {
      std::size_t j = i + 2;
      while (j < tmpl.size() && name_char(tmpl[j])) ++j;
      if (j < tmpl.size() && tmpl[j] == '}' && j > i + 2) {
        name = tmpl.substr(i + 2, j - i - 2);
        next = j + 1;
      }
    } else {
      std::size_t j = i + 1;
      while (j < tmpl.size() && name_char(tmpl[j])) ++j;
      if (j > i + 1) {
        name = tmpl.substr(i + 1, j - i - 1);
        next = j;
      }
    }
    if (name.empty()) {  // malformed: the $ is text
      out += '$';
      ++i;
      continue;
    }
    int index = -1;
    if (std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      index = name.size() <= 9 ? std::stoi(std::string(name)) : -1;
    } else {
      const auto& named = re.NamedCapturingGroups();
      if (auto it = named.find(std::string(name)); it != named.end()) index = it->second;
    }
    if (index >= 0 && static_cast<std::size_t>(index) < g.size() && g[index].data() != nullptr)
      out.append(g[index].data(), g[index].size());
    i = next;
  }
  return out;
}

// Full (anchored) match, filling the groups.
bool match(const re2::RE2& re, std::string_view text, std::vector<re2::StringPiece>& groups) {
  groups.assign(static_cast<std::size_t>(re.NumberOfCapturingGroups()) + 1, re2::StringPiece());
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::UNANCHORED,
                  groups.data(), static_cast<int>(groups.size()));
}

bool matches(const re2::RE2& re, std::string_view text) {
  return re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), re);
}

std::string str_field(const YAML::Node& rule, const char* key, const std::string& where) {
  const YAML::Node v = rule[key];
  if (!v) return {};
  if (!v.IsScalar()) throw ConfigError(fmt::format("{}: '{}' must be a string", where, key));
  return v.as<std::string>();
}

}  // namespace

std::uint64_t relabel_hash(std::string_view value) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(value.data(), value.size(), digest, &len, EVP_md5(), nullptr);
  std::uint64_t h = 0;
  for (unsigned int i = len - 8; i < len; ++i) h = (h << 8) | digest[i];
  return h;
}

RelabelRules parse_relabel_rules(const YAML::Node& list, const std::string& origin) {
  RelabelRules rules;
  if (!list || list.IsNull()) return rules;
  if (!list.IsSequence()) throw ConfigError(origin + ": expected a list of relabel rules");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string where = fmt::format("{} rule {} (line {})", origin, i, n.Mark().line + 1);
    if (!n.IsMap()) throw ConfigError(where + ": expected a map");
    static const char* known[] = {"source_labels", "separator", "regex", "target_label",
                                  "replacement",   "modulus",   "action"};
    for (const auto& kv : n) {
      const auto key = kv.first.as<std::string>();
      if (std::find(std::begin(known), std::end(known), key) == std::end(known))
        throw ConfigError(fmt::format("{}: unknown field '{}'", where, key));
    }
    RelabelRule r;
    if (const YAML::Node sl = n["source_labels"]) {
      if (!sl.IsSequence()) throw ConfigError(where + ": 'source_labels' must be a list");
      for (const auto& e : sl) {
        auto name = e.as<std::string>();
        if (!wire::valid_label_name(name))
          throw ConfigError(
              fmt::format("{}: source label '{}' is not a valid label name", where, name));
        r.source_labels.push_back(std::move(name));
      }
    }
    if (n["separator"]) r.separator = str_field(n, "separator", where);
    if (n["regex"]) r.regex_text = str_field(n, "regex", where);
    r.target_label = str_field(n, "target_label", where);
    if (n["replacement"]) r.replacement = str_field(n, "replacement", where);
    if (const YAML::Node m = n["modulus"]) {
      try {
        r.modulus = m.as<std::uint64_t>();
      } catch (const YAML::Exception&) {
        throw ConfigError(where + ": 'modulus' must be a positive integer");
      }
    }
    std::string action = n["action"] ? str_field(n, "action", where) : "replace";
    std::transform(action.begin(), action.end(), action.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto it = actions().find(action);
    if (it == actions().end())
      throw ConfigError(fmt::format(
          "{}: unknown action '{}' (replace, keep, drop, keepequal, dropequal, hashmod, labelmap, "
          "labeldrop, labelkeep, lowercase, uppercase)",
          where, action));
    r.action = it->second;

    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<re2::RE2>("^(?:" + r.regex_text + ")$", opts);
    if (!re->ok())
      throw ConfigError(
          fmt::format("{}: invalid regex '{}': {}", where, r.regex_text, re->error()));
    r.regex = std::move(re);

    using A = RelabelAction;
    const bool needs_target = r.action == A::kReplace || r.action == A::kHashMod ||
                              r.action == A::kLowercase || r.action == A::kUppercase ||
                              r.action == A::kKeepEqual || r.action == A::kDropEqual;
    if (needs_target && r.target_label.empty())
      throw ConfigError(fmt::format("{}: action {} needs 'target_label'", where, action));
    // A replace target may be a template ($1); any other target must be a name.
    if (!r.target_label.empty() && !wire::valid_label_name(r.target_label) &&
        !(r.action == A::kReplace && r.target_label.find('$') != std::string::npos))
      throw ConfigError(
          fmt::format("{}: target_label '{}' is not a valid label name", where, r.target_label));
    if (r.action == A::kHashMod && r.modulus == 0)
      throw ConfigError(where + ": action hashmod needs a 'modulus' > 0");
    if ((r.action == A::kLabelDrop || r.action == A::kLabelKeep) &&
        (!r.source_labels.empty() || !r.target_label.empty() || r.modulus != 0 ||
         r.separator != ";" || r.replacement != "$1"))
      throw ConfigError(
          fmt::format("{}: action {} takes only 'regex' (it matches label names)", where, action));
    rules.push_back(std::move(r));
  }
  return rules;
}

RelabelConfig parse_relabel_config(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  RelabelConfig cfg;
  if (root.IsNull()) return cfg;
  if (!root.IsMap())
    throw ConfigError(origin + ": expected a map with 'metrics' and/or 'logs' rule lists");
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    if (key != "metrics" && key != "logs")
      throw ConfigError(fmt::format("{} line {}: unknown section '{}' (metrics, logs)", origin,
                                    kv.first.Mark().line + 1, key));
  }
  try {
    cfg.metrics = parse_relabel_rules(root["metrics"], origin + " metrics");
    cfg.logs = parse_relabel_rules(root["logs"], origin + " logs");
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: {}", origin, e.what()));
  }
  return cfg;
}

RelabelConfig load_relabel_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read relabel rules file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_relabel_config(ss.str(), path);
}

bool relabel(const RelabelRules& rules, Labels& labels) {
  if (rules.empty()) return !labels.empty();
  Builder b(labels);
  std::vector<re2::StringPiece> groups;
  std::string val;
  for (const auto& r : rules) {
    val.clear();
    for (std::size_t i = 0; i < r.source_labels.size(); ++i) {
      if (i) val += r.separator;
      val += b.get(r.source_labels[i]);
    }
    const re2::RE2& re = *r.regex;
    switch (r.action) {
      case RelabelAction::kDrop:
        if (matches(re, val)) return false;
        break;
      case RelabelAction::kKeep:
        if (!matches(re, val)) return false;
        break;
      case RelabelAction::kDropEqual:
        if (val == b.get(r.target_label)) return false;
        break;
      case RelabelAction::kKeepEqual:
        if (val != b.get(r.target_label)) return false;
        break;
      case RelabelAction::kReplace: {
        if (!match(re, val, groups)) break;
        std::string target = expand(r.target_label, re, groups);
        if (!wire::valid_label_name(target)) {
          // As Prometheus: an invalid expanded target skips the rule.
          break;
        }
        b.set(target, expand(r.replacement, re, groups));
        break;
      }
      case RelabelAction::kLowercase:
      case RelabelAction::kUppercase: {
        const bool lower = r.action == RelabelAction::kLowercase;
        for (auto& c : val)
          c = static_cast<char>(lower ? std::tolower(static_cast<unsigned char>(c))
                                      : std::toupper(static_cast<unsigned char>(c)));
        b.set(r.target_label, val);
        break;
      }
      case RelabelAction::kHashMod:
        b.set(r.target_label, std::to_string(relabel_hash(val) % r.modulus));
        break;
      case RelabelAction::kLabelMap: {
        std::vector<Label> add;
        for (const auto& [name, value] : b.items()) {
          if (!match(re, name, groups)) continue;
          std::string to = expand(r.replacement, re, groups);
          if (wire::valid_label_name(to)) add.emplace_back(std::move(to), value);
        }
        for (auto& [name, value] : add) b.set(name, std::move(value));
        break;
      }
      case RelabelAction::kLabelDrop:
      case RelabelAction::kLabelKeep: {
        const bool drop = r.action == RelabelAction::kLabelDrop;
        auto& items = b.items();
        items.erase(std::remove_if(items.begin(), items.end(),
                                   [&](const Label& l) { return matches(re, l.first) == drop; }),
                    items.end());
        break;
      }
    }
  }
  if (b.items().empty()) return false;
  labels = Labels(std::move(b.items()));
  return true;
}

}  // namespace strata::collector

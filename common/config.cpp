#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace strata::config {
namespace {

const char* type_name(Type t) {
  switch (t) {
    case Type::kString:
      return "string";
    case Type::kInt:
      return "integer";
    case Type::kDouble:
      return "number";
    case Type::kBool:
      return "bool";
    case Type::kDuration:
      return "duration";
    case Type::kList:
      return "list";
    case Type::kStringMap:
      return "map";
  }
  return "?";
}

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(trim(cur));
  return out;
}

// Checks that a scalar parses as its declared type; throws naming the key.
void check_scalar(const Option& opt, const std::string& v, const std::string& origin) {
  auto bad = [&](const std::string& expected) {
    throw ConfigError(fmt::format("config key '{}' (from {}): expected {}, got '{}'", opt.key,
                                  origin, expected, v));
  };
  switch (opt.type) {
    case Type::kInt: {
      long long x;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || p != v.data() + v.size()) bad("an integer");
      break;
    }
    case Type::kDouble: {
      char* end = nullptr;
      errno = 0;
      std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0) bad("a number");
      break;
    }
    case Type::kBool:
      if (v != "true" && v != "false") bad("true or false");
      break;
    case Type::kDuration:
      parse_duration(v, fmt::format("config key '{}' (from {})", opt.key, origin));
      break;
    default:
      break;
  }
}

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& what) {
  auto fail = [&] {
    return ConfigError(fmt::format(
        "{}: expected a duration like 500ms, 15s, 5m, 2h, 7d or 1w, got '{}'", what, text));
  };
  if (text.empty()) throw fail();
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) throw fail();
  char* end = nullptr;
  std::string num = text.substr(0, i);
  double n = std::strtod(num.c_str(), &end);
  if (*end != '\0') throw fail();
  std::string unit = text.substr(i);
  double ms;
  if (unit == "ms")
    ms = n;
  else if (unit == "s" || unit.empty())
    ms = n * 1e3;
  else if (unit == "m")
    ms = n * 60e3;
  else if (unit == "h")
    ms = n * 3600e3;
  else if (unit == "d")
    ms = n * 86400e3;
  else if (unit == "w")
    ms = n * 7 * 86400e3;
  else if (unit == "y")  // Prometheus: a year is 365 days
    ms = n * 365 * 86400e3;
  else
    throw fail();
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Schema& Schema::add(std::string key, Type type, std::string default_value, std::string help) {
  if (const Option* existing = find(key)) {
    if (existing->type == type && existing->default_value == default_value) return *this;
    throw std::logic_error("config key declared twice with different definitions: " + key);
  }
  options_.push_back({std::move(key), type, std::move(default_value), std::move(help)});
  return *this;
}

const Option* Schema::find(const std::string& key) const {
  for (const auto& o : options_)
    if (o.key == key) return &o;
  return nullptr;
}

Config::Config(const Schema& schema) : schema_(schema) {
  for (const auto& o : schema_.options()) set(o.key, o.default_value, "default");
}

void Config::set(const std::string& key, const std::string& value, const std::string& origin) {
  const Option* opt = schema_.find(key);
  if (!opt)
    throw ConfigError(
        fmt::format("unknown config key '{}' (from {}); run with --help to list "
                    "the keys this program accepts",
                    key, origin));
  Value v{opt->type, {}, {}, {}, origin};
  if (opt->type == Type::kList) {
    v.list = split(value, ',');
  } else if (opt->type == Type::kStringMap) {
    for (const auto& kv : split(value, ',')) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw ConfigError(fmt::format(
            "config key '{}' (from {}): expected name=value pairs separated by commas, got '{}'",
            key, origin, value));
      v.map[trim(kv.substr(0, eq))] = trim(kv.substr(eq + 1));
    }
  } else {
    check_scalar(*opt, value, origin);
    v.scalar = value;
  }
  values_[key] = std::move(v);
}

void Config::merge_yaml(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  if (root.IsNull()) return;
  if (!root.IsMap())
    throw ConfigError(fmt::format("{}: expected a YAML map of sections at the top level", origin));

  // Walks nested maps; a path that names a declared key consumes the node.
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node,
                                                                        const std::string& prefix) {
    for (const auto& it : node) {
      std::string name = it.first.as<std::string>();
      std::string key = prefix.empty() ? name : prefix + "." + name;
      std::string where = fmt::format("{} line {}", origin, it.first.Mark().line + 1);
      const YAML::Node& value = it.second;
      if (const Option* opt = schema_.find(key)) {
        if (opt->type == Type::kList) {
          if (!value.IsSequence() && !value.IsNull())
            throw ConfigError(fmt::format("config key '{}' ({}): expected a list", key, where));
          Value v{opt->type, {}, {}, {}, where};
          for (const auto& e : value) {
            if (!e.IsScalar())
              throw ConfigError(
                  fmt::format("config key '{}' ({}): list items must be strings", key, where));
            v.list.push_back(e.as<std::string>());
          }
          values_[key] = std::move(v);
        } else if (opt->type == Type::kStringMap) {
          if (!value.IsMap() && !value.IsNull())
            throw ConfigError(
                fmt::format("config key '{}' ({}): expected a map of name: value", key, where));
          Value v{opt->type, {}, {}, {}, where};
          for (const auto& e : value) {
            if (!e.second.IsScalar())
              throw ConfigError(
                  fmt::format("config key '{}' ({}): map values must be strings", key, where));
            v.map[e.first.as<std::string>()] = e.second.as<std::string>();
          }
          values_[key] = std::move(v);
        } else {
          if (!value.IsScalar())
            throw ConfigError(fmt::format("config key '{}' ({}): expected a {} value", key, where,
                                          type_name(opt->type)));
          set(key, value.as<std::string>(), where);
        }
        continue;
      }
      if (value.IsMap()) {
        bool known_prefix = false;
        for (const auto& o : schema_.options())
          if (o.key.rfind(key + ".", 0) == 0) known_prefix = true;
        if (known_prefix) {
          walk(value, key);
          continue;
        }
      }
      std::string known;
      for (const auto& o : schema_.options())
        if (prefix.empty() || o.key.rfind(prefix + ".", 0) == 0)
          known += (known.empty() ? "" : ", ") + o.key;
      throw ConfigError(fmt::format("unknown config key '{}' ({}); known keys{}: {}", key, where,
                                    prefix.empty() ? "" : " under '" + prefix + "'", known));
    }
  };
  walk(root, "");
}

void Config::merge_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("cannot read config file '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  merge_yaml(ss.str(), path);
}

std::optional<Config> Config::from_command_line(const Schema& schema, int argc,
                                                const char* const* argv, const std::string& program,
                                                const std::string& description) {
  Config cfg(schema);
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--check-config") {
      check_only = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      std::cout << usage(schema, program, description);
      return std::nullopt;
    }
    if (a == "--help-markdown") {
      std::cout << markdown(schema, program);
      return std::nullopt;
    }
    if (a.rfind("--", 0) != 0)
      throw ConfigError(
          fmt::format("unexpected argument '{}'; options look like --key=value "
                      "(run {} --help)",
                      a, program));
    std::string key = a.substr(2), value;
    auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw ConfigError(fmt::format("option --{} needs a value", key));
    }
    if (key == "config")
      config_file = value;
    else
      flags.emplace_back(key, value);
  }
  if (!config_file.empty()) cfg.merge_yaml_file(config_file);
  for (const auto& [k, v] : flags) cfg.set(k, v, "flag --" + k);
  if (check_only) {
    std::cout << program << ": configuration is valid\n";
    return std::nullopt;
  }
  return cfg;
}

const Config::Value& Config::get(const std::string& key, Type expected) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.type != expected)
    throw std::logic_error("config key not declared as " + std::string(type_name(expected)) + ": " +
                           key);
  return it->second;
}

const std::string& Config::origin(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("config key not declared: " + key);
  return it->second.origin;
}

std::string Config::str(const std::string& key) const { return get(key, Type::kString).scalar; }
std::int64_t Config::integer(const std::string& key) const {
  return std::stoll(get(key, Type::kInt).scalar);
}
double Config::number(const std::string& key) const {
  return std::stod(get(key, Type::kDouble).scalar);
}
bool Config::boolean(const std::string& key) const {
  return get(key, Type::kBool).scalar == "true";
}
std::chrono::milliseconds Config::duration(const std::string& key) const {
  return parse_duration(get(key, Type::kDuration).scalar, key);
}
std::chrono::milliseconds Config::positive_duration(const std::string& key) const {
  auto d = duration(key);
  if (d.count() <= 0) throw ConfigError("config key '" + key + "': must be greater than 0");
  return d;
}
std::int64_t Config::positive_integer(const std::string& key) const {
  auto v = integer(key);
  if (v <= 0) throw ConfigError("config key '" + key + "': must be greater than 0");
  return v;
}
std::vector<std::string> Config::list(const std::string& key) const {
  return get(key, Type::kList).list;
}
std::map<std::string, std::string> Config::string_map(const std::string& key) const {
  return get(key, Type::kStringMap).map;
}

std::string Config::usage(const Schema& schema, const std::string& program,
                          const std::string& description) {
  std::string out = fmt::format(
      "{}: {}\n\nUsage: {} [--config FILE] [--key=value ...]\n\n"
      "Options (a YAML file nests keys by their dots; flags override the file):\n",
      program, description, program);
  out += "  --config FILE\n      YAML configuration file.\n";
  out +=
      "  --check-config\n      Load and validate the configuration, then exit (0 when valid, 2 if "
      "not).\n";
  for (const auto& o : schema.options())
    out += fmt::format("  --{} <{}>   (default: '{}')\n      {}\n", o.key, type_name(o.type),
                       o.default_value, o.help);
  return out;
}

std::string Config::markdown(const Schema& schema, const std::string& program) {
  std::string out =
      fmt::format("### `{}`\n\n| key | type | default | meaning |\n|---|---|---|---|\n", program);
  for (const auto& o : schema.options())
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", o.key, type_name(o.type), o.default_value,
                       o.help);
  return out + "\n";
}

}  // namespace strata::config

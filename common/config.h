// Configuration: one schema per binary, filled from a YAML file and then from
// command-line flags, validated up front.
//
// Every option is declared once in a Schema (key, type, default, help): that
// declaration is the single place defaults are documented -- `--help` prints
// it and docs/config.md is generated from it (`--help-markdown`). Keys are
// dotted paths ("tsdb.listen"), matching the nesting in the YAML file:
//
//     tsdb:
//       listen: 127.0.0.1:9090
//
// Precedence: default < file (--config FILE) < flag (--tsdb.listen=...).
// Any unknown key, wrong type or unparsable value raises ConfigError naming
// the key, where it came from and what was expected. A binary that gets a
// ConfigError exits with status 2 before starting anything.
//
// Config is immutable after loading and safe to read from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace strata::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Type {
  kString,
  kInt,
  kDouble,
  kBool,
  kDuration,   // "500ms", "15s", "5m", "2h", "7d" or a plain number of seconds
  kList,       // YAML sequence, or comma-separated on the command line
  kStringMap,  // YAML map of strings, or "a=b,c=d" on the command line
};

struct Option {
  std::string key;
  Type type;
  std::string default_value;  // in command-line syntax
  std::string help;
};

class Schema {
 public:
  // Declares an option. Declaring the same key twice is a programming error
  // (std::logic_error), except that an identical re-declaration is ignored so
  // that the all-in-one can merge the schemas of several components.
  Schema& add(std::string key, Type type, std::string default_value, std::string help);
  const Option* find(const std::string& key) const;
  const std::vector<Option>& options() const { return options_; }

 private:
  std::vector<Option> options_;
};

class Config {
 public:
  // Defaults only.
  explicit Config(const Schema& schema);

  // Parses argv: --config FILE, --key=value / --key value, --help,
  // --help-markdown, --check-config. Returns nullopt after printing help or
  // after a successful check (the caller exits 0).
  static std::optional<Config> from_command_line(const Schema& schema, int argc,
                                                 const char* const* argv,
                                                 const std::string& program,
                                                 const std::string& description);

  // Merges a YAML document (file contents); `origin` names it in errors.
  void merge_yaml(const std::string& yaml_text, const std::string& origin);
  void merge_yaml_file(const std::string& path);
  // Sets one key from its command-line form; validates it.
  void set(const std::string& key, const std::string& value, const std::string& origin);

  std::string str(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::chrono::milliseconds duration(const std::string& key) const;
  // The same, for settings that must be greater than 0 (ConfigError naming
  // the key otherwise).
  std::chrono::milliseconds positive_duration(const std::string& key) const;
  std::int64_t positive_integer(const std::string& key) const;
  std::vector<std::string> list(const std::string& key) const;
  std::map<std::string, std::string> string_map(const std::string& key) const;
  // Where a key's value came from: "default", "flag --x", "FILE line N".
  const std::string& origin(const std::string& key) const;
  bool is_default(const std::string& key) const { return origin(key) == "default"; }

  static std::string usage(const Schema& schema, const std::string& program,
                           const std::string& description);
  static std::string markdown(const Schema& schema, const std::string& program);

 private:
  struct Value {
    Type type;
    std::string scalar;                      // kString, kInt, kDouble, kBool, kDuration
    std::vector<std::string> list;           // kList
    std::map<std::string, std::string> map;  // kStringMap
    std::string origin;
  };
  const Value& get(const std::string& key, Type expected) const;
  Schema schema_;
  std::map<std::string, Value> values_;
};

// Parses "500ms", "15s", "5m", "2h", "7d", "1w", "1y" (365d) or a bare number of seconds.
// Throws ConfigError mentioning `what` on bad input.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& what);

}  // namespace strata::config

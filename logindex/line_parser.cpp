#include "logindex/line_parser.h"

#include <re2/re2.h>

#include <simdjson.h>
#include <algorithm>
#include <array>
#include <charconv>

#include "logindex/severity.h"
#include "logindex/timestamp_detector.h"

namespace strata::logindex {
namespace {

// Deeper JSON nesting is not flattened further: the members are skipped.
constexpr int kMaxJsonDepth = 16;

constexpr std::array<std::string_view, 5> kTimeFields = {"ts", "time", "timestamp", "@timestamp",
                                                         "t"};
constexpr std::array<std::string_view, 5> kLevelFields = {"level", "lvl", "severity", "loglevel",
                                                          "log_level"};

std::string sanitize_name(std::string_view raw) {
  std::string name;
  name.reserve(raw.size() + 1);
  if (!raw.empty() && raw[0] >= '0' && raw[0] <= '9') name += '_';
  for (char c : raw) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    name += ok ? c : '_';
  }
  return name;
}

void add_field(ParsedLine& out, std::string_view raw_name, std::string_view value) {
  if (out.fields.size() >= kMaxFields || raw_name.empty() || raw_name.size() > kMaxFieldName)
    return;
  if (value.size() > kMaxFieldValue) value = value.substr(0, kMaxFieldValue);
  out.fields.emplace_back(sanitize_name(raw_name), std::string(value));
}

void flatten_json(simdjson::dom::element el, std::string& prefix, int depth, ParsedLine& out) {
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::OBJECT: {
      if (depth >= kMaxJsonDepth) return;
      std::size_t keep = prefix.size();
      for (auto [key, value] : simdjson::dom::object(el)) {
        if (keep) prefix += '_';
        prefix += key;
        flatten_json(value, prefix, depth + 1, out);
        prefix.resize(keep);
      }
      return;
    }
    case element_type::ARRAY:
    case element_type::NULL_VALUE:
      return;
    case element_type::STRING:
      add_field(out, prefix, std::string_view(el.get_string().value_unsafe()));
      return;
    case element_type::INT64:
      add_field(out, prefix, std::to_string(el.get_int64().value_unsafe()));
      return;
    case element_type::UINT64:
      add_field(out, prefix, std::to_string(el.get_uint64().value_unsafe()));
      return;
    case element_type::DOUBLE: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, el.get_double().value_unsafe());
      add_field(out, prefix, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
      return;
    }
    case element_type::BOOL:
      add_field(out, prefix, el.get_bool().value_unsafe() ? "true" : "false");
      return;
  }
}

bool starts_json_object(std::string_view line) {
  std::size_t i = line.find_first_not_of(" \t");
  return i != std::string_view::npos && line[i] == '{';
}

template <std::size_t N>
const std::string* find_field(const ParsedLine& p, const std::array<std::string_view, N>& names) {
  for (auto name : names)
    for (const auto& [k, v] : p.fields)
      if (k == name || (name == "@timestamp" && k == "_timestamp")) return &v;
  return nullptr;
}

// Timestamp and severity: from the fields when present, else from the text.
void fill_time_and_level(ParsedLine& p, std::string_view line, std::int64_t receive_ns) {
  if (const auto* ts = find_field(p, kTimeFields))
    p.timestamp_ns = parse_timestamp(*ts, receive_ns);
  if (const auto* lv = find_field(p, kLevelFields)) p.level = normalize_severity(*lv);
  std::size_t after = 0;
  if (!p.timestamp_ns) {
    if (auto d = detect_timestamp(line, receive_ns)) {
      p.timestamp_ns = d->ns;
      after = d->end;
    }
  }
  if (p.level.empty() && p.fields.empty()) p.level = detect_severity(line, after);
}

LineFormat parse_format(std::string_view word) {
  if (word == "auto") return LineFormat::kAuto;
  if (word == "json") return LineFormat::kJson;
  if (word == "logfmt") return LineFormat::kLogfmt;
  if (word == "regexp") return LineFormat::kRegexp;
  if (word == "raw") return LineFormat::kRaw;
  throw std::invalid_argument("unknown format \"" + std::string(word) +
                              "\" (expected auto, json, logfmt, regexp or raw)");
}

}  // namespace

bool parse_json_fields(std::string_view line, ParsedLine& out) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(line.data(), line.size(), true).get(root) != simdjson::SUCCESS) return false;
  if (root.type() != simdjson::dom::element_type::OBJECT) return false;
  std::string prefix;
  flatten_json(root, prefix, 0, out);
  return true;
}

bool parse_logfmt_fields(std::string_view line, ParsedLine& out) {
  std::size_t i = 0, n = line.size();
  bool any_pair = false;
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= n) break;
    std::size_t kb = i;
    while (i < n && line[i] != '=' && line[i] != ' ' && line[i] != '\t' && line[i] != '"') ++i;
    std::string_view key = line.substr(kb, i - kb);
    if (i < n && line[i] == '"') return false;  // a quote inside a key
    if (i >= n || line[i] != '=') {
      if (!key.empty()) add_field(out, key, "");  // a bare key, as go-logfmt reads it
      continue;
    }
    ++i;  // '='
    if (key.empty()) return false;
    any_pair = true;
    if (i < n && line[i] == '"') {
      std::string value;
      bool closed = false;
      for (++i; i < n; ++i) {
        char c = line[i];
        if (c == '"') {
          closed = true;
          ++i;
          break;
        }
        if (c == '\\' && i + 1 < n) {
          char e = line[++i];
          value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
          continue;
        }
        value += c;
      }
      if (!closed) return false;
      add_field(out, key, value);
    } else {
      std::size_t vb = i;
      while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
      add_field(out, key, line.substr(vb, i - vb));
    }
  }
  return any_pair;
}

bool parse_regexp_fields(const re2::RE2& pattern, std::string_view line, ParsedLine& out) {
  int groups = pattern.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> match(static_cast<std::size_t>(groups) + 1);
  if (!pattern.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED,
                     match.data(), groups + 1))
    return false;
  for (const auto& [index, name] : pattern.CapturingGroupNames()) {
    const auto& m = match[static_cast<std::size_t>(index)];
    if (m.data() != nullptr) add_field(out, name, std::string_view(m.data(), m.size()));
  }
  return true;
}

LineParser::LineParser(std::vector<ParserRule> rules) : rules_(std::move(rules)) {}

LineParser LineParser::from_specs(const std::vector<std::string>& specs) {
  std::vector<ParserRule> rules;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const std::string& spec = specs[k];
    auto where = "logindex.parsers entry " + std::to_string(k + 1) + " (" + spec + "): ";
    try {
      ParserRule rule;
      std::size_t used = 0;
      rule.selector = StreamSelector::parse(spec, &used);
      std::string_view rest(spec);
      rest.remove_prefix(used);
      std::size_t b = rest.find_first_not_of(" \t");
      if (b == std::string_view::npos) throw std::invalid_argument("missing the format");
      rest.remove_prefix(b);
      std::size_t e = rest.find_first_of(" \t");
      rule.format = parse_format(rest.substr(0, e));
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
      b = rest.find_first_not_of(" \t");
      rest = b == std::string_view::npos ? std::string_view() : rest.substr(b);
      if (rule.format == LineFormat::kRegexp) {
        // The pattern: the rest of the entry, optionally in back quotes.
        if (rest.size() >= 2 && rest.front() == '`' && rest.back() == '`')
          rest = rest.substr(1, rest.size() - 2);
        if (rest.empty()) throw std::invalid_argument("regexp needs a pattern");
        RE2::Options opts;
        opts.set_log_errors(false);
        auto re = std::make_shared<const RE2>(re2::StringPiece(rest.data(), rest.size()), opts);
        if (!re->ok()) throw std::invalid_argument("invalid regexp: " + re->error());
        if (re->NumberOfCapturingGroups() == 0 || re->CapturingGroupNames().empty())
          throw std::invalid_argument("regexp has no named group (?P<name>...)");
        rule.pattern = std::move(re);
      } else if (!rest.empty()) {
        throw std::invalid_argument("unexpected text after the format: " + std::string(rest));
      }
      rules.push_back(std::move(rule));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + e.what());
    }
  }
  return LineParser(std::move(rules));
}

ParsedLine LineParser::parse(const Labels& stream, std::string_view line,
                             std::int64_t receive_ns) const {
  const ParserRule* rule = nullptr;
  for (const auto& r : rules_) {
    if (r.selector.matches(stream)) {
      rule = &r;
      break;
    }
  }
  LineFormat format = rule ? rule->format : LineFormat::kAuto;
  ParsedLine out;
  bool parsed = false;
  switch (format) {
    case LineFormat::kAuto:
      parsed = starts_json_object(line) && parse_json_fields(line, out);
      break;
    case LineFormat::kJson:
      parsed = parse_json_fields(line, out);
      break;
    case LineFormat::kLogfmt:
      parsed = parse_logfmt_fields(line, out);
      break;
    case LineFormat::kRegexp:
      parsed = parse_regexp_fields(*rule->pattern, line, out);
      break;
    case LineFormat::kRaw:
      break;
  }
  // Half-extracted fields of a line that turned out not to be in the format
  // would be misleading: keep none.
  if (!parsed) out.fields.clear();
  fill_time_and_level(out, line, receive_ns);
  return out;
}

std::vector<std::string> LineParser::field_terms(const Labels& stream,
                                                 std::string_view line) const {
  ParsedLine p = parse(stream, line, 0);
  std::vector<std::string> out;
  if (!p.level.empty()) out.push_back("level=" + p.level);
  for (const auto& [name, value] : p.fields) {
    if (value.size() > kMaxIndexedFieldValue || name == "level") continue;
    bool time_field = false;
    for (auto t : kTimeFields) time_field = time_field || name == t || name == "_timestamp";
    if (!time_field) out.push_back(name + "=" + value);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace strata::logindex

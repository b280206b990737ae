// Logging: every Strata process logs through spdlog to stderr, either as
// human-readable text or as one JSON object per line (for log shippers --
// including Strata's own agent). Call setup() once, early in main, before
// starting threads; after that spdlog's default logger is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::logging {

// level: trace|debug|info|warn|error|critical|off. format: text|json.
// Throws std::invalid_argument naming the bad value.
void setup(const std::string& level, const std::string& format);

// JSON-escapes `s` (quotes, backslash, control characters), appending to `out`.
// Shared by the JSON log format and the JSON responses of the services.
void append_json_escaped(std::string& out, std::string_view s);
// Appends `s` as a JSON string literal, quotes included.
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}
// Appends {"k":"v",...} for any range of (string, string) pairs (a label
// set, a std::map): a label set's JSON in every API.
template <typename Pairs>
void append_json_object(std::string& out, const Pairs& pairs) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : pairs) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  }
  out += '}';
}

// RFC 3339 in UTC with milliseconds ("2023-11-14T22:13:20.123Z"), as Go
// prints a time.Time: the JSON log format and the APIs' timestamps.
std::string format_rfc3339_ms(std::int64_t unix_ms);

}  // namespace strata::logging

// LineParser: turns a raw log line into its timestamp, severity and fields,
// by rules chosen per stream, so the store can index `level:error` or
// `request_id:abc` and order lines by when they were written.
//
// Rules are tried in order; the first whose stream selector matches the
// line's stream decides the format:
//
//   auto     JSON when the line is a JSON object, else plain text (default)
//   json     a JSON object (simdjson): scalar members become fields; nested
//            objects are flattened with `_` (`{"a":{"b":1}}` -> a_b=1), as
//            Loki's `| json` does; arrays are skipped
//   logfmt   key=value pairs, values bare or "quoted" with Go escapes
//   regexp   an RE2 pattern whose named groups (?P<name>...) become fields
//   raw      plain text: only timestamp and severity detection
//
// In every format the timestamp comes from a field named ts, time,
// timestamp, @timestamp or t (timestamp_detector.h parse_timestamp), and the
// severity from level, lvl, severity, loglevel or log_level (severity.h);
// failing that, both are detected in the text itself. A line no rule can
// parse -- invalid JSON under `json`, a non-matching regexp -- is not an
// error: it keeps its text, gets the receive time and no fields. A log line
// is never dropped for its shape.
//
// Limits (field explosion from hostile input): at most kMaxFields fields per
// line, names at most kMaxFieldName bytes (longer ones are dropped), values
// cut at kMaxFieldValue bytes. Names are sanitised to [A-Za-z0-9_] (any
// other byte becomes `_`, a leading digit gets a `_` prefix), as Loki does.
//
// Configuration (`logindex.parsers`, one string per rule):
//   {job="nginx"} json
//   {app=~"api-.*"} logfmt
//   {job="legacy"} regexp `^(?P<ts>\S+ \S+) (?P<level>\w+) (?P<msg>.*)$`
//
// A LineParser is immutable after construction and safe to share between
// threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "logindex/stream_selector.h"

namespace re2 {
class RE2;
}

namespace strata::logindex {

inline constexpr std::size_t kMaxFields = 64;
inline constexpr std::size_t kMaxFieldName = 128;
inline constexpr std::size_t kMaxFieldValue = 1024;
inline constexpr std::size_t kMaxIndexedFieldValue = 128;

enum class LineFormat { kAuto, kJson, kLogfmt, kRegexp, kRaw };

struct ParserRule {
  StreamSelector selector;
  LineFormat format = LineFormat::kAuto;
  std::shared_ptr<const re2::RE2> pattern;  // kRegexp only
};

struct ParsedLine {
  // From the line; absent when it names no time (use the receive time).
  std::optional<std::int64_t> timestamp_ns;
  // Normalised (severity.h), or "" when the line names none.
  std::string level;
  // Extracted fields in line order, names sanitised; includes the raw
  // timestamp and level fields when the line had them.
  std::vector<std::pair<std::string, std::string>> fields;
};

class LineParser {
 public:
  LineParser() = default;  // one rule: {} auto
  explicit LineParser(std::vector<ParserRule> rules);

  // Parses `logindex.parsers` entries; throws std::invalid_argument naming
  // the entry (by 1-based index), the position and what is wrong.
  static LineParser from_specs(const std::vector<std::string>& specs);

  // `receive_ns` gives syslog times their year (timestamp_detector.h).
  ParsedLine parse(const Labels& stream, std::string_view line, std::int64_t receive_ns) const;

  // What the store indexes of a line (as kField terms, postings.h): sorted,
  // distinct "name=value" strings -- `level=<normalised>` when a level was
  // found, and every extracted field whose value is at most
  // kMaxIndexedFieldValue bytes (a message field is text, searched by its
  // words, not as one value), except the timestamp fields (unique per line,
  // they would only bloat the dictionary). A pure function of stream and
  // line, so the head, a flush and a merge derive the same terms.
  std::vector<std::string> field_terms(const Labels& stream, std::string_view line) const;

 private:
  std::vector<ParserRule> rules_;
};

// The individual formats, exposed for tests and for LogQL's `| json`,
// `| logfmt` and `| regexp` stages. Each appends fields to `out` and returns
// false when the line is not in that format (fields appended so far stay).
bool parse_json_fields(std::string_view line, ParsedLine& out);
bool parse_logfmt_fields(std::string_view line, ParsedLine& out);
bool parse_regexp_fields(const re2::RE2& pattern, std::string_view line, ParsedLine& out);

}  // namespace strata::logindex

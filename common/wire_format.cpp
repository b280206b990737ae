#include "common/wire_format.h"

#include "common/logging.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>

namespace strata::wire {

namespace {

// Limits (docs/format/wire.md, "Limits"). They bound the memory one request
// can pin in the collector and keep a single series or stream well inside
// Kafka's default 1 MB message size.
constexpr std::size_t kMaxDocumentBytes = 64u << 20;
constexpr std::size_t kMaxLabelsPerSet = 128;
constexpr std::size_t kMaxLabelNameBytes = 1024;
constexpr std::size_t kMaxLabelValueBytes = 4096;
constexpr std::size_t kMaxLineBytes = 256u << 10;
constexpr std::size_t kMaxFieldsPerEntry = 64;
constexpr std::size_t kMaxFieldValueBytes = 64u << 10;

using simdjson::dom::element;
using simdjson::dom::element_type;

[[noreturn]] void fail(std::string_view path, std::string_view what) {
  if (path.empty()) throw WireError(std::string(what));
  throw WireError(fmt::format("{}: {}", path, what));
}

// Byte offset of the first byte that is not part of a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF), or npos.
std::size_t first_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;  // overlong
      if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;  // overlong
      if (c == 0xf4) hi = 0x8f;  // > U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xbf) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Quotes `s` for an error message, cut at a character boundary so that the
// message itself stays valid UTF-8.
std::string quote_for_error(std::string_view s) {
  constexpr std::size_t kMax = 40;
  bool cut = false;
  if (s.size() > kMax) {
    std::size_t end = kMax;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) --end;
    s = s.substr(0, end);
    cut = true;
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  out += cut ? "\"..." : "\"";
  return out;
}

std::string describe(element e) {
  switch (e.type()) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::STRING:
      return "string " + quote_for_error(std::string_view(e));
    case element_type::NULL_VALUE:
      return "null";
    case element_type::BOOL:
      return bool(e) ? "true" : "false";
    case element_type::INT64:
      return std::to_string(int64_t(e));
    case element_type::UINT64:
      return std::to_string(uint64_t(e));
    case element_type::DOUBLE:
      return simdjson::minify(e);
  }
  return "an unknown value";
}

std::string index_path(std::string_view base, std::size_t i) {
  return fmt::format("{}[{}]", base, i);
}

std::string field_path(std::string_view base, std::string_view key) {
  if (base.empty()) return std::string(key);
  return fmt::format("{}.{}", base, key);
}

simdjson::dom::object expect_object(element e, std::string_view path) {
  simdjson::dom::object o;
  if (e.get_object().get(o)) fail(path, "expected an object, got " + describe(e));
  return o;
}

simdjson::dom::array expect_array(element e, std::string_view path) {
  simdjson::dom::array a;
  if (e.get_array().get(a)) fail(path, "expected an array, got " + describe(e));
  return a;
}

std::string_view expect_string(element e, std::string_view path) {
  std::string_view s;
  if (e.get_string().get(s)) fail(path, "expected a string, got " + describe(e));
  // simdjson validated the raw bytes; this also covers what \u escapes decode
  // to, so a future simdjson that tolerated lone surrogates could not let
  // invalid UTF-8 through.
  if (!valid_utf8(s)) fail(path, "invalid UTF-8");
  return s;
}

// The fields of an object, each visited once; duplicate and unknown keys are
// errors (a duplicate would make "which one wins" reader-dependent).
struct Fields {
  element version, series, streams, labels, samples, entries;
  bool has_version = false, has_series = false, has_streams = false, has_labels = false,
       has_samples = false, has_entries = false;
  // Reported only after the version check: a newer version may add fields,
  // and its reader deserves the version error, not this one.
  std::string_view unknown;
};

enum class Kind { kRoot, kSeries, kStream };

Fields collect_fields(simdjson::dom::object o, std::string_view path, Kind kind, bool metrics) {
  Fields f;
  for (auto field : o) {
    // Named copies: clang 14 cannot capture structured bindings in lambdas.
    std::string_view key = field.key;
    simdjson::dom::element value = field.value;
    auto take = [&](element& slot, bool& seen) {
      if (seen) fail(field_path(path, key), "duplicate field");
      slot = value;
      seen = true;
    };
    if (kind == Kind::kRoot && key == "version") {
      take(f.version, f.has_version);
    } else if (kind == Kind::kRoot && metrics && key == "series") {
      take(f.series, f.has_series);
    } else if (kind == Kind::kRoot && !metrics && key == "streams") {
      take(f.streams, f.has_streams);
    } else if (kind != Kind::kRoot && key == "labels") {
      take(f.labels, f.has_labels);
    } else if (kind == Kind::kSeries && key == "samples") {
      take(f.samples, f.has_samples);
    } else if (kind == Kind::kStream && key == "entries") {
      take(f.entries, f.has_entries);
    } else if (f.unknown.empty()) {
      f.unknown = key;
    }
  }
  return f;
}

void reject_unknown(const Fields& f, std::string_view path) {
  if (!f.unknown.empty()) fail(path, "unknown field " + quote_for_error(f.unknown));
}

void check_version(const Fields& f) {
  if (!f.has_version) fail("version", "required field missing");
  int64_t v;
  if (f.version.get_int64().get(v)) {
    fail("version", "expected an integer, got " + describe(f.version));
  }
  if (v != kVersion) {
    fail("version",
         fmt::format("unsupported wire format version {} (this reader supports {})", v, kVersion));
  }
}

void check_label_name(std::string_view name, std::string_view path) {
  if (name.size() > kMaxLabelNameBytes) {
    fail(path, fmt::format("label name longer than {} bytes", kMaxLabelNameBytes));
  }
  if (!valid_label_name(name)) fail(path, "invalid label name " + quote_for_error(name));
}

void check_label_value(std::string_view name, std::string_view value, std::string_view path) {
  if (value.size() > kMaxLabelValueBytes) {
    fail(path, fmt::format("value of label {} longer than {} bytes", name, kMaxLabelValueBytes));
  }
  if (!valid_utf8(value)) fail(path, fmt::format("value of label {} is not valid UTF-8", name));
}

// Labels with an empty value are absent (Prometheus semantics): they are not
// written, not counted and not validated.
void check_labels(const Labels& labels, std::string_view path, bool metrics) {
  std::size_t present = 0;
  for (const auto& [name, value] : labels.items()) {
    if (value.empty()) continue;
    ++present;
    check_label_name(name, path);
    check_label_value(name, value, path);
  }
  if (present == 0) fail(path, "empty label set");
  if (present > kMaxLabelsPerSet) fail(path, fmt::format("more than {} labels", kMaxLabelsPerSet));
  if (metrics && labels.get("__name__").empty()) fail(path, "missing __name__ label");
}

Labels decode_labels(element e, std::string_view path, bool metrics) {
  auto o = expect_object(e, path);
  std::vector<Label> items;
  items.reserve(o.size());
  bool any_empty = false;
  for (auto [key, value] : o) {
    check_label_name(key, path);
    std::string vpath = field_path(path, key);
    std::string_view v;
    if (value.get_string().get(v)) fail(vpath, "expected a string, got " + describe(value));
    any_empty |= v.empty();
    items.emplace_back(std::string(key), std::string(v));
  }
  Labels labels;
  try {
    // Duplicates are refused even when one of them is empty: the sender
    // meant something, and which one is unclear.
    labels = Labels(std::move(items));
  } catch (const std::invalid_argument& ex) {
    fail(path, ex.what());
  }
  check_labels(labels, path, metrics);
  if (any_empty) {
    // So that {a="", b="x"} and {b="x"} are one series with one fingerprint.
    std::vector<Label> kept;
    for (const auto& l : labels.items()) {
      if (!l.second.empty()) kept.push_back(l);
    }
    labels = Labels(std::move(kept));
  }
  return labels;
}

int64_t decode_int64(element e, std::string_view path, bool allow_string) {
  switch (e.type()) {
    case element_type::INT64:
      return int64_t(e);
    case element_type::UINT64:
      fail(path, "timestamp " + describe(e) + " out of the int64 range");
    case element_type::STRING: {
      if (!allow_string) break;
      std::string_view s(e);
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc::result_out_of_range) {
        fail(path, "timestamp " + quote_for_error(s) + " out of the int64 range");
      }
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        fail(path, "expected a timestamp as a decimal integer string, got " + describe(e));
      }
      return v;
    }
    default:
      break;
  }
  fail(path, std::string(allow_string ? "expected an integer timestamp (number or decimal string)"
                                      : "expected an integer timestamp") +
                 ", got " + describe(e));
}

double decode_value(element e, std::string_view path) {
  switch (e.type()) {
    case element_type::INT64:
      return static_cast<double>(int64_t(e));
    case element_type::UINT64:
      return static_cast<double>(uint64_t(e));
    case element_type::DOUBLE:
      return double(e);
    case element_type::STRING: {
      std::string_view s(e);
      if (s == "NaN") return std::bit_cast<double>(kNormalNaNBits);
      if (s == "StaleNaN") return stale_nan();
      if (s == "+Inf") return std::numeric_limits<double>::infinity();
      if (s == "-Inf") return -std::numeric_limits<double>::infinity();
      break;
    }
    default:
      break;
  }
  fail(path, R"(expected a number or one of "NaN","+Inf","-Inf","StaleNaN", got )" + describe(e));
}

element parse_root(simdjson::dom::parser& parser, const simdjson::padded_string& input,
                   std::string_view raw) {
  if (raw.size() > kMaxDocumentBytes) {
    fail("", fmt::format("document of {} bytes exceeds the limit of {} bytes", raw.size(),
                         kMaxDocumentBytes));
  }
  element root;
  auto err = parser.parse(input).get(root);
  if (err == simdjson::UTF8_ERROR) {
    fail("", fmt::format("invalid UTF-8 at byte offset {}", first_invalid_utf8(raw)));
  }
  if (err) fail("", fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  return root;
}

simdjson::dom::parser& thread_parser() {
  // A parser keeps its buffers between documents; one per thread avoids
  // reallocating them for every request.
  thread_local simdjson::dom::parser parser;
  return parser;
}

// ---- encoding ----

using logging::append_json_string;

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ptr);
}

void append_value(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += '"';
    out += format_value(v);
    out += '"';
  } else if (v == 0 && std::signbit(v)) {
    // JSON readers (simdjson included) read the integer literal -0 as 0; the
    // fraction keeps the sign.
    out += "-0.0";
  } else {
    char buf[32];
    char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    // Shortest form may be a plain integer of more than 20 digits (2^70 is
    // "1180591620717411303424"); readers that hold integer literals in 64
    // bits (simdjson among them) refuse those, so large magnitudes go out in
    // exponent form, which is just as exact.
    if (std::fabs(v) >= 1e18 &&
        std::string_view(buf, end - buf).find_first_of(".e") == std::string_view::npos) {
      end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific).ptr;
    }
    out.append(buf, end);
  }
}

void append_labels(std::string& out, const std::vector<Label>& labels, bool skip_empty) {
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (skip_empty && value.empty()) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
  }
  out += '}';
}

void check_line(std::string_view line, std::string_view path) {
  if (line.size() > kMaxLineBytes) {
    fail(path, fmt::format("log line longer than {} bytes", kMaxLineBytes));
  }
  if (!valid_utf8(line)) fail(path, "invalid UTF-8");
}

void check_fields(const std::vector<Label>& fields, std::string_view path) {
  if (fields.size() > kMaxFieldsPerEntry) {
    fail(path, fmt::format("more than {} fields", kMaxFieldsPerEntry));
  }
  std::unordered_set<std::string_view> seen;
  for (const auto& [name, value] : fields) {
    check_label_name(name, path);
    if (!seen.insert(name).second) fail(path, "duplicate field name " + quote_for_error(name));
    if (value.size() > kMaxFieldValueBytes) {
      fail(path, fmt::format("value of field {} longer than {} bytes", name, kMaxFieldValueBytes));
    }
    if (!valid_utf8(value)) fail(path, fmt::format("value of field {} is not valid UTF-8", name));
  }
}

}  // namespace

double stale_nan() { return std::bit_cast<double>(kStaleNaNBits); }

bool is_stale_nan(double v) { return std::bit_cast<std::uint64_t>(v) == kStaleNaNBits; }

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_utf8(std::string_view s) {
  // simdjson's validator is SIMD and checks the same RFC 3629 rules as
  // first_invalid_utf8, which only runs to locate an error.
  return simdjson::validate_utf8(s.data(), s.size());
}

std::string format_value(double v) {
  if (std::isnan(v)) return is_stale_nan(v) ? "StaleNaN" : "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ptr);
}

double parse_value(std::string_view s) {
  auto iequals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char x = a[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
      if (x != b[i]) return false;
    }
    return true;
  };
  if (s == "StaleNaN") return stale_nan();
  if (iequals(s, "nan")) return std::bit_cast<double>(kNormalNaNBits);
  for (std::string_view inf : {"inf", "+inf", "infinity", "+infinity"}) {
    if (iequals(s, inf)) return std::numeric_limits<double>::infinity();
  }
  for (std::string_view inf : {"-inf", "-infinity"}) {
    if (iequals(s, inf)) return -std::numeric_limits<double>::infinity();
  }
  std::string_view digits = s;
  // from_chars takes no '+', but Prometheus (Go's ParseFloat) does.
  if (!digits.empty() && digits[0] == '+') {
    digits.remove_prefix(1);
    if (!digits.empty() && digits[0] == '-')
      throw WireError("invalid float value " + quote_for_error(s));
  }
  // Anything else non-numeric (hex floats, "nan(...)", "-nan") is refused
  // rather than left to from_chars' leniency.
  if (digits.empty() ||
      !((digits[0] >= '0' && digits[0] <= '9') || digits[0] == '.' || digits[0] == '-')) {
    throw WireError("invalid float value " + quote_for_error(s));
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) {
    throw WireError("float value " + quote_for_error(s) + " out of range");
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size() || !std::isfinite(v)) {
    throw WireError("invalid float value " + quote_for_error(s));
  }
  return v;
}

std::string encode(const MetricsBatch& batch) {
  std::string out;
  std::size_t estimate = 32;
  for (const auto& s : batch.series) estimate += 64 + 40 * s.samples.size();
  out.reserve(estimate);
  out += R"({"version":1,"series":[)";
  for (std::size_t i = 0; i < batch.series.size(); ++i) {
    const Series& s = batch.series[i];
    // Writers validate too, so that whatever is encoded decodes.
    check_labels(s.labels, fmt::format("series[{}].labels", i), /*metrics=*/true);
    if (i) out += ',';
    out += R"({"labels":)";
    append_labels(out, s.labels.items(), /*skip_empty=*/true);
    out += R"(,"samples":[)";
    for (std::size_t j = 0; j < s.samples.size(); ++j) {
      if (j) out += ',';
      out += '[';
      append_int(out, s.samples[j].timestamp_ms);
      out += ',';
      append_value(out, s.samples[j].value);
      out += ']';
    }
    out += "]}";
  }
  out += "]}";
  if (out.size() > kMaxDocumentBytes) {
    fail("", fmt::format("encoded document of {} bytes exceeds the limit of {} bytes", out.size(),
                         kMaxDocumentBytes));
  }
  return out;
}

std::string encode(const LogsBatch& batch) {
  std::string out;
  std::size_t estimate = 32;
  for (const auto& s : batch.streams) {
    estimate += 64;
    for (const auto& e : s.entries) estimate += 32 + e.line.size();
  }
  out.reserve(estimate);
  out += R"({"version":1,"streams":[)";
  for (std::size_t i = 0; i < batch.streams.size(); ++i) {
    const LogStream& s = batch.streams[i];
    check_labels(s.labels, fmt::format("streams[{}].labels", i), /*metrics=*/false);
    if (i) out += ',';
    out += R"({"labels":)";
    append_labels(out, s.labels.items(), /*skip_empty=*/true);
    out += R"(,"entries":[)";
    for (std::size_t j = 0; j < s.entries.size(); ++j) {
      const LogEntry& e = s.entries[j];
      // The path of an error is only built for a line that fails: formatting
      // it for every line was a tenth of the agent's shipping CPU.
      if (e.line.size() > kMaxLineBytes || !valid_utf8(e.line))
        check_line(e.line, fmt::format("streams[{}].entries[{}][1]", i, j));
      if (!e.fields.empty())
        check_fields(e.fields, fmt::format("streams[{}].entries[{}][2]", i, j));
      if (j) out += ',';
      // A string: ns timestamps exceed 2^53, which JavaScript and many
      // other JSON readers cannot hold in a number (as in Loki's push API).
      out += "[\"";
      append_int(out, e.timestamp_ns);
      out += "\",";
      append_json_string(out, e.line);
      if (!e.fields.empty()) {
        out += ',';
        append_labels(out, e.fields, /*skip_empty=*/false);
      }
      out += ']';
    }
    out += "]}";
  }
  out += "]}";
  if (out.size() > kMaxDocumentBytes) {
    fail("", fmt::format("encoded document of {} bytes exceeds the limit of {} bytes", out.size(),
                         kMaxDocumentBytes));
  }
  return out;
}

MetricsBatch decode_metrics(std::string_view json) {
  simdjson::padded_string input(json.data(), json.size());
  element root = parse_root(thread_parser(), input, json);
  Fields top = collect_fields(expect_object(root, "(root)"), "", Kind::kRoot, /*metrics=*/true);
  check_version(top);
  reject_unknown(top, "");
  if (!top.has_series) fail("series", "required field missing");

  MetricsBatch batch;
  auto series = expect_array(top.series, "series");
  batch.series.reserve(series.size());
  std::size_t i = 0;
  for (element s : series) {
    std::string spath = index_path("series", i);
    Fields f = collect_fields(expect_object(s, spath), spath, Kind::kSeries, true);
    reject_unknown(f, spath);
    if (!f.has_labels) fail(field_path(spath, "labels"), "required field missing");
    if (!f.has_samples) fail(field_path(spath, "samples"), "required field missing");
    Series out;
    out.labels = decode_labels(f.labels, field_path(spath, "labels"), /*metrics=*/true);
    std::string sp = field_path(spath, "samples");
    auto samples = expect_array(f.samples, sp);
    out.samples.reserve(samples.size());
    std::size_t j = 0;
    for (element pair : samples) {
      // The common case -- [integer, number] -- without building the JSON
      // path an error message would need (three strings per sample).
      simdjson::dom::array fast;
      if (pair.get_array().get(fast) == simdjson::SUCCESS && fast.size() == 2) {
        element t = fast.at(0).value_unsafe(), v = fast.at(1).value_unsafe();
        const auto vt = v.type();
        if (t.type() == element_type::INT64 &&
            (vt == element_type::INT64 || vt == element_type::DOUBLE)) {
          out.samples.push_back({int64_t(t), vt == element_type::DOUBLE
                                                 ? double(v)
                                                 : static_cast<double>(int64_t(v))});
          ++j;
          continue;
        }
      }
      std::string ppath = index_path(sp, j);
      auto a = expect_array(pair, ppath);
      if (a.size() != 2) {
        fail(ppath, fmt::format("expected [timestamp, value], got {} elements", a.size()));
      }
      Sample sample;
      sample.timestamp_ms = decode_int64(a.at(0).value_unsafe(), index_path(ppath, 0), false);
      sample.value = decode_value(a.at(1).value_unsafe(), index_path(ppath, 1));
      out.samples.push_back(sample);
      ++j;
    }
    batch.series.push_back(std::move(out));
    ++i;
  }
  return batch;
}

LogsBatch decode_logs(std::string_view json) {
  simdjson::padded_string input(json.data(), json.size());
  element root = parse_root(thread_parser(), input, json);
  Fields top = collect_fields(expect_object(root, "(root)"), "", Kind::kRoot, /*metrics=*/false);
  check_version(top);
  reject_unknown(top, "");
  if (!top.has_streams) fail("streams", "required field missing");

  LogsBatch batch;
  auto streams = expect_array(top.streams, "streams");
  batch.streams.reserve(streams.size());
  std::size_t i = 0;
  for (element s : streams) {
    std::string spath = index_path("streams", i);
    Fields f = collect_fields(expect_object(s, spath), spath, Kind::kStream, false);
    reject_unknown(f, spath);
    if (!f.has_labels) fail(field_path(spath, "labels"), "required field missing");
    if (!f.has_entries) fail(field_path(spath, "entries"), "required field missing");
    LogStream out;
    out.labels = decode_labels(f.labels, field_path(spath, "labels"), /*metrics=*/false);
    std::string ep = field_path(spath, "entries");
    auto entries = expect_array(f.entries, ep);
    out.entries.reserve(entries.size());
    std::size_t j = 0;
    for (element entry : entries) {
      std::string epath = index_path(ep, j);
      auto a = expect_array(entry, epath);
      if (a.size() != 2 && a.size() != 3) {
        fail(epath, fmt::format("expected [timestamp, line] or [timestamp, line, fields], got {} "
                                "elements",
                                a.size()));
      }
      LogEntry e;
      e.timestamp_ns = decode_int64(a.at(0).value_unsafe(), index_path(epath, 0), true);
      std::string lpath = index_path(epath, 1);
      e.line = std::string(expect_string(a.at(1).value_unsafe(), lpath));
      check_line(e.line, lpath);
      if (a.size() == 3) {
        std::string fpath = index_path(epath, 2);
        auto fields = expect_object(a.at(2).value_unsafe(), fpath);
        for (auto [key, value] : fields) {
          std::string_view v;
          if (value.get_string().get(v)) {
            fail(field_path(fpath, key), "expected a string, got " + describe(value));
          }
          e.fields.emplace_back(std::string(key), std::string(v));
        }
        check_fields(e.fields, fpath);
      }
      out.entries.push_back(std::move(e));
      ++j;
    }
    batch.streams.push_back(std::move(out));
    ++i;
  }
  return batch;
}

}  // namespace strata::wire

#include "collector/loki_push.h"

#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "collector/remote_write.h"
#include "push.pb.h"

namespace strata::collector {
namespace {

using simdjson::dom::element;

std::string describe(element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default: {
      std::string text = simdjson::minify(e);
      if (text.size() > 40) text = text.substr(0, 40) + "...";
      return text;
    }
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DecodeError(path + ": " + what);
}

std::int64_t parse_ns(std::string_view s, const std::string& path) {
  std::int64_t v = 0;
  const bool digits =
      !s.empty() && s != "-" &&
      s.find_first_not_of("0123456789", s.front() == '-' ? 1 : 0) == std::string_view::npos;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!digits || ec != std::errc() || p != s.data() + s.size()) {
    fail(path, "expected a string of nanoseconds since the epoch (decimal digits, int64), got " +
                   error_quote(s));
  }
  return v;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

bool sanitize_utf8(std::string& s) {
  if (wire::valid_utf8(s)) return false;
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  s = std::move(out);
  return true;
}

Labels parse_label_string(std::string_view text) {
  std::size_t i = 0;
  auto err = [&](const std::string& what) -> DecodeError {
    return DecodeError(fmt::format("label set {}: at byte {}: {}", error_quote(text), i, what));
  };
  auto skip_ws = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
      ++i;
  };
  auto hex = [&](std::size_t digits) -> std::uint32_t {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < digits; ++k, ++i) {
      if (i >= text.size()) throw err("truncated escape");
      const char c = text[i];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) throw err("invalid hexadecimal digit in escape");
      v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return v;
  };
  std::vector<Label> labels;
  skip_ws();
  if (i >= text.size() || text[i] != '{') throw err("expected '{'");
  ++i;
  for (;;) {
    skip_ws();
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    const std::size_t start = i;
    while (i < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[i])) != 0 || text[i] == '_'))
      ++i;
    if (i == start) throw err("expected a label name");
    std::string name(text.substr(start, i - start));
    skip_ws();
    if (i >= text.size() || text[i] != '=')
      throw err("expected '=' after label name " + error_quote(name));
    ++i;
    skip_ws();
    if (i >= text.size() || (text[i] != '"' && text[i] != '\'' && text[i] != '`'))
      throw err("expected a quoted label value");
    const char quote = text[i++];
    std::string value;
    for (;;) {
      if (i >= text.size()) throw err("unterminated label value");
      const char c = text[i];
      if (c == quote) {
        ++i;
        break;
      }
      if (c != '\\' || quote == '`') {
        if (c == '\n' && quote != '`') throw err("newline in label value");
        value += c;
        ++i;
        continue;
      }
      if (++i >= text.size()) throw err("truncated escape");
      const char e = text[i++];
      switch (e) {
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case '\\':
          value += '\\';
          break;
        case '"':
          value += '"';
          break;
        case '\'':
          value += '\'';
          break;
        case 'x':
          value += static_cast<char>(hex(2));
          break;
        case 'u':
        case 'U': {
          const std::uint32_t cp = hex(e == 'u' ? 4 : 8);
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) throw err("invalid code point");
          append_utf8(value, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t v = static_cast<std::uint32_t>(e - '0');
            for (int k = 0; k < 2; ++k, ++i) {
              if (i >= text.size() || text[i] < '0' || text[i] > '7')
                throw err("invalid octal escape");
              v = v * 8 + static_cast<std::uint32_t>(text[i] - '0');
            }
            if (v > 255) throw err("invalid octal escape");
            value += static_cast<char>(v);
            break;
          }
          --i;
          throw err(fmt::format("unknown escape \\{}", e));
      }
    }
    if (!value.empty()) labels.emplace_back(std::move(name), std::move(value));
    skip_ws();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    throw err("expected ',' or '}'");
  }
  skip_ws();
  if (i != text.size()) throw err("unexpected text after '}'");
  try {
    return Labels(std::move(labels));
  } catch (const std::invalid_argument& e) {
    throw DecodeError(fmt::format("label set {}: {}", error_quote(text), e.what()));
  }
}

wire::LogsBatch decode_loki_json(std::string_view json, std::size_t* sanitized) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string input(json);
  element root;
  if (auto e = parser.parse(input).get(root)) {
    throw DecodeError(fmt::format("invalid JSON: {}", simdjson::error_message(e)));
  }
  simdjson::dom::object top;
  if (root.get_object().get(top)) fail("(root)", "expected an object, got " + describe(root));
  element streams_el;
  if (top["streams"].get(streams_el)) fail("streams", "required field missing");
  simdjson::dom::array streams;
  if (streams_el.get_array().get(streams))
    fail("streams", "expected an array, got " + describe(streams_el));
  wire::LogsBatch batch;
  batch.streams.reserve(streams.size());
  std::size_t si = 0;
  for (element s : streams) {
    const std::string spath = fmt::format("streams[{}]", si++);
    simdjson::dom::object so;
    if (s.get_object().get(so)) fail(spath, "expected an object, got " + describe(s));
    wire::LogStream stream;
    element labels_el;
    if (!so["stream"].get(labels_el)) {
      simdjson::dom::object lo;
      if (labels_el.get_object().get(lo))
        fail(spath + ".stream",
             "expected an object of label names to strings, got " + describe(labels_el));
      std::vector<Label> labels;
      for (auto [key, value] : lo) {
        std::string_view v;
        if (value.get_string().get(v))
          fail(fmt::format("{}.stream.{}", spath, key),
               "expected a string, got " + describe(value));
        if (!v.empty()) labels.emplace_back(std::string(key), std::string(v));
      }
      try {
        stream.labels = Labels(std::move(labels));
      } catch (const std::invalid_argument& e) {
        fail(spath + ".stream", e.what());
      }
    }
    element values_el;
    if (so["values"].get(values_el)) fail(spath + ".values", "required field missing");
    simdjson::dom::array values;
    if (values_el.get_array().get(values))
      fail(spath + ".values", "expected an array, got " + describe(values_el));
    stream.entries.reserve(values.size());
    std::size_t vi = 0;
    for (element v : values) {
      const std::string vpath = fmt::format("{}.values[{}]", spath, vi++);
      simdjson::dom::array entry;
      if (v.get_array().get(entry) || (entry.size() != 2 && entry.size() != 3))
        fail(vpath, "expected [\"<ns>\", \"<line>\"] or [\"<ns>\", \"<line>\", {metadata}], got " +
                        describe(v));
      wire::LogEntry e;
      std::string_view ts, line;
      if (entry.at(0).get_string().get(ts))
        fail(vpath + "[0]", "expected a string of nanoseconds since the epoch, got " +
                                describe(entry.at(0).value_unsafe()));
      e.timestamp_ns = parse_ns(ts, vpath + "[0]");
      if (entry.at(1).get_string().get(line))
        fail(vpath + "[1]", "expected a string, got " + describe(entry.at(1).value_unsafe()));
      e.line.assign(line);
      if (entry.size() == 3) {
        element meta_el = entry.at(2).value_unsafe();
        simdjson::dom::object meta;
        if (meta_el.get_object().get(meta))
          fail(vpath + "[2]",
               "expected an object of structured metadata, got " + describe(meta_el));
        for (auto [key, value] : meta) {
          std::string_view mv;
          if (value.get_string().get(mv))
            fail(fmt::format("{}[2].{}", vpath, key), "expected a string, got " + describe(value));
          for (const auto& f : e.fields)
            if (f.first == key) fail(vpath + "[2]", "duplicate metadata name " + error_quote(key));
          e.fields.emplace_back(std::string(key), std::string(mv));
        }
      }
      stream.entries.push_back(std::move(e));
    }
    batch.streams.push_back(std::move(stream));
  }
  (void)sanitized;  // simdjson accepts only valid UTF-8: nothing to repair
  return batch;
}

wire::LogsBatch decode_loki_protobuf(std::string_view body, std::size_t max_decoded_bytes,
                                     std::size_t* sanitized) {
  const std::string raw = snappy_uncompress(body, max_decoded_bytes);
  logproto::PushRequest req;
  if (raw.size() > static_cast<std::size_t>(INT32_MAX) ||
      !req.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
    throw DecodeError("the body is not a valid protobuf logproto.PushRequest");
  }
  wire::LogsBatch batch;
  batch.streams.reserve(static_cast<std::size_t>(req.streams_size()));
  for (int i = 0; i < req.streams_size(); ++i) {
    const auto& s = req.streams(i);
    wire::LogStream stream;
    try {
      stream.labels = parse_label_string(s.labels());
    } catch (const DecodeError& e) {
      throw DecodeError(fmt::format("streams[{}].labels: {}", i, e.what()));
    }
    stream.entries.reserve(static_cast<std::size_t>(s.entries_size()));
    for (int j = 0; j < s.entries_size(); ++j) {
      const auto& in = s.entries(j);
      wire::LogEntry e;
      const auto& ts = in.timestamp();
      // seconds * 1e9 + nanos must fit in int64.
      constexpr std::int64_t kMaxSeconds =
          std::numeric_limits<std::int64_t>::max() / 1'000'000'000 - 1;
      if (ts.seconds() > kMaxSeconds || ts.seconds() < -kMaxSeconds || ts.nanos() < 0 ||
          ts.nanos() > 999'999'999)
        throw DecodeError(fmt::format(
            "streams[{}].entries[{}].timestamp: {}s {}ns is outside the int64 nanosecond range", i,
            j, ts.seconds(), ts.nanos()));
      e.timestamp_ns = ts.seconds() * 1'000'000'000 + ts.nanos();
      e.line = in.line();
      if (sanitize_utf8(e.line) && sanitized != nullptr) ++*sanitized;
      for (const auto& m : in.structuredmetadata()) {
        if (m.value().empty() && m.name().empty()) continue;
        for (const auto& f : e.fields)
          if (f.first == m.name())
            throw DecodeError(fmt::format("streams[{}].entries[{}]: duplicate metadata name {}", i,
                                          j, error_quote(m.name())));
        std::string v = m.value();
        sanitize_utf8(v);
        e.fields.emplace_back(m.name(), std::move(v));
      }
      stream.entries.push_back(std::move(e));
    }
    batch.streams.push_back(std::move(stream));
  }
  return batch;
}

}  // namespace strata::collector

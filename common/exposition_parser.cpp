#include "common/exposition_parser.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

namespace strata {

ExpositionError::ExpositionError(std::size_t line, std::size_t column, const std::string& what)
    : std::invalid_argument(fmt::format("line {}, column {}: {}", line, column, what)),
      line_(line),
      column_(column) {}

ExpositionFormat exposition_format_of(std::string_view content_type) {
  std::string lower(content_type.substr(0, content_type.find(';')));
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!lower.empty() && (lower.back() == ' ' || lower.back() == '\t')) lower.pop_back();
  return lower == "application/openmetrics-text" ? ExpositionFormat::kOpenMetrics
                                                 : ExpositionFormat::kPrometheusText;
}

namespace {

bool name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
bool label_start(char c) { return name_start(c) && c != ':'; }
bool label_char(char c) { return name_char(c) && c != ':'; }
bool blank(char c) { return c == ' ' || c == '\t'; }

std::string show(std::string_view line, std::size_t pos) {
  if (pos >= line.size()) return "end of line";
  const unsigned char c = static_cast<unsigned char>(line[pos]);
  if (c < 0x20 || c >= 0x7f) return fmt::format("byte 0x{:02x}", c);
  return fmt::format("'{}'", line[pos]);
}

// Go's strconv.ParseFloat as Prometheus uses it, minus hex floats and
// underscores: [+-]? (decimal | inf | infinity | nan), case-insensitive words.
bool parse_float(std::string_view s, double& out) {
  if (s.empty()) return false;
  bool neg = false;
  std::string_view body = s;
  if (body.front() == '+' || body.front() == '-') {
    neg = body.front() == '-';
    body.remove_prefix(1);
  }
  auto iequals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
  };
  if (iequals(body, "inf") || iequals(body, "infinity")) {
    out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (iequals(body, "nan")) {
    // Prometheus's value.NormalNaN; the wire encodes any NaN as "NaN" anyway.
    out = std::bit_cast<double>(wire::kNormalNaNBits);
    return true;
  }
  if (body.empty() ||
      !(std::isdigit(static_cast<unsigned char>(body.front())) != 0 || body.front() == '.'))
    return false;
  double v = 0;
  auto [p, ec] =
      std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (p != body.data() + body.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    // from_chars does not say which way: strtod does (HUGE_VAL on overflow,
    // an error as in Go; 0 or a denormal on underflow, read as such).
    const std::string copy(body);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v)) return false;
  } else if (ec != std::errc()) {
    return false;
  }
  out = neg ? -v : v;
  return true;
}

constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "summary",       "untyped",
                                       "unknown", "info",  "stateset",  "gaugehistogram"};

class Parser {
 public:
  Parser(std::string_view text, std::int64_t default_ts, ExpositionFormat format)
      : text_(text), default_ts_(default_ts), om_(format == ExpositionFormat::kOpenMetrics) {}

  ParsedExposition run() {
    std::size_t start = 0;
    while (start <= text_.size()) {
      std::size_t end = text_.find('\n', start);
      if (end == std::string_view::npos) end = text_.size();
      ++line_no_;
      std::string_view line = text_.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (saw_eof_) {
        // "# EOF\n" ends the text: only the empty rest after that newline.
        if (!(end == text_.size() && line.empty()))
          fail(0, "content after \"# EOF\": an OpenMetrics exposition ends there");
      } else {
        parse_line(line);
      }
      if (end == text_.size()) break;
      start = end + 1;
    }
    if (om_ && !saw_eof_)
      throw ExpositionError(line_no_, 1,
                            "missing \"# EOF\": an OpenMetrics exposition must end with it (the "
                            "response was probably cut off)");
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(std::size_t pos, const std::string& what) const {
    throw ExpositionError(line_no_, pos + 1, what);
  }

  std::size_t skip_blanks(std::string_view line, std::size_t i) const {
    while (i < line.size() && blank(line[i])) ++i;
    return i;
  }

  MetricMetadata& meta(std::string_view family) {
    auto [it, added] = meta_index_.try_emplace(std::string(family), out_.metadata.size());
    if (added) out_.metadata.push_back({std::string(family), "", "", ""});
    return out_.metadata[it->second];
  }

  // HELP text: \\ and \n in both formats, \" too in OpenMetrics; anything
  // else is kept as written.
  std::string unescape_help(std::string_view s) const {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        const char e = s[i + 1];
        if (e == 'n') {
          out += '\n';
          ++i;
          continue;
        }
        if (e == '\\' || (om_ && e == '"')) {
          out += e;
          ++i;
          continue;
        }
      }
      out += s[i];
    }
    return out;
  }

  void parse_comment(std::string_view line, std::size_t i) {
    const std::size_t hash = i;
    ++i;  // '#'
    const std::size_t kw = skip_blanks(line, i);
    if (kw == i) {  // "#foo": a plain comment (not valid OpenMetrics)
      if (om_) fail(hash, "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\" after '#'");
      return;
    }
    std::size_t kw_end = kw;
    while (kw_end < line.size() && !blank(line[kw_end])) ++kw_end;
    const std::string_view word = line.substr(kw, kw_end - kw);
    if (word == "EOF" && skip_blanks(line, kw_end) == line.size() && om_) {
      saw_eof_ = true;
      return;
    }
    const bool unit = om_ && word == "UNIT";
    if (word != "HELP" && word != "TYPE" && !unit) {
      if (om_)
        fail(kw,
             fmt::format("unknown comment \"# {}\": OpenMetrics allows HELP, TYPE, UNIT and EOF",
                         word));
      return;
    }
    std::size_t n = skip_blanks(line, kw_end);
    if (n == kw_end) fail(n, fmt::format("expected a metric name after # {}", word));
    const std::size_t name_begin = n;
    if (n >= line.size() || !name_start(line[n]))
      fail(n, fmt::format("invalid metric name in # {}: expected [a-zA-Z_:], got {}", word,
                          show(line, n)));
    while (n < line.size() && name_char(line[n])) ++n;
    if (n < line.size() && !blank(line[n]))
      fail(n, fmt::format("invalid character {} in metric name", show(line, n)));
    const std::string_view family = line.substr(name_begin, n - name_begin);
    MetricMetadata& m = meta(family);
    const std::size_t rest = skip_blanks(line, n);
    // OpenMetrics gives each family one descriptor block; a repeated one is
    // a broken exposition, not something to merge silently.
    if (word == "HELP") {
      if (om_ && !helped_.insert(std::string(family)).second)
        fail(hash, fmt::format("second # HELP line for metric family \"{}\"", family));
      m.help = unescape_help(line.substr(rest));
      return;
    }
    if (unit) {
      if (!united_.insert(std::string(family)).second)
        fail(hash, fmt::format("second # UNIT line for metric family \"{}\"", family));
      std::size_t u_end = rest;
      while (u_end < line.size() && !blank(line[u_end])) ++u_end;
      m.unit = std::string(line.substr(rest, u_end - rest));
      if (skip_blanks(line, u_end) != line.size())
        fail(skip_blanks(line, u_end), "unexpected text after the unit");
      if (!m.unit.empty() && !family.ends_with("_" + m.unit))
        fail(name_begin,
             fmt::format("metric family \"{}\" must end with its unit \"_{}\"", family, m.unit));
      return;
    }
    const std::size_t t = rest;
    if (t == n) fail(t, fmt::format("expected a type after # TYPE {}", family));
    std::size_t t_end = t;
    while (t_end < line.size() && !blank(line[t_end])) ++t_end;
    const std::string_view type = line.substr(t, t_end - t);
    if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes))
      fail(t, fmt::format("unknown metric type \"{}\" (counter, gauge, histogram, summary, "
                          "untyped)",
                          type));
    if (skip_blanks(line, t_end) != line.size())
      fail(skip_blanks(line, t_end), "unexpected text after the metric type");
    if (om_ && !m.type.empty())
      fail(hash, fmt::format("second # TYPE line for metric family \"{}\"", family));
    m.type = std::string(type);
    current_family_ = std::string(family);
    current_type_ = m.type;
  }

  // A sample's timestamp: integer ms (text format) or float seconds
  // (OpenMetrics).
  std::int64_t parse_timestamp(std::size_t i, std::string_view t) const {
    if (om_) {
      double secs = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), secs);
      // +-2^53 ms keeps the conversion exact and far from int64 overflow.
      if (ec != std::errc() || p != t.data() + t.size() || !std::isfinite(secs) ||
          std::fabs(secs) > 9.0e12)
        fail(i, fmt::format("invalid timestamp \"{}\": expected seconds since the epoch "
                            "(OpenMetrics)",
                            t));
      return std::llround(secs * 1000.0);
    }
    std::int64_t ts = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), ts);
    if (ec != std::errc() || p != t.data() + t.size())
      fail(i, fmt::format("invalid timestamp \"{}\": expected integer milliseconds since the "
                          "epoch",
                          t));
    return ts;
  }

  // OpenMetrics exemplar after " # ": {labels} value [timestamp]. Checked and
  // dropped.
  void parse_exemplar(std::string_view line, std::size_t i) {
    i = skip_blanks(line, i + 1);
    if (i >= line.size() || line[i] != '{')
      fail(i, "expected '{' to open the labels of an exemplar, got " + show(line, i));
    std::vector<Label> labels;
    i = parse_labels(line, i + 1, labels);
    const std::size_t v = skip_blanks(line, i);
    if (v == i || v == line.size()) fail(v, "expected a value after the exemplar's labels");
    std::size_t v_end = v;
    while (v_end < line.size() && !blank(line[v_end])) ++v_end;
    double value = 0;
    if (!parse_float(line.substr(v, v_end - v), value))
      fail(v, fmt::format("invalid exemplar value \"{}\"", line.substr(v, v_end - v)));
    i = skip_blanks(line, v_end);
    if (i < line.size()) {
      std::size_t t_end = i;
      while (t_end < line.size() && !blank(line[t_end])) ++t_end;
      parse_timestamp(i, line.substr(i, t_end - i));
      i = skip_blanks(line, t_end);
      if (i < line.size()) fail(i, "unexpected text after the exemplar: " + show(line, i));
    }
  }

  bool dropped_created(std::string_view name) const {
    if (!om_ || !name.ends_with("_created")) return false;
    if (name.substr(0, name.size() - 8) != current_family_) return false;
    return current_type_ == "counter" || current_type_ == "histogram" ||
           current_type_ == "summary" || current_type_ == "gaugehistogram";
  }

  void parse_line(std::string_view line) {
    std::size_t i = skip_blanks(line, 0);
    if (i == line.size()) return;
    if (line[i] == '#') return parse_comment(line, i);

    std::vector<Label> labels;
    const std::size_t name_begin = i;
    if (!name_start(line[i]))
      fail(i, "expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got " + show(line, i));
    while (i < line.size() && name_char(line[i])) ++i;
    const std::string_view name = line.substr(name_begin, i - name_begin);
    labels.emplace_back("__name__", std::string(name));
    // Blanks may separate the name from its braces.
    if (const std::size_t brace = skip_blanks(line, i); brace < line.size() && line[brace] == '{')
      i = parse_labels(line, brace + 1, labels);

    const std::size_t before_value = i;
    i = skip_blanks(line, i);
    if (i == line.size()) fail(i, "expected a value after the metric, got end of line");
    if (i == before_value)
      fail(i, "expected a space, '{' or a value after the metric name, got " + show(line, i));
    std::size_t v_end = i;
    while (v_end < line.size() && !blank(line[v_end])) ++v_end;
    double value = 0;
    if (!parse_float(line.substr(i, v_end - i), value))
      fail(i, fmt::format("invalid value \"{}\": expected a float, NaN, +Inf or -Inf",
                          line.substr(i, v_end - i)));
    std::int64_t ts = default_ts_;
    i = skip_blanks(line, v_end);
    if (i < line.size() && !(om_ && line[i] == '#')) {
      std::size_t t_end = i;
      while (t_end < line.size() && !blank(line[t_end])) ++t_end;
      ts = parse_timestamp(i, line.substr(i, t_end - i));
      i = skip_blanks(line, t_end);
    }
    if (i < line.size()) {
      if (om_ && line[i] == '#')
        parse_exemplar(line, i);
      else
        fail(i, "unexpected text after the timestamp: " + show(line, i));
    }
    if (dropped_created(name)) return;

    Labels set;
    try {
      set = Labels(std::move(labels));
    } catch (const std::invalid_argument& e) {
      fail(name_begin, e.what());
    }
    auto [it, inserted] = index_.try_emplace(set, out_.batch.series.size());
    if (inserted) {
      out_.batch.series.push_back({std::move(set), {}});
      out_.sample_lines.emplace_back();
    }
    out_.batch.series[it->second].samples.push_back({ts, value});
    out_.sample_lines[it->second].push_back(line_no_);
  }

  // After '{'; returns the position after '}'.
  std::size_t parse_labels(std::string_view line, std::size_t i, std::vector<Label>& labels) {
    for (;;) {
      i = skip_blanks(line, i);
      if (i < line.size() && line[i] == '}') return i + 1;
      if (i >= line.size() || !label_start(line[i]))
        fail(i, "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}', got " + show(line, i));
      const std::size_t nb = i;
      while (i < line.size() && label_char(line[i])) ++i;
      std::string name(line.substr(nb, i - nb));
      i = skip_blanks(line, i);
      if (i >= line.size() || line[i] != '=')
        fail(i, fmt::format("expected '=' after label name \"{}\", got {}", name, show(line, i)));
      i = skip_blanks(line, i + 1);
      if (i >= line.size() || line[i] != '"')
        fail(i, fmt::format("expected '\"' to open the value of label \"{}\", got {}", name,
                            show(line, i)));
      ++i;
      std::string value;
      for (;;) {
        if (i >= line.size()) fail(i, fmt::format("unterminated value of label \"{}\"", name));
        const char c = line[i];
        if (c == '"') {
          ++i;
          break;
        }
        if (c == '\\' && i + 1 < line.size()) {
          const char e = line[i + 1];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else if (om_) {
            fail(i, fmt::format("invalid escape of {} in the value of label \"{}\" (OpenMetrics "
                                "allows \\\\, \\\" and \\n)",
                                show(line, i + 1), name));
          } else {  // kept as written, as Prometheus does
            value += '\\';
            value += e;
          }
          i += 2;
          continue;
        }
        value += c;
        ++i;
      }
      if (name == "__name__")
        fail(nb, "label __name__ inside braces: the metric name goes before '{'");
      if (!value.empty()) {
        for (const auto& l : labels)
          if (l.first == name) fail(nb, fmt::format("duplicate label name \"{}\"", name));
        labels.emplace_back(std::move(name), std::move(value));
      }
      i = skip_blanks(line, i);
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] == '}') return i + 1;
      fail(i, "expected ',' or '}' after a label value, got " + show(line, i));
    }
  }

  std::string_view text_;
  std::int64_t default_ts_;
  bool om_;
  bool saw_eof_ = false;
  std::size_t line_no_ = 0;
  ParsedExposition out_;
  std::map<Labels, std::size_t> index_;
  std::map<std::string, std::size_t, std::less<>> meta_index_;
  std::set<std::string> helped_, united_;
  std::string current_family_, current_type_;
};

}  // namespace

ParsedExposition parse_exposition(std::string_view text, std::int64_t default_timestamp_ms,
                                  ExpositionFormat format) {
  return Parser(text, default_timestamp_ms, format).run();
}

}  // namespace strata

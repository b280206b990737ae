#include "collector/exposition_parser.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "collector/validator.h"

namespace strata::collector {

ExpositionError::ExpositionError(std::size_t line, std::size_t column, const std::string& what)
    : DecodeError(fmt::format("line {}, column {}: {}", line, column, what)),
      line_(line),
      column_(column) {}

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

class Parser {
 public:
  Parser(std::string_view text, std::int64_t default_ts) : text_(text), default_ts_(default_ts) {}

  ParsedExposition run() {
    std::size_t start = 0;
    while (start <= text_.size()) {
      std::size_t end = text_.find('\n', start);
      if (end == std::string_view::npos) end = text_.size();
      ++line_no_;
      std::string_view line = text_.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      parse_line(line);
      if (end == text_.size()) break;
      start = end + 1;
    }
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

  void parse_comment(std::string_view line, std::size_t i) {
    ++i;  // '#'
    const std::size_t kw = skip_blanks(line, i);
    if (kw == i) return;  // "#foo": a plain comment
    std::size_t kw_end = kw;
    while (kw_end < line.size() && !blank(line[kw_end])) ++kw_end;
    const std::string_view word = line.substr(kw, kw_end - kw);
    if (word != "HELP" && word != "TYPE") return;
    std::size_t n = skip_blanks(line, kw_end);
    if (n == kw_end) fail(n, fmt::format("expected a metric name after # {}", word));
    const std::size_t name_begin = n;
    if (n >= line.size() || !name_start(line[n]))
      fail(n, fmt::format("invalid metric name in # {}: expected [a-zA-Z_:], got {}", word,
                          show(line, n)));
    while (n < line.size() && name_char(line[n])) ++n;
    if (n < line.size() && !blank(line[n]))
      fail(n, fmt::format("invalid character {} in metric name", show(line, n)));
    if (word == "HELP") return;  // the docstring is free text
    std::size_t t = skip_blanks(line, n);
    if (t == n)
      fail(t,
           fmt::format("expected a type after # TYPE {}", line.substr(name_begin, n - name_begin)));
    std::size_t t_end = t;
    while (t_end < line.size() && !blank(line[t_end])) ++t_end;
    const std::string_view type = line.substr(t, t_end - t);
    static constexpr std::string_view kTypes[] = {"counter", "gauge",    "histogram",
                                                  "summary", "untyped",  "unknown",
                                                  "info",    "stateset", "gaugehistogram"};
    if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes))
      fail(t, fmt::format("unknown metric type \"{}\" (counter, gauge, histogram, summary, "
                          "untyped)",
                          type));
    if (skip_blanks(line, t_end) != line.size())
      fail(skip_blanks(line, t_end), "unexpected text after the metric type");
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
    labels.emplace_back("__name__", std::string(line.substr(name_begin, i - name_begin)));
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
    if (i < line.size()) {
      std::size_t t_end = i;
      while (t_end < line.size() && !blank(line[t_end])) ++t_end;
      const std::string_view t = line.substr(i, t_end - i);
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), ts);
      if (ec != std::errc() || p != t.data() + t.size())
        fail(i, fmt::format("invalid timestamp \"{}\": expected integer milliseconds since the "
                            "epoch",
                            t));
      i = skip_blanks(line, t_end);
      if (i < line.size()) fail(i, "unexpected text after the timestamp: " + show(line, i));
    }

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
  std::size_t line_no_ = 0;
  ParsedExposition out_;
  std::map<Labels, std::size_t> index_;
};

}  // namespace

ParsedExposition parse_exposition(std::string_view text, std::int64_t default_timestamp_ms) {
  return Parser(text, default_timestamp_ms).run();
}

}  // namespace strata::collector

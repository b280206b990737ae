#include "alerting/rule_test_file.h"

#include <glob.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/wire_format.h"
#include "tsdb/promql/parser.h"

namespace strata::alerting::ruletest {

NotationError::NotationError(std::size_t position, const std::string& message)
    : std::invalid_argument(fmt::format("char {}: {}", position, message)), position_(position) {}

TestFileError::TestFileError(std::vector<std::string> messages)
    : std::runtime_error([&] {
        std::string out;
        for (const auto& m : messages) {
          if (!out.empty()) out += '\n';
          out += m;
        }
        return out;
      }()),
      messages_(std::move(messages)) {}

// ---- series values ---------------------------------------------------------

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Reads the items of one whitespace-separated word of a `values` string.
class ItemReader {
 public:
  ItemReader(std::string_view word, std::size_t offset) : w_(word), offset_(offset) {}

  bool done() const { return i_ >= w_.size(); }
  char peek() const { return done() ? '\0' : w_[i_]; }
  std::size_t pos() const { return offset_ + i_ + 1; }  // 1-based in the whole text
  void advance() { ++i_; }
  std::string_view rest() const { return w_.substr(std::min(i_, w_.size())); }

  [[noreturn]] void fail(const std::string& message) const { throw NotationError(pos(), message); }

  // An unsigned number: digits with an optional fraction and exponent, or
  // Inf / NaN (any case). Stops before an 'x' (the repetition) or a sign.
  double number(const char* what) {
    const std::size_t start = i_;
    if (iequals(w_.substr(i_, 3), "inf") || iequals(w_.substr(i_, 3), "nan")) {
      const bool inf = std::tolower(static_cast<unsigned char>(w_[i_])) == 'i';
      i_ += 3;
      return inf ? HUGE_VAL : std::nan("");
    }
    while (!done() && is_digit(peek())) ++i_;
    if (!done() && peek() == '.') {
      ++i_;
      while (!done() && is_digit(peek())) ++i_;
    }
    const bool digits = std::any_of(w_.begin() + static_cast<std::ptrdiff_t>(start),
                                    w_.begin() + static_cast<std::ptrdiff_t>(i_), is_digit);
    if (!digits) {
      i_ = start;
      fail(fmt::format("expected {}, got \"{}\"", what, rest()));
    }
    if (!done() && (peek() == 'e' || peek() == 'E')) {
      std::size_t save = i_;
      ++i_;
      if (!done() && (peek() == '+' || peek() == '-')) ++i_;
      if (done() || !is_digit(peek())) {
        i_ = save;
        fail(fmt::format("bad exponent in \"{}\"", rest()));
      }
      while (!done() && is_digit(peek())) ++i_;
    }
    const std::string text(w_.substr(start, i_ - start));
    return std::strtod(text.c_str(), nullptr);
  }

  // [+-] number
  double signed_number(const char* what) {
    double sign = 1;
    if (peek() == '+' || peek() == '-') {
      sign = peek() == '-' ? -1 : 1;
      advance();
    }
    return sign * number(what);
  }

  // The n of `xn`: a non-negative decimal integer ending the word.
  std::uint64_t count() {
    const std::size_t start = i_;
    while (!done() && is_digit(peek())) ++i_;
    if (i_ == start || !done()) {
      i_ = start;
      fail(fmt::format("expected a repetition count after 'x' (a non-negative integer), got \"{}\"",
                       rest()));
    }
    const std::string text(w_.substr(start));
    errno = 0;
    const auto n = std::strtoull(text.c_str(), nullptr, 10);
    if (errno == ERANGE) {
      i_ = start;
      fail("repetition count out of range: " + text);
    }
    return n;
  }

 private:
  std::string_view w_;
  std::size_t offset_;
  std::size_t i_ = 0;
};

}  // namespace

std::vector<std::optional<double>> expand_series_values(std::string_view text,
                                                        std::size_t max_values) {
  std::vector<std::optional<double>> out;
  auto room = [&](std::uint64_t n, const ItemReader& r) {
    if (n > max_values || out.size() + n > max_values)
      throw NotationError(r.pos(), fmt::format("expands to more than {} values", max_values));
  };
  std::size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !is_space(text[end])) ++end;
    ItemReader r(text.substr(i, end - i), i);
    const std::string_view word = text.substr(i, end - i);
    i = end;
    if (word == "stale") {
      room(1, r);
      out.emplace_back(wire::stale_nan());
      continue;
    }
    if (word[0] == '_') {
      r.advance();
      std::uint64_t n = 1;
      if (!r.done()) {
        if (r.peek() != 'x') r.fail(fmt::format("expected '_' or '_xN', got \"{}\"", word));
        r.advance();
        n = r.count();
      }
      room(n, r);
      out.insert(out.end(), n, std::nullopt);
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(word[0])) && !iequals(word.substr(0, 3), "inf") &&
        !iequals(word.substr(0, 3), "nan"))
      r.fail(fmt::format("expected a number, '_' or \"stale\", got \"{}\"", word));
    double value = r.signed_number("a number");
    if (r.done()) {
      room(1, r);
      out.emplace_back(value);
      continue;
    }
    double step = 0;
    if (r.peek() == '+' || r.peek() == '-') {
      step = r.signed_number("a number after the sign");
      if (r.peek() != 'x')
        r.fail(r.done() ? "expected 'xN' after a+b (a+bxN)"
                        : fmt::format("expected 'xN' after a+b, got \"{}\"", r.rest()));
    } else if (r.peek() != 'x') {
      r.fail(fmt::format("unexpected \"{}\" after a number", r.rest()));
    }
    r.advance();  // the x
    const std::uint64_t n = r.count();
    room(n + 1, r);
    out.emplace_back(value);
    // Each value is the previous one plus the step, as Prometheus computes
    // it (not a + k*b, which rounds differently).
    for (std::uint64_t k = 1; k <= n; ++k) {
      value += step;
      out.emplace_back(value);
    }
  }
  return out;
}

// ---- label sets ------------------------------------------------------------

Labels parse_series_labels(std::string_view text, bool allow_empty) {
  using tsdb::promql::Lexer;
  using tsdb::promql::ParseError;
  using tsdb::promql::TokenKind;
  auto trimmed = text;
  while (!trimmed.empty() && is_space(trimmed.front())) trimmed.remove_prefix(1);
  while (!trimmed.empty() && is_space(trimmed.back())) trimmed.remove_suffix(1);
  if (trimmed.empty()) {
    if (allow_empty) return {};
    throw NotationError(1, "empty series: expected name{label=\"value\", ...}");
  }
  try {
    Lexer lexer(text);
    std::vector<Label> labels;
    std::set<std::string> names;
    auto add = [&](std::string name, std::string value, std::size_t pos) {
      if (!names.insert(name).second)
        throw NotationError(pos, fmt::format("label \"{}\" given twice", name));
      if (!value.empty()) labels.emplace_back(std::move(name), std::move(value));
    };
    const auto& first = lexer.peek();
    if (first.kind == TokenKind::kIdentifier || first.kind == TokenKind::kMetricIdentifier ||
        tsdb::promql::is_keyword(first.kind)) {
      add("__name__", std::string(first.text), first.pos + 1);
      lexer.next();
    } else if (first.kind != TokenKind::kLeftBrace) {
      throw NotationError(first.pos + 1, fmt::format("expected a metric name or '{{', got \"{}\"",
                                                     text.substr(first.pos)));
    }
    if (lexer.peek().kind == TokenKind::kLeftBrace) {
      const std::size_t brace = lexer.peek().pos;
      auto sel = tsdb::promql::parse_vector_selector_prefix(lexer, {});
      for (const auto& m : sel->matchers) {
        if (m.op() != tsdb::MatchOp::kEqual)
          throw NotationError(
              brace + 1, fmt::format("label {}: a series takes name=\"value\", not {}", m.name(),
                                     tsdb::to_string(m.op())));
        add(m.name(), m.value(), brace + 1);
      }
    }
    const auto& last = lexer.peek();
    if (last.kind != TokenKind::kEof)
      throw NotationError(last.pos + 1, fmt::format("unexpected \"{}\" after the label set",
                                                    text.substr(last.pos)));
    if (labels.empty() && !allow_empty) throw NotationError(1, "a series needs at least one label");
    for (const auto& [name, value] : labels)
      if (!wire::valid_label_name(name))
        throw NotationError(1, fmt::format("invalid label name \"{}\"", name));
    return Labels(std::move(labels));
  } catch (const ParseError& e) {
    throw NotationError(e.position(), e.detail());
  }
}

// ---- durations -------------------------------------------------------------

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  auto unit = [&](const char* name, std::int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    if (const auto v = ms / mult; v > 0) {
      out += fmt::format("{}{}", v, name);
      ms -= v * mult;
    }
  };
  constexpr std::int64_t kDay = 24LL * 3600 * 1000;
  unit("y", 365 * kDay, true);
  unit("w", 7 * kDay, true);
  unit("d", kDay, false);
  unit("h", 3600 * 1000, false);
  unit("m", 60 * 1000, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

std::chrono::milliseconds TestGroup::max_eval_time() const {
  std::chrono::milliseconds m{0};
  for (const auto& a : alert_tests) m = std::max(m, a.eval_time);
  for (const auto& e : expr_tests) m = std::max(m, e.eval_time);
  return m;
}

// ---- the YAML file ---------------------------------------------------------

namespace {

// YAML 1.1 floats as Go's yaml.v2 reads them (.inf, -.Inf, .nan), and
// anything strtod takes whole (1e3, Inf, NaN).
std::optional<double> parse_float(const std::string& s) {
  static const std::set<std::string> pos_inf = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  static const std::set<std::string> neg_inf = {"-.inf", "-.Inf", "-.INF"};
  static const std::set<std::string> nan = {".nan", ".NaN", ".NAN"};
  if (pos_inf.count(s)) return HUGE_VAL;
  if (neg_inf.count(s)) return -HUGE_VAL;
  if (nan.count(s)) return std::nan("");
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

class Parser {
 public:
  explicit Parser(std::string path) : path_(std::move(path)) {}

  std::vector<std::string>& errors() { return errors_; }

  TestFile run(const std::string& text) {
    TestFile f;
    f.path = path_;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) lines_.push_back(line);
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      error(e.mark, "", "YAML: " + e.msg);
      return f;
    }
    if (root.IsNull()) return f;
    if (!root.IsMap()) {
      error(root.Mark(), "", "expected a map (rule_files, evaluation_interval, tests...)");
      return f;
    }
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "rule_files") {
        string_list(v, key, f.rule_files);
      } else if (key == "evaluation_interval") {
        duration(v, key, f.evaluation_interval);
        if (f.evaluation_interval.count() == 0) f.evaluation_interval = std::chrono::minutes(1);
      } else if (key == "group_eval_order") {
        string_list(v, key, f.group_eval_order);
        std::set<std::string> seen;
        for (const auto& g : f.group_eval_order)
          if (!seen.insert(g).second)
            error(v.Mark(), key, fmt::format("group name repeated in evaluation order: {}", g));
      } else if (key == "fuzzy_compare") {
        // Newer promtool's option; values are always compared within 1e-9
        // relative here, so it only needs to be well-formed.
        std::string s;
        if (scalar(v, key, s) && s != "true" && s != "false")
          error(v.Mark(), key, "expected true or false, got \"" + s + "\"");
      } else if (key != "tests") {
        unknown(kv.first, "", key);
      }
    }
    if (YAML::Node tests = root["tests"]; tests && !tests.IsNull()) {
      if (!tests.IsSequence()) {
        error(tests.Mark(), "tests", "expected a list");
      } else {
        std::size_t i = 0;
        for (const auto& t : tests) f.tests.push_back(test_group(t, fmt::format("tests[{}]", i++)));
      }
    }
    for (auto& t : f.tests)
      if (t.interval.count() == 0) t.interval = f.evaluation_interval;
    return f;
  }

 private:
  void error(const YAML::Mark& m, const std::string& field, const std::string& msg) {
    const std::string loc =
        m.is_null() ? path_ : fmt::format("{}:{}:{}", path_, m.line + 1, m.column + 1);
    errors_.push_back(field.empty() ? fmt::format("{}: {}", loc, msg)
                                    : fmt::format("{}: {}: {}", loc, field, msg));
  }

  void unknown(const YAML::Node& key, const std::string& where, const std::string& name) {
    error(key.Mark(), where.empty() ? name : where + "." + name,
          "unknown field '" + name + "' (promtool's test file format)");
  }

  bool scalar(const YAML::Node& n, const std::string& field, std::string& out) {
    if (!n.IsScalar()) {
      error(n.Mark(), field, n.IsNull() ? "expected a value" : "expected a string");
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool duration(const YAML::Node& n, const std::string& field, std::chrono::milliseconds& out) {
    std::string s;
    if (!scalar(n, field, s)) return false;
    try {
      out = tsdb::promql::parse_duration(s);
    } catch (const std::exception&) {
      error(n.Mark(), field, fmt::format("not a valid duration: \"{}\"", s));
      return false;
    }
    return true;
  }

  void string_list(const YAML::Node& n, const std::string& field, std::vector<std::string>& out) {
    if (n.IsNull()) return;
    if (!n.IsSequence()) {
      error(n.Mark(), field, "expected a list of strings");
      return;
    }
    std::size_t i = 0;
    for (const auto& item : n) {
      std::string s;
      if (scalar(item, fmt::format("{}[{}]", field, i), s)) out.push_back(s);
      ++i;
    }
  }

  void string_map(const YAML::Node& n, const std::string& field,
                  std::map<std::string, std::string>& out) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      error(n.Mark(), field, "expected a map of strings");
      return;
    }
    for (const auto& kv : n) {
      const std::string name = kv.first.Scalar();
      std::string value;
      if (scalar(kv.second, field + "." + name, value)) out[name] = value;
    }
  }

  template <typename Fn>
  void list(const YAML::Node& n, const std::string& field, Fn each) {
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) {
      error(n.Mark(), field, "expected a list");
      return;
    }
    std::size_t i = 0;
    for (const auto& item : n) {
      const std::string where = fmt::format("{}[{}]", field, i++);
      if (!item.IsMap()) {
        error(item.Mark(), where, "expected a map");
        continue;
      }
      each(item, where);
    }
  }

  // The file column (0-based) of the value's character `k` (0-based) when
  // the value is a one-line scalar, plain or quoted, that can be mapped back
  // (no escapes before it); -1 otherwise.
  int column_of(const YAML::Mark& m, std::size_t k) const {
    if (m.is_null() || m.line < 0 || static_cast<std::size_t>(m.line) >= lines_.size()) return -1;
    const std::string& raw = lines_[static_cast<std::size_t>(m.line)];
    const auto c = static_cast<std::size_t>(m.column);
    if (c >= raw.size()) return -1;
    const char q = raw[c];
    if (q != '\'' && q != '"') return c + k <= raw.size() ? static_cast<int>(c + k) : -1;
    for (std::size_t i = c + 1, n = 0; i < raw.size(); ++i, ++n) {
      if (n == k) return static_cast<int>(i);
      if (q == '"' && (raw[i] == '\\' || raw[i] == '"')) return -1;
      if (q == '\'' && raw[i] == '\'') {
        if (i + 1 >= raw.size() || raw[i + 1] != '\'') return -1;  // the closing quote
        ++i;                                                       // '' is one quote
      }
    }
    return -1;
  }

  // Where in the file a notation error points: at the offending character
  // when it can be located (column_of), else at the value.
  void notation_error(const YAML::Node& n, const std::string& field, const NotationError& e) {
    YAML::Mark m = n.Mark();
    if (n.Scalar().find('\n') == std::string::npos && e.position() > 0)
      if (int col = column_of(m, e.position() - 1); col >= 0) m.column = col;
    error(m, field, e.what());
  }

  TestGroup test_group(const YAML::Node& t, const std::string& where) {
    TestGroup g;
    if (!t.IsMap()) {
      error(t.Mark(), where, "a test must be a map");
      return g;
    }
    for (const auto& kv : t) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      const std::string field = where + "." + key;
      if (key == "name") {
        scalar(v, field, g.name);
      } else if (key == "interval") {
        duration(v, field, g.interval);
      } else if (key == "external_labels") {
        string_map(v, field, g.external_labels);
        for (const auto& [name, value] : g.external_labels)
          if (!wire::valid_label_name(name))
            error(v.Mark(), field, fmt::format("invalid label name \"{}\"", name));
      } else if (key == "external_url") {
        scalar(v, field, g.external_url);
      } else if (key == "input_series") {
        list(v, field, [&](const YAML::Node& s, const std::string& w) { input_series(s, w, g); });
      } else if (key == "alert_rule_test") {
        list(v, field, [&](const YAML::Node& a, const std::string& w) { alert_test(a, w, g); });
      } else if (key == "promql_expr_test") {
        list(v, field, [&](const YAML::Node& e, const std::string& w) { expr_test(e, w, g); });
      } else {
        unknown(kv.first, where, key);
      }
    }
    return g;
  }

  void input_series(const YAML::Node& n, const std::string& where, TestGroup& g) {
    InputSeries s;
    bool ok = true;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      const std::string field = where + "." + key;
      std::string text;
      if (key == "series") {
        if (!scalar(v, field, text)) {
          ok = false;
          continue;
        }
        try {
          s.labels = parse_series_labels(text);
        } catch (const NotationError& e) {
          notation_error(v, field, e);
          ok = false;
        }
      } else if (key == "values") {
        if (v.IsNull()) continue;  // no samples
        if (!scalar(v, field, text)) {
          ok = false;
          continue;
        }
        try {
          s.values = expand_series_values(text);
        } catch (const NotationError& e) {
          notation_error(v, field, e);
          ok = false;
        }
      } else {
        unknown(kv.first, where, key);
        ok = false;
      }
    }
    if (!n["series"]) {
      error(n.Mark(), where + ".series", "missing (name{label=\"value\", ...})");
      ok = false;
    }
    if (ok) g.input_series.push_back(std::move(s));
  }

  void alert_test(const YAML::Node& n, const std::string& where, TestGroup& g) {
    AlertTest a;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      const std::string field = where + "." + key;
      if (key == "eval_time") {
        duration(v, field, a.eval_time);
      } else if (key == "alertname") {
        scalar(v, field, a.alertname);
      } else if (key == "exp_alerts") {
        list(v, field, [&](const YAML::Node& e, const std::string& w) {
          ExpectedAlert exp;
          for (const auto& ekv : e) {
            const std::string ekey = ekv.first.Scalar();
            if (ekey == "exp_labels")
              string_map(ekv.second, w + ".exp_labels", exp.labels);
            else if (ekey == "exp_annotations")
              string_map(ekv.second, w + ".exp_annotations", exp.annotations);
            else
              unknown(ekv.first, w, ekey);
          }
          for (const auto& [name, value] : exp.labels)
            if (!wire::valid_label_name(name))
              error(e["exp_labels"].Mark(), w + ".exp_labels",
                    fmt::format("invalid label name \"{}\"", name));
          a.exp_alerts.push_back(std::move(exp));
        });
      } else {
        unknown(kv.first, where, key);
      }
    }
    if (a.alertname.empty())
      error(n.Mark(), where + ".alertname",
            fmt::format("missing: an item under alert_rule_test needs alertname (eval_time {})",
                        format_duration(a.eval_time)));
    g.alert_tests.push_back(std::move(a));
  }

  void expr_test(const YAML::Node& n, const std::string& where, TestGroup& g) {
    ExprTest t;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      const std::string field = where + "." + key;
      if (key == "expr") {
        if (scalar(v, field, t.expr)) {
          try {
            tsdb::promql::parse_expr(t.expr);
          } catch (const tsdb::promql::ParseError& e) {
            error(v.Mark(), field, e.what());
          }
        }
      } else if (key == "eval_time") {
        duration(v, field, t.eval_time);
      } else if (key == "exp_samples") {
        list(v, field, [&](const YAML::Node& s, const std::string& w) {
          ExpectedSample exp;
          for (const auto& skv : s) {
            const std::string skey = skv.first.Scalar();
            std::string text;
            if (skey == "labels") {
              if (!scalar(skv.second, w + ".labels", text)) continue;
              try {
                exp.labels = parse_series_labels(text, /*allow_empty=*/true);
              } catch (const NotationError& e) {
                notation_error(skv.second, w + ".labels", e);
              }
            } else if (skey == "value") {
              if (!scalar(skv.second, w + ".value", text)) continue;
              if (auto d = parse_float(text))
                exp.value = *d;
              else
                error(skv.second.Mark(), w + ".value", "not a number: \"" + text + "\"");
            } else {
              unknown(skv.first, w, skey);
            }
          }
          t.exp_samples.push_back(std::move(exp));
        });
      } else {
        unknown(kv.first, where, key);
      }
    }
    if (t.expr.empty()) error(n.Mark(), where + ".expr", "missing");
    g.expr_tests.push_back(std::move(t));
  }

  std::string path_;
  std::vector<std::string> lines_;  // of the text, for error columns
  std::vector<std::string> errors_;
};

}  // namespace

TestFile parse_test_file(const std::string& text, const std::string& path) {
  Parser p(path);
  TestFile f = p.run(text);
  if (!p.errors().empty()) throw TestFileError(std::move(p.errors()));
  return f;
}

TestFile load_test_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw TestFileError({fmt::format("{}: cannot read test file: {}", path, std::strerror(errno))});
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_test_file(ss.str(), path);
}

std::vector<std::string> resolve_rule_files(const TestFile& file,
                                            std::vector<std::string>* warnings) {
  const std::filesystem::path base = std::filesystem::path(file.path).parent_path();
  std::vector<std::string> out;
  for (const auto& pattern : file.rule_files) {
    std::string p = pattern;
    if (!p.empty() && p.front() != '/') p = (base / p).string();
    glob_t g{};
    std::vector<std::string> matches;
    if (::glob(p.c_str(), 0, nullptr, &g) == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    std::sort(matches.begin(), matches.end());
    if (matches.empty() && warnings) warnings->push_back("no file match pattern " + p);
    out.insert(out.end(), matches.begin(), matches.end());
  }
  return out;
}

}  // namespace strata::alerting::ruletest

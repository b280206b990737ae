#include "logindex/logql/parser.h"

#include <re2/re2.h>

#include <array>
#include <charconv>
#include <cmath>
#include <optional>

namespace strata::logindex::logql {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool ident_char(char c) { return ident_start(c) || is_digit(c); }

// Loki functions and stages this store does not implement: named in the
// error instead of "unexpected identifier".
constexpr std::array<std::string_view, 14> kUnsupportedFunctions = {"sum_over_time",
                                                                    "avg_over_time",
                                                                    "max_over_time",
                                                                    "min_over_time",
                                                                    "first_over_time",
                                                                    "last_over_time",
                                                                    "stddev_over_time",
                                                                    "stdvar_over_time",
                                                                    "quantile_over_time",
                                                                    "absent_over_time",
                                                                    "rate_counter",
                                                                    "stddev",
                                                                    "stdvar",
                                                                    "sort"};
constexpr std::array<std::string_view, 9> kUnsupportedStages = {
    "pattern", "unpack", "unwrap", "label_format", "keep", "decolorize", "ip", "distinct"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view w) {
  for (auto x : list)
    if (x == w) return true;
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Query parse() {
    skip();
    Query q;
    if (peek() == '{') {
      q.log = std::make_unique<LogQuery>(log_query());
      skip();
      if (peek() == '[')
        fail("a range needs a function around it, e.g. count_over_time({...}[5m])");
    } else {
      q.metric = metric_sum();
    }
    skip();
    if (!at_end()) fail("unexpected " + describe_here());
    return q;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  int depth_ = 0;

  [[noreturn]] void fail(const std::string& what) const { fail_at(i_, what); }
  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < pos && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw ParseError(pos, "parse error at line " + std::to_string(line) + ", col " +
                              std::to_string(col) + ": " + what);
  }
  bool at_end() const { return i_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  // Whether a label-filter comparison operator (= != =~ !~ < > <= >=) starts
  // at `at`, after optional whitespace.
  bool comparison_after(std::size_t at) const {
    while (at < s_.size() && (s_[at] == ' ' || s_[at] == '\t' || s_[at] == '\n')) ++at;
    if (at >= s_.size()) return false;
    char c = s_[at];
    if (c == '=' || c == '<' || c == '>') return true;
    return c == '!' && at + 1 < s_.size() && (s_[at + 1] == '=' || s_[at + 1] == '~');
  }
  void skip() {
    while (!at_end() && is_space(s_[i_])) ++i_;
  }
  bool eat(std::string_view tok) {
    skip();
    if (s_.substr(i_, tok.size()) != tok) return false;
    i_ += tok.size();
    return true;
  }
  void expect(std::string_view tok) {
    if (!eat(tok)) fail("expected '" + std::string(tok) + "' but found " + describe_here());
  }
  std::string describe_here() const {
    if (at_end()) return "end of query";
    std::size_t e = i_;
    while (e < s_.size() && e - i_ < 20 && !is_space(s_[e])) ++e;
    return "\"" + std::string(s_.substr(i_, std::max<std::size_t>(e - i_, 1))) + "\"";
  }
  std::string_view ident_here() const {
    std::size_t e = i_;
    if (e < s_.size() && ident_start(s_[e]))
      while (e < s_.size() && ident_char(s_[e])) ++e;
    return s_.substr(i_, e - i_);
  }
  std::string ident() {
    skip();
    auto w = ident_here();
    if (w.empty()) fail("expected a name but found " + describe_here());
    i_ += w.size();
    return std::string(w);
  }

  struct Depth {
    Parser& p;
    explicit Depth(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting)
        p.fail("query nests deeper than " + std::to_string(kMaxNesting) + " levels");
    }
    ~Depth() { --p.depth_; }
  };

  // "..." with Go escapes, or `raw`.
  std::string string_literal() {
    skip();
    std::size_t open = i_;
    char q = peek();
    if (q == '`') {
      std::size_t close = s_.find('`', i_ + 1);
      if (close == std::string_view::npos) fail_at(open, "unterminated raw string");
      std::string v(s_.substr(i_ + 1, close - i_ - 1));
      i_ = close + 1;
      return v;
    }
    if (q != '"')
      fail("expected a string in double quotes or backquotes but found " + describe_here());
    std::string v;
    for (++i_; !at_end();) {
      char c = s_[i_++];
      if (c == '"') return v;
      if (c == '\n') break;
      if (c != '\\') {
        v += c;
        continue;
      }
      if (at_end()) break;
      char e = s_[i_++];
      switch (e) {
        case 'n':
          v += '\n';
          break;
        case 't':
          v += '\t';
          break;
        case 'r':
          v += '\r';
          break;
        case 'a':
          v += '\a';
          break;
        case 'b':
          v += '\b';
          break;
        case 'f':
          v += '\f';
          break;
        case 'v':
          v += '\v';
          break;
        case '\\':
        case '"':
        case '\'':
          v += e;
          break;
        case 'x': {
          int value = 0;
          for (int k = 0; k < 2; ++k) {
            char h = peek();
            int d = is_digit(h)              ? h - '0'
                    : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                    : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                             : -1;
            if (d < 0) fail("invalid \\x escape: two hex digits expected");
            value = value * 16 + d;
            ++i_;
          }
          v += static_cast<char>(value);
          break;
        }
        default:
          fail_at(i_ - 2, std::string("unknown escape sequence \\") + e +
                              " (in a double-quoted string a regex's backslash is written \\\\, "
                              "or use `backquotes`)");
      }
    }
    fail_at(open, "unterminated string");
  }

  std::shared_ptr<const RE2> compile(const std::string& pattern, bool anchored, std::size_t pos) {
    RE2::Options opts;
    opts.set_log_errors(false);
    if (RE2 plain(pattern, opts); !plain.ok())
      fail_at(pos, "invalid regex " + pattern + ": " + plain.error());
    return std::make_shared<const RE2>(anchored ? "^(?:" + pattern + ")$" : pattern, opts);
  }

  // 5m, 1h30m, 250ms
  std::chrono::milliseconds duration() {
    skip();
    std::size_t start = i_;
    double total_ms = 0;
    bool any = false;
    while (is_digit(peek())) {
      std::size_t b = i_;
      while (is_digit(peek()) || peek() == '.') ++i_;
      double n = std::stod(std::string(s_.substr(b, i_ - b)));
      std::size_t u = i_;
      while (ident_start(peek())) ++i_;
      std::string_view unit = s_.substr(u, i_ - u);
      double ms = unit == "ms"  ? 1
                  : unit == "s" ? 1e3
                  : unit == "m" ? 6e4
                  : unit == "h" ? 3.6e6
                  : unit == "d" ? 8.64e7
                  : unit == "w" ? 6.048e8
                  : unit == "y" ? 3.1536e10
                                : -1;
      if (ms < 0) fail_at(start, "invalid duration: unit must be one of ms s m h d w y");
      total_ms += n * ms;
      any = true;
    }
    if (!any) fail("expected a duration like 5m but found " + describe_here());
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(total_ms)));
  }

  std::optional<double> number_here() {
    skip();
    const char* b = s_.data() + i_;
    const char* e = s_.data() + s_.size();
    double v = 0;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p == b) return std::nullopt;
    // "5m" is a duration, not the number 5.
    if (p < e && ident_start(*p)) return std::nullopt;
    i_ += static_cast<std::size_t>(p - b);
    return v;
  }

  LogQuery log_query() {
    skip();
    LogQuery q;
    std::size_t start = i_, used = 0;
    try {
      q.selector = StreamSelector::parse(s_.substr(i_), &used);
    } catch (const SelectorError& e) {
      std::string msg = e.what();
      // The selector's own "parse error at char N: " prefix is replaced by ours.
      auto colon = msg.find(": ");
      fail_at(start + e.position(), colon == std::string::npos ? msg : msg.substr(colon + 2));
    }
    if (q.selector.matchers().empty())
      fail_at(start,
              "queries require at least one matcher in the stream selector, e.g. {job=\"x\"}");
    i_ += used;
    for (;;) {
      skip();
      std::string_view two = s_.substr(i_, 2);
      if (two == "|=" || two == "!=" || two == "|~" || two == "!~") {
        i_ += 2;
        Stage st;
        st.kind = Stage::Kind::kLineFilter;
        skip();
        std::size_t vpos = i_;
        st.line_filter.value = string_literal();
        st.line_filter.op = two == "|="   ? LineFilter::Op::kContains
                            : two == "!=" ? LineFilter::Op::kNotContains
                            : two == "|~" ? LineFilter::Op::kRegex
                                          : LineFilter::Op::kNotRegex;
        if (two[1] == '~') st.line_filter.regex = compile(st.line_filter.value, false, vpos);
        q.stages.push_back(std::move(st));
        continue;
      }
      if (peek() != '|') break;
      ++i_;
      skip();
      std::size_t word_pos = i_;
      std::string_view w = ident_here();
      Stage st;
      if (w == "json" || w == "logfmt") {
        i_ += w.size();
        st.kind = w == "json" ? Stage::Kind::kJson : Stage::Kind::kLogfmt;
        skip();
        if (ident_start(peek()))
          fail(std::string(w) + " with parameters is not supported; use | " + std::string(w) +
               " without arguments");
      } else if (w == "regexp") {
        i_ += w.size();
        st.kind = Stage::Kind::kRegexp;
        skip();
        std::size_t vpos = i_;
        std::string pattern = string_literal();
        st.regexp = compile(pattern, false, vpos);
        if (st.regexp->CapturingGroupNames().empty())
          fail_at(vpos, "regexp needs at least one named group (?P<name>...)");
      } else if (w == "line_format") {
        i_ += w.size();
        st.kind = Stage::Kind::kLineFormat;
        skip();
        std::size_t vpos = i_;
        st.format = parse_template(string_literal(), vpos);
      } else if (w == "drop") {
        // Grafana's log-volume query ends in `| drop __error__`. This store
        // never produces __error__ labels, so dropping them is a no-op; any
        // other drop would change results and is refused.
        i_ += w.size();
        for (;;) {
          skip();
          std::size_t name_pos = i_;
          std::string name = ident();
          if (name != "__error__" && name != "__error_details__")
            fail_at(name_pos, "drop supports only __error__ and __error_details__, not " + name);
          skip();
          if (peek() != ',') break;
          ++i_;
        }
        continue;
      } else if (contains(kUnsupportedStages, w) && !comparison_after(word_pos + w.size())) {
        // A label may share a stage's name (`| ip="10.0.0.1"`); only the
        // stage itself is refused.
        fail_at(word_pos, "the " + std::string(w) + " stage is not supported by Strata");
      } else if (!w.empty()) {
        st.kind = Stage::Kind::kLabelFilter;
        st.label_filters.push_back(label_filter());
        for (;;) {
          skip();
          if (peek() == ',') {
            ++i_;
          } else if (ident_here() == "and") {
            i_ += 3;
          } else if (ident_here() == "or") {
            fail("'or' between label filters is not supported; use two queries");
          } else {
            break;
          }
          st.label_filters.push_back(label_filter());
        }
      } else {
        fail("expected a parser, a label filter or line_format after '|' but found " +
             describe_here());
      }
      q.stages.push_back(std::move(st));
    }
    return q;
  }

  LabelFilter label_filter() {
    LabelFilter f;
    f.name = ident();
    skip();
    std::size_t op_pos = i_;
    std::string_view op;
    for (std::string_view cand : {"==", "!=", "=~", "!~", ">=", "<=", "=", ">", "<"}) {
      if (s_.substr(i_, cand.size()) == cand) {
        op = cand;
        break;
      }
    }
    if (op.empty()) fail("expected a comparison (= != =~ !~ > >= < <= ==) after " + f.name);
    i_ += op.size();
    skip();
    bool quoted = peek() == '"' || peek() == '`';
    if (op == "=~" || op == "!~") {
      std::size_t vpos = i_;
      f.value = string_literal();
      f.op = op == "=~" ? LabelFilter::Op::kRegex : LabelFilter::Op::kNotRegex;
      f.regex = compile(f.value, true, vpos);
      return f;
    }
    if (quoted) {
      if (op != "=" && op != "!=" && op != "==")
        fail_at(op_pos, "operator " + std::string(op) + " needs a number, not a string");
      f.value = string_literal();
      f.op = op == "!=" ? LabelFilter::Op::kNeq : LabelFilter::Op::kEq;
      return f;
    }
    // Numbers, and durations compared in seconds.
    std::size_t vpos = i_;
    if (auto n = number_here()) {
      f.number = *n;
    } else if (is_digit(peek())) {
      f.number = static_cast<double>(duration().count()) / 1000.0;
    } else {
      fail("expected a quoted string, a number or a duration after " + f.name + " " +
           std::string(op));
    }
    f.value = std::string(s_.substr(vpos, i_ - vpos));
    f.op = op == ">"    ? LabelFilter::Op::kGt
           : op == ">=" ? LabelFilter::Op::kGte
           : op == "<"  ? LabelFilter::Op::kLt
           : op == "<=" ? LabelFilter::Op::kLte
           : op == "!=" ? LabelFilter::Op::kNumNeq
                        : LabelFilter::Op::kNumEq;
    return f;
  }

  std::vector<TemplatePart> parse_template(const std::string& t, std::size_t pos) {
    std::vector<TemplatePart> parts;
    std::size_t k = 0;
    while (k < t.size()) {
      std::size_t open = t.find("{{", k);
      if (open == std::string::npos) {
        parts.push_back({false, t.substr(k)});
        break;
      }
      if (open > k) parts.push_back({false, t.substr(k, open - k)});
      std::size_t close = t.find("}}", open);
      if (close == std::string::npos) fail_at(pos, "line_format template has an unclosed {{");
      std::string inner = t.substr(open + 2, close - open - 2);
      std::size_t b = inner.find_first_not_of(' '), e = inner.find_last_not_of(' ');
      inner = b == std::string::npos ? "" : inner.substr(b, e - b + 1);
      bool ok = inner.size() > 1 && inner[0] == '.' && ident_start(inner[1]);
      for (std::size_t c = 1; ok && c < inner.size(); ++c) ok = ident_char(inner[c]);
      if (!ok)
        fail_at(pos, "line_format supports only {{.label}} references, not {{" + inner + "}}");
      parts.push_back({true, inner.substr(1)});
      k = close + 2;
    }
    return parts;
  }

  MetricPtr node(MetricExpr::Kind kind, std::size_t pos) {
    auto n = std::make_unique<MetricExpr>();
    n->kind = kind;
    n->position = pos;
    return n;
  }

  MetricPtr metric_sum() {
    Depth d(*this);
    MetricPtr lhs = metric_product();
    for (;;) {
      skip();
      char c = peek();
      if (c != '+' && c != '-') return lhs;
      std::size_t pos = i_++;
      auto n = node(MetricExpr::Kind::kBinary, pos);
      n->bin = c == '+' ? MetricExpr::BinOp::kAdd : MetricExpr::BinOp::kSub;
      n->lhs = std::move(lhs);
      n->rhs = metric_product();
      lhs = std::move(n);
    }
  }

  MetricPtr metric_product() {
    MetricPtr lhs = metric_primary();
    for (;;) {
      skip();
      char c = peek();
      if (c != '*' && c != '/') return lhs;
      std::size_t pos = i_++;
      auto n = node(MetricExpr::Kind::kBinary, pos);
      n->bin = c == '*' ? MetricExpr::BinOp::kMul : MetricExpr::BinOp::kDiv;
      n->lhs = std::move(lhs);
      n->rhs = metric_primary();
      lhs = std::move(n);
    }
  }

  void grouping(MetricExpr& n) {
    skip();
    std::string_view w = ident_here();
    if (w != "by" && w != "without") return;
    if (n.has_grouping) fail("by/without given twice");
    i_ += w.size();
    n.has_grouping = true;
    n.without = w == "without";
    expect("(");
    skip();
    if (!eat(")")) {
      for (;;) {
        n.grouping.push_back(ident());
        if (eat(")")) break;
        expect(",");
      }
    }
  }

  MetricPtr metric_primary() {
    Depth d(*this);
    skip();
    std::size_t pos = i_;
    if (peek() == '(') {
      ++i_;
      auto n = node(MetricExpr::Kind::kParen, pos);
      n->lhs = metric_sum();
      expect(")");
      return n;
    }
    if (peek() == '{')
      fail(
          "a log query cannot be used in a metric expression without a "
          "function such as count_over_time({...}[5m])");
    if (auto v = number_here()) {
      auto n = node(MetricExpr::Kind::kNumber, pos);
      n->number = *v;
      return n;
    }
    if (peek() == '-' || peek() == '+') {  // signed literal
      bool neg = peek() == '-';
      ++i_;
      if (auto v = number_here()) {
        auto n = node(MetricExpr::Kind::kNumber, pos);
        n->number = neg ? -*v : *v;
        return n;
      }
      fail_at(pos, "unary operators are supported only on number literals");
    }
    std::string_view w = ident_here();
    if (w.empty()) fail("expected an expression but found " + describe_here());
    i_ += w.size();
    using RF = MetricExpr::RangeFn;
    if (w == "count_over_time" || w == "rate" || w == "bytes_over_time" || w == "bytes_rate") {
      auto n = node(MetricExpr::Kind::kRange, pos);
      n->range_fn = w == "count_over_time"   ? RF::kCountOverTime
                    : w == "rate"            ? RF::kRate
                    : w == "bytes_over_time" ? RF::kBytesOverTime
                                             : RF::kBytesRate;
      expect("(");
      skip();
      n->log = log_query();
      expect("[");
      n->range = duration();
      if (n->range.count() <= 0) fail("the range must be positive");
      expect("]");
      skip();
      if (ident_here() == "offset") fail("offset is not supported");
      expect(")");
      n->end_position = i_;
      return n;
    }
    if (w == "vector") {
      auto n = node(MetricExpr::Kind::kVector, pos);
      expect("(");
      auto v = number_here();
      if (!v) fail("vector() takes a number");
      n->number = *v;
      expect(")");
      return n;
    }
    using AO = MetricExpr::AggOp;
    static constexpr std::array<std::pair<std::string_view, AO>, 7> kAggs = {
        {{"sum", AO::kSum},
         {"avg", AO::kAvg},
         {"min", AO::kMin},
         {"max", AO::kMax},
         {"count", AO::kCount},
         {"topk", AO::kTopk},
         {"bottomk", AO::kBottomk}}};
    for (const auto& [name, op] : kAggs) {
      if (w != name) continue;
      auto n = node(MetricExpr::Kind::kAggregate, pos);
      n->agg = op;
      grouping(*n);
      expect("(");
      if (op == AO::kTopk || op == AO::kBottomk) {
        skip();
        std::size_t kpos = i_;
        auto k = number_here();
        if (!k || *k < 1 || *k != std::floor(*k))
          fail_at(kpos, std::string(name) + " needs a positive integer k as its first argument");
        n->param = *k;
        expect(",");
      }
      n->lhs = metric_sum();
      expect(")");
      grouping(*n);
      return n;
    }
    if (contains(kUnsupportedFunctions, w))
      fail_at(pos, "the function " + std::string(w) + " is not supported by Strata");
    fail_at(pos, "unknown function or keyword \"" + std::string(w) + "\"");
  }
};

}  // namespace

bool LogQuery::extracts_labels() const {
  for (const auto& st : stages)
    if (st.kind == Stage::Kind::kJson || st.kind == Stage::Kind::kLogfmt ||
        st.kind == Stage::Kind::kRegexp)
      return true;
  return false;
}

ParseError::ParseError(std::size_t position, const std::string& message)
    : std::invalid_argument(message), position_(position) {}

Query parse(std::string_view text) { return Parser(text).parse(); }

}  // namespace strata::logindex::logql

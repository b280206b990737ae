#include "tsdb/promql/parser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

namespace strata::tsdb::promql {

namespace {

using namespace ast;

[[noreturn]] void fail(std::size_t offset, const std::string& message) {
  throw ParseError(offset + 1, message);
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A subtree and its height, so that the depth bound covers operator chains
// (built by loops, not recursion) as well as nesting.
struct Parsed {
  ExprPtr expr;
  int height = 1;
};

bool is_metric_name_token(TokenKind k) {
  switch (k) {
    case TokenKind::kIdentifier:
    case TokenKind::kMetricIdentifier:
    case TokenKind::kBy:
    case TokenKind::kWithout:
    case TokenKind::kAnd:
    case TokenKind::kOr:
    case TokenKind::kUnless:
    case TokenKind::kOffset:
    case TokenKind::kStart:
    case TokenKind::kEnd:
      return true;
    default:
      return is_aggregator(k);
  }
}

std::optional<BinaryOp> binary_op(TokenKind k) {
  switch (k) {
    case TokenKind::kAdd:
      return BinaryOp::kAdd;
    case TokenKind::kSub:
      return BinaryOp::kSub;
    case TokenKind::kMul:
      return BinaryOp::kMul;
    case TokenKind::kDiv:
      return BinaryOp::kDiv;
    case TokenKind::kMod:
      return BinaryOp::kMod;
    case TokenKind::kPow:
      return BinaryOp::kPow;
    case TokenKind::kAtan2:
      return BinaryOp::kAtan2;
    case TokenKind::kEqlc:
      return BinaryOp::kEql;
    case TokenKind::kNeq:
      return BinaryOp::kNeq;
    case TokenKind::kLte:
      return BinaryOp::kLte;
    case TokenKind::kLss:
      return BinaryOp::kLss;
    case TokenKind::kGte:
      return BinaryOp::kGte;
    case TokenKind::kGtr:
      return BinaryOp::kGtr;
    case TokenKind::kAnd:
      return BinaryOp::kAnd;
    case TokenKind::kOr:
      return BinaryOp::kOr;
    case TokenKind::kUnless:
      return BinaryOp::kUnless;
    default:
      return std::nullopt;
  }
}

// Prometheus's precedence, loosest first; ^ is the only right-associative one.
int precedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return 1;
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      return 2;
    case BinaryOp::kEql:
    case BinaryOp::kNeq:
    case BinaryOp::kLte:
    case BinaryOp::kLss:
    case BinaryOp::kGte:
    case BinaryOp::kGtr:
      return 3;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      return 4;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod:
    case BinaryOp::kAtan2:
      return 5;
    case BinaryOp::kPow:
      return 6;
  }
  return 0;
}

// A unary operator binds like * (so -a^b is -(a^b) and -a*b is (-a)*b).
constexpr int kUnaryOperandPrecedence = 6;

AggregateOp aggregate_op(TokenKind k) {
  return static_cast<AggregateOp>(static_cast<int>(k) - static_cast<int>(TokenKind::kSum));
}

// The name Prometheus gives a ValueType in its own messages ("matrix").
std::string_view internal_name(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kNone:
      break;
  }
  return "none";
}

// Go's %f, as in Prometheus's "timestamp out of bounds" message.
std::string go_percent_f(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  std::snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

// Go's strconv.ParseInt(s, 0, 64) on text with the underscores removed:
// 0x.. hex, a leading 0 octal, else decimal; nullopt if not an int64.
std::optional<std::int64_t> parse_go_int(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0 || d >= base) return std::nullopt;
    if (v > (static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) -
             static_cast<std::uint64_t>(d)) /
                static_cast<std::uint64_t>(base))
      return std::nullopt;
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
  }
  return static_cast<std::int64_t>(v);
}

double parse_number(const Token& t) {
  std::string lower;
  for (char c : t.text) lower += static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  if (lower == "inf") return std::numeric_limits<double>::infinity();
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
  std::string s;
  for (char c : t.text)
    if (c != '_') s += c;
  if (auto i = parse_go_int(s)) return static_cast<double>(*i);
  // Go's ParseFloat takes hex only with a 'p' exponent, which the lexer
  // never produces: a hex literal that is not an int64 is an error.
  bool hex = s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  bool syntax_ok = !hex && !s.empty();
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      syntax_ok = false;
  double v = 0;
  if (syntax_ok) {
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    syntax_ok = end == s.c_str() + s.size();
  }
  if (!syntax_ok) fail(t.pos, "error parsing number " + quoted(t.text) + ": invalid syntax");
  if (std::isinf(v)) fail(t.pos, "error parsing number " + quoted(t.text) + ": value out of range");
  return v;
}

class Parser {
 public:
  Parser(Lexer& lex, const ParseOptions& options) : lex_(lex), options_(options) {}

  ExprPtr parse_all() {
    const Token& first = lex_.peek();
    if (first.kind == TokenKind::kEof) fail(first.pos, "no expression found in input");
    Parsed p = parse_expr(0);
    const Token& t = lex_.peek();
    if (t.kind != TokenKind::kEof) unexpected(t, "", "");
    return std::move(p.expr);
  }

  std::unique_ptr<VectorSelector> parse_selector() {
    auto sel = std::make_unique<VectorSelector>();
    Token t = lex_.peek();
    sel->pos = {t.pos, t.end()};
    if (is_metric_name_token(t.kind)) {
      lex_.next();
      sel->name = std::string(t.text);
      if (lex_.peek().kind == TokenKind::kLeftBrace) parse_matchers(*sel);
    } else if (t.kind == TokenKind::kLeftBrace) {
      parse_matchers(*sel);
    } else {
      unexpected(t, "", "a metric name or '{'");
    }
    if (!sel->name.empty())
      sel->matchers.insert(sel->matchers.begin(),
                           LabelMatcher(MatchOp::kEqual, "__name__", sel->name));
    return sel;
  }

 private:
  [[noreturn, gnu::noinline]] void unexpected(const Token& t, std::string_view context,
                                              std::string_view expected) {
    if (t.kind == TokenKind::kEof && open_parens_ > 0) fail(t.pos, "unclosed left parenthesis");
    if (t.kind == TokenKind::kRightParen && open_parens_ == 0)
      fail(t.pos, "unexpected right parenthesis ')'");
    std::string msg = "unexpected " + describe(t);
    if (!context.empty()) msg += " in " + std::string(context);
    if (!expected.empty()) msg += ", expected " + std::string(expected);
    fail(t.pos, msg);
  }

  Token expect(TokenKind kind, std::string_view context, std::string_view expected) {
    if (lex_.peek().kind != kind) unexpected(lex_.peek(), context, expected);
    return lex_.next();
  }

  [[gnu::noinline]] Parsed finish(ExprPtr e, int height) {
    if (height > kMaxNesting)
      fail(e->pos.start,
           "expression nesting too deep: more than " + std::to_string(kMaxNesting) + " levels");
    return Parsed{std::move(e), height};
  }

  [[noreturn, gnu::noinline]] static void too_deep(std::size_t at) {
    fail(at, "expression nesting too deep: more than " + std::to_string(kMaxNesting) + " levels");
  }

  struct DepthGuard {
    DepthGuard(Parser& p, std::size_t at) : parser(p) {
      if (parser.depth_ >= kMaxNesting) too_deep(at);
      ++parser.depth_;
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  // Precedence climbing over the binary operators. The recursive functions
  // keep their frames small (cold paths are out of line) so that
  // kMaxNesting levels fit comfortably on a thread's stack.
  Parsed parse_expr(int min_precedence) {
    DepthGuard guard(*this, lex_.peek().pos);
    Parsed lhs = parse_unary();
    while (true) {
      auto op = binary_op(lex_.peek().kind);
      if (!op || precedence(*op) < min_precedence) break;
      lhs = parse_binary_rhs(std::move(lhs), *op);
    }
    return lhs;
  }

  // At a binary operator: its modifiers and right-hand side.
  [[gnu::noinline]] Parsed parse_binary_rhs(Parsed lhs, BinaryOp op) {
    Token op_token = lex_.next();
    auto b = std::make_unique<BinaryExpr>();
    b->op = op;
    VectorMatching vm;
    parse_binary_modifiers(*b, vm);
    int next_min = op == BinaryOp::kPow ? precedence(op) : precedence(op) + 1;
    Parsed rhs = parse_expr(next_min);
    b->pos = {lhs.expr->pos.start, rhs.expr->pos.end};
    int height = 1 + std::max(lhs.height, rhs.height);
    b->lhs = std::move(lhs.expr);
    b->rhs = std::move(rhs.expr);
    check_binary(*b, vm, op_token);
    return finish(std::move(b), height);
  }

  [[gnu::noinline]] void parse_binary_modifiers(BinaryExpr& b, VectorMatching& vm) {
    if (lex_.peek().kind == TokenKind::kBool) {
      lex_.next();
      b.return_bool = true;
    }
    TokenKind k = lex_.peek().kind;
    if (k != TokenKind::kOn && k != TokenKind::kIgnoring) return;
    lex_.next();
    vm.on = k == TokenKind::kOn;
    vm.matching_labels = parse_grouping_labels();
    k = lex_.peek().kind;
    if (k != TokenKind::kGroupLeft && k != TokenKind::kGroupRight) return;
    lex_.next();
    vm.card = k == TokenKind::kGroupLeft ? Cardinality::kManyToOne : Cardinality::kOneToMany;
    // A '(' right after group_x always opens its label list, as in Prometheus.
    if (lex_.peek().kind == TokenKind::kLeftParen) vm.include = parse_grouping_labels();
  }

  // Prometheus's checks of a binary expression, in its order.
  [[gnu::noinline]] void check_binary(BinaryExpr& b, VectorMatching& vm, const Token& op_token) {
    ValueType lt = b.lhs->value_type();
    ValueType rt = b.rhs->value_type();
    std::string op_name(to_string(b.op));
    if (b.return_bool && !is_comparison(b.op))
      fail(op_token.pos, "bool modifier can only be used on comparison operators");
    if (is_comparison(b.op) && !b.return_bool && lt == ValueType::kScalar &&
        rt == ValueType::kScalar)
      fail(op_token.pos, "comparisons between scalars must use BOOL modifier");
    if (is_set_operator(b.op) && vm.card == Cardinality::kOneToOne)
      vm.card = Cardinality::kManyToMany;
    if (vm.on)
      for (const auto& l1 : vm.matching_labels)
        for (const auto& l2 : vm.include)
          if (l1 == l2)
            fail(op_token.pos,
                 "label " + quoted(l1) + " must not occur in ON and GROUP clause at once");
    if (lt != ValueType::kScalar && lt != ValueType::kVector)
      fail(b.lhs->pos.start, "binary expression must contain only scalar and instant vector types");
    if (rt != ValueType::kScalar && rt != ValueType::kVector)
      fail(b.rhs->pos.start, "binary expression must contain only scalar and instant vector types");
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!vm.matching_labels.empty())
        fail(b.pos.start, "vector matching only allowed between instant vectors");
    } else {
      if (is_set_operator(b.op) &&
          (vm.card == Cardinality::kOneToMany || vm.card == Cardinality::kManyToOne))
        fail(b.pos.start, "no grouping allowed for " + quoted(op_name) + " operation");
      b.matching = std::move(vm);
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && is_set_operator(b.op))
      fail(b.pos.start,
           "set operator " + quoted(op_name) + " not allowed in binary scalar expression");
  }

  [[noreturn, gnu::noinline]] static void unary_type_error(std::size_t at, ValueType t) {
    fail(at, "unary expression only allowed on expressions of type scalar or instant vector, got " +
                 quoted(documented_name(t)));
  }

  [[gnu::noinline]] Parsed parse_unary() {
    TokenKind k = lex_.peek().kind;
    if (k != TokenKind::kAdd && k != TokenKind::kSub) return parse_postfix();
    Token op = lex_.next();
    Parsed operand = parse_expr(kUnaryOperandPrecedence);
    if (operand.expr->kind == ExprKind::kNumberLiteral) {
      auto& n = operand.expr->as<NumberLiteral>();
      if (k == TokenKind::kSub) n.value = -n.value;
      n.pos.start = op.pos;
      return operand;
    }
    ValueType t = operand.expr->value_type();
    if (t != ValueType::kScalar && t != ValueType::kVector) unary_type_error(op.pos, t);
    auto u = std::make_unique<UnaryExpr>();
    u->op = k == TokenKind::kSub ? UnaryOp::kSub : UnaryOp::kAdd;
    u->pos = {op.pos, operand.expr->pos.end};
    u->expr = std::move(operand.expr);
    return finish(std::move(u), operand.height + 1);
  }

  // A primary expression and the [range], [range:step], offset and @ that
  // bind to it more tightly than any operator.
  [[gnu::noinline]] Parsed parse_postfix() {
    Parsed p = parse_primary();
    while (true) {
      switch (lex_.peek().kind) {
        case TokenKind::kLeftBracket:
          p = parse_range_or_subquery(std::move(p));
          break;
        case TokenKind::kOffset:
          parse_offset(p);
          break;
        case TokenKind::kAt:
          parse_at(p);
          break;
        default:
          return p;
      }
    }
  }

  // A duration token (or, as in Prometheus 3, a number of seconds) in
  // [..] or after offset. `what` names it in errors.
  std::chrono::milliseconds parse_duration_token(const Token& t) {
    std::chrono::milliseconds d{0};
    if (t.kind == TokenKind::kDuration) {
      d = parse_duration(t.text, t.pos);
    } else {
      double seconds = parse_number(t);
      if (!(std::fabs(seconds) < 9.2e15)) fail(t.pos, "duration out of range");
      d = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
    }
    if (d.count() <= 0) fail(t.pos, "duration must be greater than 0");
    return d;
  }

  bool is_duration_token(TokenKind k) {
    return k == TokenKind::kDuration || k == TokenKind::kNumber;
  }

  [[noreturn]] void unexpected_in_brackets(const Token& t, std::string_view context,
                                           std::string_view expected) {
    if (t.kind == TokenKind::kEof) fail(t.pos, "unclosed left bracket");
    unexpected(t, context, expected);
  }

  [[gnu::noinline]] Parsed parse_range_or_subquery(Parsed base) {
    Token lb = lex_.next();
    Token range_token = lex_.next();
    if (!is_duration_token(range_token.kind))
      unexpected_in_brackets(range_token, "subquery or range", "duration");
    auto range = parse_duration_token(range_token);
    Token t = lex_.next();
    if (t.kind == TokenKind::kRightBracket) {
      if (base.expr->kind != ExprKind::kVectorSelector)
        fail(lb.pos, "ranges only allowed for vector selectors");
      auto& vs = base.expr->as<VectorSelector>();
      if (vs.offset.count() != 0) fail(lb.pos, "no offset modifiers allowed before range");
      if (vs.at != AtModifier::kNone) fail(lb.pos, "no @ modifiers allowed before range");
      auto m = std::make_unique<MatrixSelector>();
      m->pos = {vs.pos.start, t.end()};
      m->range = range;
      m->selector.reset(static_cast<VectorSelector*>(base.expr.release()));
      return finish(std::move(m), base.height + 1);
    }
    if (t.kind != TokenKind::kColon) unexpected_in_brackets(t, "subquery or range", "':' or ']'");
    auto sq = std::make_unique<SubqueryExpr>();
    sq->range = range;
    t = lex_.next();
    if (is_duration_token(t.kind)) {
      sq->step = parse_duration_token(t);
      t = lex_.next();
      if (t.kind != TokenKind::kRightBracket) unexpected_in_brackets(t, "subquery selector", "']'");
    } else if (t.kind != TokenKind::kRightBracket) {
      unexpected_in_brackets(t, "subquery selector", "duration or ']'");
    }
    ValueType type = base.expr->value_type();
    if (type != ValueType::kVector)
      fail(base.expr->pos.start, "subquery is only allowed on instant vector, got " +
                                     std::string(internal_name(type)) + " instead");
    sq->pos = {base.expr->pos.start, t.end()};
    sq->expr = std::move(base.expr);
    return finish(std::move(sq), base.height + 1);
  }

  // Where the offset and @ of `e` live, or nulls when it takes none.
  struct Modifiers {
    std::chrono::milliseconds* offset = nullptr;
    AtModifier* at = nullptr;
    std::int64_t* at_ms = nullptr;
  };

  static Modifiers modifiers_of(Expr& e) {
    switch (e.kind) {
      case ExprKind::kVectorSelector: {
        auto& vs = e.as<VectorSelector>();
        return {&vs.offset, &vs.at, &vs.at_ms};
      }
      case ExprKind::kMatrixSelector: {
        auto& vs = *e.as<MatrixSelector>().selector;
        return {&vs.offset, &vs.at, &vs.at_ms};
      }
      case ExprKind::kSubquery: {
        auto& sq = e.as<SubqueryExpr>();
        return {&sq.offset, &sq.at, &sq.at_ms};
      }
      default:
        return {};
    }
  }

  [[gnu::noinline]] void parse_offset(Parsed& p) {
    lex_.next();  // offset
    bool negative = false;
    if (lex_.peek().kind == TokenKind::kSub) {
      lex_.next();
      negative = true;
    }
    Token t = lex_.next();
    if (!is_duration_token(t.kind)) unexpected(t, "offset", "duration");
    auto d = parse_duration_token(t);
    Modifiers m = modifiers_of(*p.expr);
    if (!m.offset)
      fail(p.expr->pos.start,
           "offset modifier must be preceded by an instant vector selector or range vector "
           "selector or a subquery");
    if (m.offset->count() != 0) fail(p.expr->pos.start, "offset may not be set multiple times");
    *m.offset = negative ? -d : d;
    p.expr->pos.end = t.end();
  }

  [[gnu::noinline]] void parse_at(Parsed& p) {
    lex_.next();  // @
    Token t = lex_.next();
    AtModifier at = AtModifier::kTimestamp;
    double ts = 0;
    std::size_t end = t.end();
    if (t.kind == TokenKind::kStart || t.kind == TokenKind::kEnd) {
      at = t.kind == TokenKind::kStart ? AtModifier::kStart : AtModifier::kEnd;
      expect(TokenKind::kLeftParen, "@", "'('");
      end = expect(TokenKind::kRightParen, "@", "')'").end();
    } else {
      bool negative = false;
      if (t.kind == TokenKind::kAdd || t.kind == TokenKind::kSub) {
        negative = t.kind == TokenKind::kSub;
        t = lex_.next();
      }
      if (t.kind != TokenKind::kNumber) unexpected(t, "@", "timestamp");
      ts = parse_number(t);
      if (negative) ts = -ts;
      end = t.end();
    }
    Modifiers m = modifiers_of(*p.expr);
    if (at == AtModifier::kTimestamp &&
        (std::isnan(ts) || ts >= 9.223372036854775807e18 || ts <= -9.223372036854775808e18))
      fail(p.expr->pos.start, "timestamp out of bounds for @ modifier: " + go_percent_f(ts));
    if (!m.at)
      fail(p.expr->pos.start,
           "@ modifier must be preceded by an instant vector selector or range vector selector "
           "or a subquery");
    if (*m.at != AtModifier::kNone)
      fail(p.expr->pos.start, "@ <timestamp> may not be set multiple times");
    if (at == AtModifier::kTimestamp) {
      // Prometheus would overflow silently converting to milliseconds.
      if (!(std::fabs(ts) * 1000 < 9.2e18))
        fail(p.expr->pos.start, "timestamp out of bounds for @ modifier: " + go_percent_f(ts));
      *m.at_ms = static_cast<std::int64_t>(std::llround(ts * 1000));
    }
    *m.at = at;
    p.expr->pos.end = end;
  }

  [[gnu::noinline]] Parsed parse_primary() {
    const Token& t = lex_.peek();
    switch (t.kind) {
      case TokenKind::kNumber:
      case TokenKind::kString:
        return parse_literal();
      case TokenKind::kLeftParen: {
        Token lp = lex_.next();
        ++open_parens_;
        Parsed inner = parse_expr(0);
        Token rp = expect(TokenKind::kRightParen, "", "')'");
        --open_parens_;
        auto paren = std::make_unique<ParenExpr>();
        paren->pos = {lp.pos, rp.end()};
        paren->expr = std::move(inner.expr);
        return finish(std::move(paren), inner.height + 1);
      }
      case TokenKind::kLeftBrace:
        return parse_checked_selector();
      case TokenKind::kIdentifier:
        if (lex_.peek(1).kind == TokenKind::kLeftParen) return parse_call();
        return parse_checked_selector();
      default:
        break;
    }
    if (is_aggregator(t.kind)) {
      TokenKind after = lex_.peek(1).kind;
      if (after == TokenKind::kLeftParen || after == TokenKind::kBy || after == TokenKind::kWithout)
        return parse_aggregate();
    }
    if (is_metric_name_token(t.kind)) return parse_checked_selector();
    unexpected(t, "", "");
  }

  [[gnu::noinline]] Parsed parse_literal() {
    Token tok = lex_.next();
    if (tok.kind == TokenKind::kNumber) {
      auto n = std::make_unique<NumberLiteral>();
      n->pos = {tok.pos, tok.end()};
      n->value = parse_number(tok);
      return finish(std::move(n), 1);
    }
    auto s = std::make_unique<StringLiteral>();
    s->pos = {tok.pos, tok.end()};
    s->value = std::move(tok.value);
    return finish(std::move(s), 1);
  }

  [[gnu::noinline]] Parsed parse_checked_selector() {
    auto sel = parse_selector();
    check_vector_selector(*sel);
    return finish(std::move(sel), 1);
  }

  void parse_matchers(VectorSelector& sel) {
    lex_.next();  // '{'
    while (true) {
      const Token& t = lex_.peek();
      if (t.kind == TokenKind::kEof)
        fail(t.pos, "unexpected end of input, expected label name or '}'");
      if (t.kind == TokenKind::kRightBrace) break;
      sel.matchers.push_back(parse_matcher());
      const Token& sep = lex_.peek();
      if (sep.kind == TokenKind::kEof)
        fail(sep.pos, "unexpected end of input, expected ',' or '}'");
      if (sep.kind == TokenKind::kComma) {
        lex_.next();
        continue;
      }
      if (sep.kind == TokenKind::kRightBrace) break;
      fail(sep.pos, "unexpected " + describe(sep) + ", expected ',' or '}'");
    }
    sel.pos.end = lex_.next().end();  // '}'
  }

  LabelMatcher parse_matcher() {
    Token name_token = lex_.next();
    std::string name;
    bool quoted_name = false;
    if (name_token.kind == TokenKind::kIdentifier) {
      name = std::string(name_token.text);
      const Token& after = lex_.peek();
      if (after.kind == TokenKind::kInvalid && after.pos == name_token.end() && after.text == ":")
        fail(name_token.pos,
             "invalid label name \"" + name + ":...\": ':' is only allowed in metric names");
    } else if (name_token.kind == TokenKind::kString && options_.quoted_names) {
      name = std::move(name_token.value);
      quoted_name = true;
    } else {
      fail(name_token.pos, "unexpected " + describe(name_token) + ", expected label name");
    }
    const Token& op_token = lex_.peek();
    if (quoted_name &&
        (op_token.kind == TokenKind::kComma || op_token.kind == TokenKind::kRightBrace))
      return LabelMatcher(MatchOp::kEqual, "__name__", std::move(name));
    MatchOp op;
    switch (op_token.kind) {
      case TokenKind::kEql:
        op = MatchOp::kEqual;
        break;
      case TokenKind::kNeq:
        op = MatchOp::kNotEqual;
        break;
      case TokenKind::kEqlRegex:
        op = MatchOp::kRegexMatch;
        break;
      case TokenKind::kNeqRegex:
        op = MatchOp::kRegexNoMatch;
        break;
      default:
        fail(op_token.pos, "unexpected " + describe(op_token) + " after label name " +
                               quoted(name) + ", expected one of '=', '!=', '=~', '!~'");
    }
    lex_.next();
    Token value = lex_.next();
    if (value.kind != TokenKind::kString)
      fail(value.pos, "unexpected " + describe(value) + ", expected a quoted string");
    try {
      return LabelMatcher(op, std::move(name), std::move(value.value));
    } catch (const std::invalid_argument& e) {
      fail(value.pos, e.what());
    }
  }

  // ( label, ... ) after by, without, on, ignoring, group_left, group_right.
  [[gnu::noinline]] std::vector<std::string> parse_grouping_labels() {
    expect(TokenKind::kLeftParen, "grouping opts", "'('");
    ++open_parens_;
    std::vector<std::string> labels;
    while (lex_.peek().kind != TokenKind::kRightParen) {
      Token t = lex_.next();
      if (t.kind == TokenKind::kIdentifier || is_keyword(t.kind)) {
        labels.emplace_back(t.text);
      } else if (t.kind == TokenKind::kString && options_.quoted_names && !t.value.empty()) {
        labels.push_back(std::move(t.value));
      } else {
        unexpected(t, "grouping opts", "label");
      }
      const Token& sep = lex_.peek();
      if (sep.kind == TokenKind::kComma) {
        lex_.next();
        continue;
      }
      if (sep.kind != TokenKind::kRightParen) unexpected(sep, "grouping opts", "',' or ')'");
    }
    last_close_ = lex_.next().end();
    --open_parens_;
    return labels;
  }

  // ( expr, ... ) of a call or aggregation, with the height of the tallest.
  std::vector<ExprPtr> parse_call_body(int& height) {
    expect(TokenKind::kLeftParen, "", "'('");
    ++open_parens_;
    std::vector<ExprPtr> args;
    height = 1;
    if (lex_.peek().kind != TokenKind::kRightParen) {
      while (true) {
        Parsed arg = parse_expr(0);
        height = std::max(height, arg.height + 1);
        args.push_back(std::move(arg.expr));
        const Token& sep = lex_.peek();
        if (sep.kind == TokenKind::kRightParen) break;
        if (sep.kind != TokenKind::kComma) unexpected(sep, "", "',' or ')'");
        Token comma = lex_.next();
        if (lex_.peek().kind == TokenKind::kRightParen) trailing_comma(comma);
      }
    }
    last_close_ = lex_.next().end();
    --open_parens_;
    return args;
  }

  [[noreturn, gnu::noinline]] static void unknown_function(const Token& name) {
    fail(name.pos, "unknown function with name " + quoted(name.text));
  }

  [[noreturn, gnu::noinline]] static void trailing_comma(const Token& comma) {
    fail(comma.pos, "trailing commas not allowed in function call args");
  }

  [[gnu::noinline]] Parsed parse_call() {
    Token name = lex_.next();
    const Function* func = find_function(name.text);
    if (!func) unknown_function(name);
    auto call = std::make_unique<Call>();
    call->func = func;
    int height = 1;
    call->args = parse_call_body(height);
    call->pos = {name.pos, last_close_};
    check_call(*call);
    return finish(std::move(call), height);
  }

  // Prometheus's argument count and type checks of a call.
  [[gnu::noinline]] static void check_call(const Call& call) {
    const Function* func = call.func;
    std::size_t nargs = func->arg_types.size();
    std::size_t got = call.args.size();
    std::string fname = quoted(func->name);
    if (func->variadic == 0) {
      if (nargs != got)
        fail(call.pos.start, "expected " + std::to_string(nargs) + " argument(s) in call to " +
                                 fname + ", got " + std::to_string(got));
    } else {
      std::size_t min = nargs - 1;
      if (min > got)
        fail(call.pos.start, "expected at least " + std::to_string(min) +
                                 " argument(s) in call to " + fname + ", got " +
                                 std::to_string(got));
      std::size_t max = min + static_cast<std::size_t>(std::max(func->variadic, 0));
      if (func->variadic > 0 && max < got)
        fail(call.pos.start, "expected at most " + std::to_string(max) +
                                 " argument(s) in call to " + fname + ", got " +
                                 std::to_string(got));
    }
    for (std::size_t i = 0; i < got; ++i) {
      ValueType want = func->arg_types[std::min(i, nargs - 1)];
      ValueType have = call.args[i]->value_type();
      if (have != want)
        fail(call.args[i]->pos.start, "expected type " + std::string(documented_name(want)) +
                                          " in call to function " + fname + ", got " +
                                          std::string(documented_name(have)));
    }
  }

  [[gnu::noinline]] Parsed parse_aggregate() {
    Token op = lex_.next();
    auto agg = std::make_unique<AggregateExpr>();
    agg->op = aggregate_op(op.kind);
    bool grouped = parse_aggregate_modifier(*agg);
    int height = 1;
    std::vector<ExprPtr> args = parse_call_body(height);
    std::size_t end = last_close_;
    if (!grouped && parse_aggregate_modifier(*agg)) end = last_close_;
    agg->pos = {op.pos, end};
    assemble_aggregate(*agg, std::move(args));
    return finish(std::move(agg), height);
  }

  // Splits the arguments into parameter and expression, with Prometheus's
  // checks.
  [[gnu::noinline]] static void assemble_aggregate(AggregateExpr& a, std::vector<ExprPtr> args) {
    AggregateExpr* agg = &a;
    const std::size_t op_pos = a.pos.start;
    if (args.empty()) fail(op_pos, "no arguments for aggregate expression provided");
    std::size_t want = takes_parameter(agg->op) ? 2 : 1;
    if (args.size() != want)
      fail(op_pos, "wrong number of arguments for aggregate expression provided, expected " +
                       std::to_string(want) + ", got " + std::to_string(args.size()));
    if (want == 2) agg->param = std::move(args[0]);
    agg->expr = std::move(args.back());
    ValueType t = agg->expr->value_type();
    if (t != ValueType::kVector)
      fail(agg->expr->pos.start, "expected type instant vector in aggregation expression, got " +
                                     std::string(documented_name(t)));
    if (agg->param) {
      ValueType want_param =
          agg->op == AggregateOp::kCountValues ? ValueType::kString : ValueType::kScalar;
      ValueType p = agg->param->value_type();
      if (p != want_param)
        fail(agg->param->pos.start, "expected type " + std::string(documented_name(want_param)) +
                                        " in aggregation parameter, got " +
                                        std::string(documented_name(p)));
    }
  }

  [[gnu::noinline]] bool parse_aggregate_modifier(AggregateExpr& agg) {
    TokenKind k = lex_.peek().kind;
    if (k != TokenKind::kBy && k != TokenKind::kWithout) return false;
    lex_.next();
    agg.without = k == TokenKind::kWithout;
    agg.grouping = parse_grouping_labels();
    return true;
  }

  Lexer& lex_;
  ParseOptions options_;
  int depth_ = 0;
  int open_parens_ = 0;
  std::size_t last_close_ = 0;  // end of the last ')' of a call or label list
};

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text, std::size_t position) {
  auto invalid = [&] { fail(position, "not a valid duration string: " + quoted(text)); };
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) fail(position, "empty duration string");
  struct Unit {
    std::string_view name;
    std::int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                                    {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},
                                    {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},
                                    {"s", 1000},
                                    {"ms", 1}};
  // time.Duration is int64 nanoseconds: Prometheus rejects more than that.
  constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max() / 1000000;
  std::size_t i = 0;
  std::size_t next_unit = 0;
  std::int64_t total = 0;
  bool out_of_range = false;
  while (i < text.size()) {
    std::size_t digits_start = i;
    std::int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > kMaxMs)
        out_of_range = true;
      else
        n = n * 10 + (text[i] - '0');
      ++i;
    }
    if (i == digits_start || i == text.size()) invalid();
    std::size_t u = next_unit;
    while (u < std::size(kUnits) && text.substr(i, kUnits[u].name.size()) != kUnits[u].name) ++u;
    // "m" must not swallow the "m" of "ms".
    if (u < std::size(kUnits) && kUnits[u].name == "m" && text.substr(i, 2) == "ms") u = 6;
    if (u >= std::size(kUnits)) invalid();
    i += kUnits[u].name.size();
    next_unit = u + 1;
    if (n > kMaxMs / kUnits[u].ms) {
      out_of_range = true;
    } else {
      total += n * kUnits[u].ms;
      if (total > kMaxMs) out_of_range = true;
    }
  }
  if (out_of_range) fail(position, "duration out of range");
  return std::chrono::milliseconds(total);
}

ExprPtr parse_expr(std::string_view input, const ParseOptions& options) {
  Lexer lex(input);
  return Parser(lex, options).parse_all();
}

std::unique_ptr<VectorSelector> parse_vector_selector_prefix(Lexer& lexer,
                                                             const ParseOptions& options) {
  return Parser(lexer, options).parse_selector();
}

void check_vector_selector(const VectorSelector& sel) {
  if (!sel.name.empty()) {
    for (std::size_t i = 1; i < sel.matchers.size(); ++i)
      if (sel.matchers[i].name() == "__name__")
        fail(sel.pos.start, "metric name must not be set twice: " + quoted(sel.name) + " or " +
                                quoted(sel.matchers[i].value()));
    return;
  }
  for (const auto& m : sel.matchers)
    if (!m.matches_empty()) return;
  fail(sel.pos.start, "vector selector must contain at least one non-empty matcher");
}

}  // namespace strata::tsdb::promql

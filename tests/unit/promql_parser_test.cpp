// The PromQL parser, lexer, function table and printer: every construct of
// the Prometheus 3 grammar parses into the expected tree and prints back as
// Prometheus's String() does; everything Prometheus rejects is rejected with
// a positioned, Prometheus-worded error; deep or hostile input cannot crash.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <thread>

#include "tsdb/promql/functions.h"
#include "tsdb/promql/lexer.h"
#include "tsdb/promql/parser.h"
#include "tsdb/promql/printer.h"

using namespace strata::tsdb;
using namespace strata::tsdb::promql;
using namespace std::chrono_literals;

namespace {

std::string printed(const std::string& query) { return to_string(*parse_expr(query)); }

// The full message of parsing `query`; fails the test if it parses.
std::string error_of(const std::string& query) {
  try {
    auto e = parse_expr(query);
    FAIL("expected a parse error for: " << query << " but got " << to_string(*e));
  } catch (const ParseError& e) {
    return e.what();
  }
  return {};
}

template <typename T>
const T& as(const ast::ExprPtr& e, ast::ExprKind kind) {
  REQUIRE(e);
  REQUIRE(e->kind == kind);
  return e->as<T>();
}

}  // namespace

TEST_CASE("promql lexer: tokens carry kinds and byte positions", "[promql][lexer]") {
  Lexer lex("sum by (job) (rate(x{a=~\"b\"}[5m])) # comment\n> bool 0x1F");
  std::vector<std::pair<TokenKind, std::size_t>> got;
  while (lex.peek().kind != TokenKind::kEof) {
    Token t = lex.next();
    got.emplace_back(t.kind, t.pos);
  }
  std::vector<std::pair<TokenKind, std::size_t>> want = {
      {TokenKind::kSum, 0},           {TokenKind::kBy, 4},
      {TokenKind::kLeftParen, 7},     {TokenKind::kIdentifier, 8},
      {TokenKind::kRightParen, 11},   {TokenKind::kLeftParen, 13},
      {TokenKind::kIdentifier, 14},   {TokenKind::kLeftParen, 18},
      {TokenKind::kIdentifier, 19},   {TokenKind::kLeftBrace, 20},
      {TokenKind::kIdentifier, 21},   {TokenKind::kEqlRegex, 22},
      {TokenKind::kString, 24},       {TokenKind::kRightBrace, 27},
      {TokenKind::kLeftBracket, 28},  {TokenKind::kDuration, 29},
      {TokenKind::kRightBracket, 31}, {TokenKind::kRightParen, 32},
      {TokenKind::kRightParen, 33},   {TokenKind::kGtr, 45},
      {TokenKind::kBool, 47},         {TokenKind::kNumber, 52},
  };
  CHECK(got == want);
}

TEST_CASE("promql lexer: keywords are case-insensitive, words inside braces are names",
          "[promql][lexer]") {
  Lexer lex("SUM Offset INF nan {by=\"x\", on!~'y'} foo:bar");
  CHECK(lex.next().kind == TokenKind::kSum);
  CHECK(lex.next().kind == TokenKind::kOffset);
  CHECK(lex.next().kind == TokenKind::kNumber);
  CHECK(lex.next().kind == TokenKind::kNumber);
  CHECK(lex.next().kind == TokenKind::kLeftBrace);
  CHECK(lex.next().kind == TokenKind::kIdentifier);
  CHECK(lex.next().kind == TokenKind::kEql);
  Token s = lex.next();
  CHECK(s.kind == TokenKind::kString);
  CHECK(s.value == "x");
  CHECK(lex.next().kind == TokenKind::kComma);
  CHECK(lex.next().kind == TokenKind::kIdentifier);
  CHECK(lex.next().kind == TokenKind::kNeqRegex);
  CHECK(lex.next().value == "y");
  CHECK(lex.next().kind == TokenKind::kRightBrace);
  CHECK(lex.next().kind == TokenKind::kMetricIdentifier);
  CHECK(lex.next().kind == TokenKind::kEof);
}

TEST_CASE("promql lexer: numbers and durations", "[promql][lexer]") {
  for (const char* n :
       {"1", "1.5", ".5", "5.", "1e3", "1E-3", "0x1F", "0X_ff", "1_000", "1_000.5"}) {
    INFO(n);
    Lexer lex(n);
    CHECK(lex.next().kind == TokenKind::kNumber);
    CHECK(lex.next().kind == TokenKind::kEof);
  }
  for (const char* d : {"5m", "1h30m", "100ms", "1y", "2w3d", "1d2h3m4s5ms"}) {
    INFO(d);
    Lexer lex(d);
    CHECK(lex.next().kind == TokenKind::kDuration);
  }
  for (const char* bad : {"1.2.3", "1e", "1__0", "5x", "1_", "0x1.5"}) {
    INFO(bad);
    Lexer lex(bad);
    CHECK_THROWS_AS(lex.next(), ParseError);
  }
}

TEST_CASE("promql parser: canonical printing matches Prometheus", "[promql][parser]") {
  // input -> Prometheus 3 String(); "" means unchanged.
  const std::pair<const char*, const char*> cases[] = {
      // literals
      {"1", ""},
      {"1.5", ""},
      {".5", "0.5"},
      {"5.", "5"},
      {"1e3", "1000"},
      {"1e6", "1000000"},
      {"1e-7", "0.0000001"},
      {"0x1F", "31"},
      {"010", "8"},
      {"08", "8"},
      {"1_000", "1000"},
      {"Inf", "+Inf"},
      {"-inf", "-Inf"},
      {"NaN", "NaN"},
      {"-1", ""},
      {"+1", "1"},
      {"- - 1", "1"},
      // Prometheus prints +Inf signed, so it reads back as a unary plus.
      {"Inf ^ 2", "+Inf ^ 2"},
      {"-(1)", ""},
      {"\"a\\tb\"", ""},
      {"'single'", "\"single\""},
      {"`raw\\n`", "\"raw\\\\n\""},
      {"\"\\u00e9\\x01\\u200b\\U0001F600\"", "\"\xC3\xA9\\x01\\u200b\xF0\x9F\x98\x80\""},
      // selectors
      {"foo", ""},
      {"foo:bar:baz", ""},
      {":foo", ""},
      {"foo{}", "foo"},
      {"foo{a=\"b\",}", "foo{a=\"b\"}"},
      {"m{z=\"1\", a=\"2\", b!~\"x\", c=~'y', d!=`z`}",
       "m{a=\"2\",b!~\"x\",c=~\"y\",d!=\"z\",z=\"1\"}"},
      {"{__name__=\"m\"}", ""},
      {"{a=\"b\", __name__=\"m\"}", "{__name__=\"m\",a=\"b\"}"},
      {"a{a=\"b\",a=\"c\"}", ""},
      {"{\"metric.name\"}", "{__name__=\"metric.name\"}"},
      {"{\"metric.name\", \"label.x\"=\"v\", job=\"j\"}",
       "{\"label.x\"=\"v\",__name__=\"metric.name\",job=\"j\"}"},
      {"sum", ""},
      {"sum{a=\"b\"}", ""},
      {"by", ""},
      {"offset", ""},
      {"and", ""},
      {"start", ""},
      {"foo{on=\"x\", by=\"y\"}", "foo{by=\"y\",on=\"x\"}"},
      // ranges, offsets, @
      {"x[5m]", ""},
      {"x[90m]", "x[1h30m]"},
      {"x[7d]", "x[1w]"},
      {"x[365d]", "x[1y]"},
      {"x[366d]", ""},
      {"x[1y1w]", "x[372d]"},
      {"x[1500ms]", "x[1s500ms]"},
      {"x[300]", "x[5m]"},
      {"x offset 5m", ""},
      {"x OFFSET 1d", "x offset 1d"},
      {"x offset -5m", ""},
      {"x offset - 5m", "x offset -5m"},
      {"x offset 30", "x offset 30s"},
      {"x @ 100", "x @ 100.000"},
      {"x @ 1.5555", "x @ 1.556"},
      {"x @ -5", "x @ -5.000"},
      {"x @ +1", "x @ 1.000"},
      {"x @ 0x10", "x @ 16.000"},
      {"x @ start()", ""},
      {"x @ end()", ""},
      {"x offset 5m @ start()", "x @ start() offset 5m"},
      {"x[5m] offset -1w @ 100", "x[5m] @ 100.000 offset -1w"},
      {"x{a=\"b\"}[5m] offset 1m", ""},
      // subqueries
      {"x[5m:]", ""},
      {"x[5m:1m]", ""},
      {"x[1h:5m] offset 1m", ""},
      {"x[5m:1m] @ end() offset 3m", ""},
      {"x @ 100 [5m:]", "x @ 100.000[5m:]"},
      {"x offset 5m [5m:]", "x offset 5m[5m:]"},
      {"sum(x)[5m:1m]", ""},
      {"(x)[5m:]", ""},
      {"rate(x[5m:])", ""},
      {"rate(x[5m])[1h:]", ""},
      {"min_over_time(rate(x[5m])[1h:])[1d:1h]", ""},
      // operators, precedence and associativity
      {"a + b * c", ""},
      {"(a + b) * c", ""},
      {"a - (b - c)", ""},
      {"a / b * c", ""},
      {"a ^ b ^ c", ""},
      {"(a ^ b) ^ c", ""},
      {"-a", ""},
      {"+a", ""},
      {"-a ^ 2", ""},
      {"-1 ^ 2", ""},
      {"a + -b", ""},
      {"a - - b", "a - -b"},
      {"2 ^ -1", ""},
      {"a ^ -b ^ c", ""},
      {"a atan2 b", ""},
      {"a ATAN2 b", "a atan2 b"},
      {"a % b", ""},
      {"a == b", ""},
      {"a != b", ""},
      {"a <= b", ""},
      {"a < b", ""},
      {"a >= b", ""},
      {"a > b", ""},
      {"a > bool 1", ""},
      {"1 == bool 1", ""},
      {"a > bool b == bool c", ""},
      {"a or b and c", ""},
      {"a and b or c", ""},
      {"a unless b", ""},
      {"a AND b", "a and b"},
      {"a == b + c", ""},
      // vector matching
      {"a + on(b) c", "a + on (b) c"},
      {"a + on() c", "a + on () c"},
      {"a + ignoring(b, c) d", "a + ignoring (b, c) d"},
      {"a + ignoring() c", "a + c"},
      {"a + on(b) group_left c", "a + on (b) group_left () c"},
      {"a + on(b) group_left(x, y) c", "a + on (b) group_left (x, y) c"},
      {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)"},
      {"a + ignoring(x) group_right(y) c", "a + ignoring (x) group_right (y) c"},
      {"a + ignoring() group_left() b", "a + ignoring () group_left () b"},
      {"a + On(b) Group_Left(c) d", "a + on (b) group_left (c) d"},
      {"a > bool on(x) b", "a > bool on (x) b"},
      {"a and on(x) b", "a and on (x) b"},
      {"a or ignoring(x) b", "a or ignoring (x) b"},
      {"a * on(\"x.y\") group_left(\"z.w\") b", "a * on (\"x.y\") group_left (\"z.w\") b"},
      {"1 + on() 2", "1 + 2"},
      {"a + ignoring() 1", "a + 1"},
      // aggregations
      {"sum(x)", ""},
      {"sum by (a) (x)", ""},
      {"sum(x) by (a, b)", "sum by (a, b) (x)"},
      {"sum by (a,) (x)", "sum by (a) (x)"},
      {"sum by () (x)", "sum(x)"},
      {"sum without () (x)", ""},
      {"sum without (a) (x)", ""},
      {"sum(x) without (a)", "sum without (a) (x)"},
      {"SUM(x) BY (a)", "sum by (a) (x)"},
      {"sum by (on, bool, offset, sum, group_left) (x)", ""},
      {"sum by (\"a.b\", c) (x)", "sum by (\"a.b\", c) (x)"},
      {"avg(x)", ""},
      {"count(x)", ""},
      {"min(x)", ""},
      {"max by (a) (x)", ""},
      {"group(x)", ""},
      {"stddev(x)", ""},
      {"stdvar(x)", ""},
      {"topk(5, x)", ""},
      {"topk by (a) (5, x)", ""},
      {"bottomk(3, x)", ""},
      {"quantile(0.9, x)", ""},
      {"count_values(\"v\", x)", ""},
      {"count_values by (a) (\"x\", y)", ""},
      {"limitk(2, x)", ""},
      {"limit_ratio(0.5, x)", ""},
      {"sum(sum)", ""},
      {"sum(x) + sum by (a) (y)", ""},
      // functions
      {"rate(x[5m])", ""},
      {"sum(rate(x[5m]))", ""},
      {"histogram_quantile(0.9, sum by (le) (rate(x[5m])))", ""},
      {"label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")", ""},
      {"label_join(x, \"a\", \",\", \"b\", \"c\", \"d\")", ""},
      {"round(x)", ""},
      {"round(x, 5)", ""},
      {"hour()", ""},
      {"time()", ""},
      {"pi()", ""},
      {"vector(1)", ""},
      {"scalar(x)", ""},
      {"clamp(x, 0, 1)", ""},
      {"sort_by_label(x, \"a\", \"b\")", ""},
      {"double_exponential_smoothing(x[5m], 0.5, 0.5)", ""},
      {"rate(sum[5m])", ""},
      // comments and whitespace
      {"x # comment", "x"},
      {"sum(\n  x # c\n) by (\n a\n)", "sum by (a) (x)"},
      {"x{a=\"b\" # c\n}", "x{a=\"b\"}"},
  };
  for (const auto& [in, out] : cases) {
    INFO(in);
    std::string want = *out ? out : in;
    CHECK(printed(in) == want);
    // Printing is a fixed point (but for the +Inf quirk).
    if (want.find("+Inf ^") == std::string::npos) CHECK(printed(want) == want);
  }
  CHECK(printed("+Inf ^ 2") == "++Inf ^ 2");
}

TEST_CASE("promql parser: every function of the table parses with its argument types",
          "[promql][parser][functions]") {
  auto arg_for = [](ValueType t) -> std::string {
    switch (t) {
      case ValueType::kScalar:
        return "1";
      case ValueType::kString:
        return "\"s\"";
      case ValueType::kVector:
        return "x";
      case ValueType::kMatrix:
        return "x[5m]";
      case ValueType::kNone:
        break;
    }
    return "";
  };
  CHECK(all_functions().size() >= 70);
  for (const auto& f : all_functions()) {
    INFO(f.name);
    std::string q = std::string(f.name) + "(";
    for (std::size_t i = 0; i < f.arg_types.size(); ++i)
      q += (i ? ", " : "") + arg_for(f.arg_types[i]);
    q += ")";
    auto e = parse_expr(q);
    CHECK(e->kind == ast::ExprKind::kCall);
    CHECK(e->value_type() == f.return_type);
    CHECK(to_string(*e) == q);
    CHECK(find_function(f.name) == &f);
  }
  for (const char* name : {"rate",
                           "irate",
                           "increase",
                           "delta",
                           "idelta",
                           "deriv",
                           "predict_linear",
                           "resets",
                           "changes",
                           "avg_over_time",
                           "min_over_time",
                           "max_over_time",
                           "sum_over_time",
                           "count_over_time",
                           "stddev_over_time",
                           "stdvar_over_time",
                           "last_over_time",
                           "present_over_time",
                           "quantile_over_time",
                           "mad_over_time",
                           "absent",
                           "absent_over_time",
                           "histogram_quantile",
                           "histogram_count",
                           "histogram_sum",
                           "histogram_fraction",
                           "histogram_avg",
                           "histogram_stddev",
                           "histogram_stdvar",
                           "label_replace",
                           "label_join",
                           "sort",
                           "sort_desc",
                           "sort_by_label",
                           "sort_by_label_desc",
                           "clamp",
                           "clamp_min",
                           "clamp_max",
                           "abs",
                           "ceil",
                           "floor",
                           "round",
                           "exp",
                           "ln",
                           "log2",
                           "log10",
                           "sqrt",
                           "sgn",
                           "timestamp",
                           "time",
                           "vector",
                           "scalar",
                           "day_of_month",
                           "day_of_week",
                           "day_of_year",
                           "days_in_month",
                           "hour",
                           "minute",
                           "month",
                           "year",
                           "pi",
                           "deg",
                           "rad",
                           "acos",
                           "acosh",
                           "asin",
                           "asinh",
                           "atan",
                           "atanh",
                           "cos",
                           "cosh",
                           "sin",
                           "sinh",
                           "tan",
                           "tanh",
                           "double_exponential_smoothing"}) {
    INFO(name);
    CHECK(find_function(name) != nullptr);
  }
  CHECK(find_function("RATE") == nullptr);
  CHECK(find_function("holt_winters") == nullptr);
}

TEST_CASE("promql parser: the tree is typed and walkable", "[promql][parser][ast]") {
  using K = ast::ExprKind;
  auto e = parse_expr(
      "sum by (job) (rate(http{code=~\"5..\"}[5m] offset 1m)) / on(job) group_left(team) "
      "max(x) > bool 0.5");
  CHECK(e->value_type() == ValueType::kVector);
  const auto& cmp = as<ast::BinaryExpr>(e, K::kBinary);
  CHECK(cmp.op == ast::BinaryOp::kGtr);
  CHECK(cmp.return_bool);
  CHECK_FALSE(cmp.matching);  // vector > scalar: no vector matching
  const auto& div = as<ast::BinaryExpr>(cmp.lhs, K::kBinary);
  CHECK(div.op == ast::BinaryOp::kDiv);
  REQUIRE(div.matching);
  CHECK(div.matching->on);
  CHECK(div.matching->card == ast::Cardinality::kManyToOne);
  CHECK(div.matching->matching_labels == std::vector<std::string>{"job"});
  CHECK(div.matching->include == std::vector<std::string>{"team"});
  const auto& sum = as<ast::AggregateExpr>(div.lhs, K::kAggregate);
  CHECK(sum.op == ast::AggregateOp::kSum);
  CHECK(sum.grouping == std::vector<std::string>{"job"});
  CHECK_FALSE(sum.without);
  CHECK_FALSE(sum.param);
  const auto& rate = as<ast::Call>(sum.expr, K::kCall);
  CHECK(rate.func->name == "rate");
  const auto& m = as<ast::MatrixSelector>(rate.args[0], K::kMatrixSelector);
  CHECK(m.range == 5min);
  CHECK(m.selector->offset == 1min);
  CHECK(m.selector->name == "http");
  REQUIRE(m.selector->matchers.size() == 2);
  CHECK(m.selector->matchers[0].to_string() == "__name__=\"http\"");
  CHECK(m.selector->matchers[1].matches("503"));
  CHECK_FALSE(m.selector->matchers[1].matches("200"));
  CHECK(m.value_type() == ValueType::kMatrix);
  const auto& half = as<ast::NumberLiteral>(cmp.rhs, K::kNumberLiteral);
  CHECK(half.value == 0.5);

  auto sq = parse_expr("max_over_time(x[1h:30s] @ 1700000000.5 offset -5m)");
  const auto& call = as<ast::Call>(sq, K::kCall);
  const auto& sub = as<ast::SubqueryExpr>(call.args[0], K::kSubquery);
  CHECK(sub.range == 1h);
  CHECK(sub.step == 30s);
  CHECK(sub.offset == -5min);
  CHECK(sub.at == ast::AtModifier::kTimestamp);
  CHECK(sub.at_ms == 1700000000500);

  auto at = parse_expr("x @ end()");
  CHECK(as<ast::VectorSelector>(at, K::kVectorSelector).at == ast::AtModifier::kEnd);

  auto u = parse_expr("-(x)");
  const auto& neg = as<ast::UnaryExpr>(u, K::kUnary);
  CHECK(neg.op == ast::UnaryOp::kSub);
  CHECK(neg.expr->kind == K::kParen);

  auto folded = parse_expr("-2");
  CHECK(as<ast::NumberLiteral>(folded, K::kNumberLiteral).value == -2);

  auto s = parse_expr("\"x\"");
  CHECK(s->value_type() == ValueType::kString);
  CHECK(parse_expr("1 + 2 * 3")->value_type() == ValueType::kScalar);
  CHECK(parse_expr("time() + x")->value_type() == ValueType::kVector);
  CHECK(parse_expr("(x[5m])")->value_type() == ValueType::kMatrix);

  auto topk = parse_expr("topk(3, x) and y");
  const auto& andexpr = as<ast::BinaryExpr>(topk, K::kBinary);
  REQUIRE(andexpr.matching);
  CHECK(andexpr.matching->card == ast::Cardinality::kManyToMany);
  const auto& tk = as<ast::AggregateExpr>(andexpr.lhs, K::kAggregate);
  CHECK(tk.op == ast::AggregateOp::kTopk);
  CHECK(as<ast::NumberLiteral>(tk.param, K::kNumberLiteral).value == 3);

  auto q = parse_expr("{\"my.metric\", \"the.label\"=\"v\"}");
  const auto& vs = as<ast::VectorSelector>(q, K::kVectorSelector);
  CHECK(vs.name.empty());
  CHECK(vs.matchers[0].to_string() == "__name__=\"my.metric\"");
  CHECK(vs.matchers[1].name() == "the.label");
}

TEST_CASE("promql parser: positions span the source text", "[promql][parser][ast]") {
  std::string q = "  sum(rate(x[5m])) + 1";
  auto e = parse_expr(q);
  CHECK(e->pos.start == 2);
  CHECK(e->pos.end == q.size());
  const auto& b = e->as<ast::BinaryExpr>();
  CHECK(q.substr(b.lhs->pos.start, b.lhs->pos.end - b.lhs->pos.start) == "sum(rate(x[5m]))");
  const auto& call = b.lhs->as<ast::AggregateExpr>().expr;
  CHECK(q.substr(call->pos.start, call->pos.end - call->pos.start) == "rate(x[5m])");
  auto o = parse_expr("foo offset 5m");
  CHECK(o->pos.end == 13);
}

TEST_CASE("promql parser: type errors, worded as Prometheus words them", "[promql][parser]") {
  const std::pair<const char*, const char*> cases[] = {
      {"rate(x)",
       "parse error at char 6: expected type range vector in call to function \"rate\", got "
       "instant vector"},
      {"rate(x[5m], 1)",
       "parse error at char 1: expected 1 argument(s) in call to \"rate\", got 2"},
      {"rate()", "parse error at char 1: expected 1 argument(s) in call to \"rate\", got 0"},
      {"round(x, 1, 2)",
       "parse error at char 1: expected at most 2 argument(s) in call to \"round\", got 3"},
      {"label_join(x, \"a\")",
       "parse error at char 1: expected at least 3 argument(s) in call to \"label_join\", got 2"},
      {"vector(x)",
       "parse error at char 8: expected type scalar in call to function \"vector\", got instant "
       "vector"},
      {"absent(\"a\")",
       "parse error at char 8: expected type instant vector in call to function \"absent\", got "
       "string"},
      {"label_join(x, \"a\", \",\", 1)",
       "parse error at char 25: expected type string in call to function \"label_join\", got "
       "scalar"},
      {"foo(x)", "parse error at char 1: unknown function with name \"foo\""},
      {"RATE(x[5m])", "parse error at char 1: unknown function with name \"RATE\""},
      {"holt_winters(x[5m], 0.5, 0.5)",
       "parse error at char 1: unknown function with name \"holt_winters\""},
      {"\"a\" + \"b\"",
       "parse error at char 1: binary expression must contain only scalar and instant vector "
       "types"},
      {"1 + \"b\"",
       "parse error at char 5: binary expression must contain only scalar and instant vector "
       "types"},
      {"x[5m] + 1",
       "parse error at char 1: binary expression must contain only scalar and instant vector "
       "types"},
      {"a and 1",
       "parse error at char 1: set operator \"and\" not allowed in binary scalar expression"},
      {"1 or a",
       "parse error at char 1: set operator \"or\" not allowed in binary scalar expression"},
      {"a and on(x) group_left b",
       "parse error at char 1: no grouping allowed for \"and\" operation"},
      {"a unless ignoring(x) group_right(y) b",
       "parse error at char 1: no grouping allowed for \"unless\" operation"},
      {"1 < 2", "parse error at char 3: comparisons between scalars must use BOOL modifier"},
      {"1 + bool 2",
       "parse error at char 3: bool modifier can only be used on comparison operators"},
      {"a and bool b",
       "parse error at char 3: bool modifier can only be used on comparison operators"},
      {"a + on(a) group_left(a) b",
       "parse error at char 3: label \"a\" must not occur in ON and GROUP clause at once"},
      {"1 + on(a) b",
       "parse error at char 1: vector matching only allowed between instant vectors"},
      {"-\"a\"",
       "parse error at char 1: unary expression only allowed on expressions of type scalar or "
       "instant vector, got \"string\""},
      {"-x[5m]",
       "parse error at char 1: unary expression only allowed on expressions of type scalar or "
       "instant vector, got \"range vector\""},
      {"1[5m:]",
       "parse error at char 1: subquery is only allowed on instant vector, got scalar instead"},
      {"x[5m][5m:]",
       "parse error at char 1: subquery is only allowed on instant vector, got matrix instead"},
      {"sum(1, x)",
       "parse error at char 1: wrong number of arguments for aggregate expression provided, "
       "expected 1, got 2"},
      {"topk(x)",
       "parse error at char 1: wrong number of arguments for aggregate expression provided, "
       "expected 2, got 1"},
      {"sum()", "parse error at char 1: no arguments for aggregate expression provided"},
      {"topk(\"a\", x)",
       "parse error at char 6: expected type scalar in aggregation parameter, got string"},
      {"count_values(1, x)",
       "parse error at char 14: expected type string in aggregation parameter, got scalar"},
      {"quantile(x, y)",
       "parse error at char 10: expected type scalar in aggregation parameter, got instant vector"},
      {"sum(x[5m])",
       "parse error at char 5: expected type instant vector in aggregation expression, got range "
       "vector"},
      {"limitk(x, y)",
       "parse error at char 8: expected type scalar in aggregation parameter, got instant vector"},
  };
  for (const auto& [in, want] : cases) {
    INFO(in);
    CHECK(error_of(in) == want);
  }
}

TEST_CASE("promql parser: modifier and range errors", "[promql][parser]") {
  const std::pair<const char*, const char*> cases[] = {
      {"(x)[5m]", "parse error at char 4: ranges only allowed for vector selectors"},
      {"rate(x[5m])[5m]", "parse error at char 12: ranges only allowed for vector selectors"},
      {"x[5m][5m]", "parse error at char 6: ranges only allowed for vector selectors"},
      {"x offset 5m[5m]", "parse error at char 12: no offset modifiers allowed before range"},
      {"x @ 100 [5m]", "parse error at char 9: no @ modifiers allowed before range"},
      {"x offset 1m offset 2m", "parse error at char 1: offset may not be set multiple times"},
      {"x @ 1 @ 2", "parse error at char 1: @ <timestamp> may not be set multiple times"},
      {"x @ start() @ end()", "parse error at char 1: @ <timestamp> may not be set multiple times"},
      {"1 offset 5m",
       "parse error at char 1: offset modifier must be preceded by an instant vector selector or "
       "range vector selector or a subquery"},
      {"sum(x) offset 5m",
       "parse error at char 1: offset modifier must be preceded by an instant vector selector or "
       "range vector selector or a subquery"},
      {"(x) @ 5",
       "parse error at char 1: @ modifier must be preceded by an instant vector selector or "
       "range vector selector or a subquery"},
      {"x @ Inf", "parse error at char 1: timestamp out of bounds for @ modifier: +Inf"},
      {"x @ NaN", "parse error at char 1: timestamp out of bounds for @ modifier: NaN"},
      {"x @ 1e30",
       "parse error at char 1: timestamp out of bounds for @ modifier: "
       "1000000000000000019884624838656.000000"},
      {"x[0s]", "parse error at char 3: duration must be greater than 0"},
      {"x[0]", "parse error at char 3: duration must be greater than 0"},
      {"x offset 0s", "parse error at char 10: duration must be greater than 0"},
      {"x[5m:0s]", "parse error at char 6: duration must be greater than 0"},
      {"x[5m5m]", "parse error at char 3: not a valid duration string: \"5m5m\""},
      {"x[1m1h]", "parse error at char 3: not a valid duration string: \"1m1h\""},
      {"x[1.5h]", "parse error at char 3: not a valid duration string: \"1.5h\""},
      {"x[300y]", "parse error at char 3: duration out of range"},
      {"x[1h30]", "parse error at char 3: bad number or duration syntax: \"1h30\""},
      {"x[5M]", "parse error at char 3: bad number or duration syntax: \"5\""},
      {"x[5m", "parse error at char 5: unclosed left bracket"},
      {"x[", "parse error at char 3: unclosed left bracket"},
      {"x[5m:1m:1m]", "parse error at char 8: unexpected ':' in subquery selector, expected ']'"},
      {"x[:5m]", "parse error at char 3: unexpected ':' in subquery or range, expected duration"},
      {"x[5m 1m]",
       "parse error at char 6: unexpected duration \"1m\" in subquery or range, expected "
       "':' or ']'"},
      {"x @ start", "parse error at char 10: unexpected end of input in @, expected '('"},
      {"x @ foo()",
       "parse error at char 5: unexpected identifier \"foo\" in @, expected timestamp"},
      {"x @ \"1\"", "parse error at char 5: unexpected string in @, expected timestamp"},
      {"x offset", "parse error at char 9: unexpected end of input in offset, expected duration"},
      {"x offset -",
       "parse error at char 11: unexpected end of input in offset, expected duration"},
      {"x offset +5m", "parse error at char 10: unexpected '+' in offset, expected duration"},
      {"time() - 1h", "parse error at char 10: unexpected duration \"1h\""},
  };
  for (const auto& [in, want] : cases) {
    INFO(in);
    CHECK(error_of(in) == want);
  }
}

TEST_CASE("promql parser: syntax errors", "[promql][parser]") {
  const std::pair<const char*, const char*> cases[] = {
      {"", "parse error at char 1: no expression found in input"},
      {"   ", "parse error at char 4: no expression found in input"},
      {"# only a comment", "parse error at char 17: no expression found in input"},
      {"sum(x", "parse error at char 6: unclosed left parenthesis"},
      {"(x", "parse error at char 3: unclosed left parenthesis"},
      {"(a +", "parse error at char 5: unclosed left parenthesis"},
      {"sum(x))", "parse error at char 7: unexpected right parenthesis ')'"},
      {"x)", "parse error at char 2: unexpected right parenthesis ')'"},
      {"x]", "parse error at char 2: unexpected ']'"},
      {"x}", "parse error at char 2: unexpected '}'"},
      {"x$", "parse error at char 2: unexpected '$'"},
      {"x!", "parse error at char 2: unexpected '!'"},
      {"a ==", "parse error at char 5: unexpected end of input"},
      {"* a", "parse error at char 1: unexpected '*'"},
      {"a * * b", "parse error at char 5: unexpected '*'"},
      {"a b", "parse error at char 3: unexpected identifier \"b\""},
      {"on", "parse error at char 1: unexpected keyword \"on\""},
      {"bool", "parse error at char 1: unexpected keyword \"bool\""},
      {"group_left", "parse error at char 1: unexpected keyword \"group_left\""},
      {"a * group_left b", "parse error at char 5: unexpected keyword \"group_left\""},
      {"x and", "parse error at char 6: unexpected end of input"},
      {"sum by x (y)",
       "parse error at char 8: unexpected identifier \"x\" in grouping opts, "
       "expected '('"},
      {"sum by (1) (x)",
       "parse error at char 9: unexpected number \"1\" in grouping opts, expected label"},
      {"sum by (a b) (x)",
       "parse error at char 11: unexpected identifier \"b\" in grouping opts, expected ',' or ')'"},
      {"sum by (a:b) (x)",
       "parse error at char 9: unexpected identifier \"a:b\" in grouping opts, expected label"},
      {"sum without (a) (x) by (b)", "parse error at char 21: unexpected keyword \"by\""},
      {"sum by (a)", "parse error at char 11: unexpected end of input, expected '('"},
      {"rate(x[5m],)", "parse error at char 11: trailing commas not allowed in function call args"},
      {"sum(x,)", "parse error at char 6: trailing commas not allowed in function call args"},
      {"rate(x[5m] y)", "parse error at char 12: unexpected identifier \"y\", expected ',' or ')'"},
      {"foo:bar(x)", "parse error at char 8: unexpected '('"},
      {"1.2.3", "parse error at char 1: bad number or duration syntax: \"1.2.\""},
      {"0x", "parse error at char 1: error parsing number \"0x\": invalid syntax"},
      {"1e400", "parse error at char 1: error parsing number \"1e400\": value out of range"},
      {"0xFFFFFFFFFFFFFFFFFF",
       "parse error at char 1: error parsing number \"0xFFFFFFFFFFFFFFFFFF\": invalid syntax"},
      {"\"abc", "parse error at char 1: unterminated quoted string"},
      {"'a\"", "parse error at char 1: unterminated quoted string"},
      {"\"a\\'\"", "parse error at char 3: unknown escape sequence '\\''"},
      {"x{a=\"\\q\"}", "parse error at char 6: unknown escape sequence '\\q'"},
      {"@ 5", "parse error at char 1: unexpected '@'"},
      {"x{", "parse error at char 3: unexpected end of input, expected label name or '}'"},
      {"x{a=1}", "parse error at char 5: unexpected '1', expected a quoted string"},
      {"x{a!b}",
       "parse error at char 4: unexpected '!' after label name \"a\", expected one of '=', '!=', "
       "'=~', '!~'"},
      {"{}", "parse error at char 1: vector selector must contain at least one non-empty matcher"},
      {"{a=~\".*\"}[5m]",
       "parse error at char 1: vector selector must contain at least one non-empty matcher"},
      {"m{__name__=\"m\"}",
       "parse error at char 1: metric name must not be set twice: \"m\" or \"m\""},
      {"foo{\"bar\"}",
       "parse error at char 1: metric name must not be set twice: \"foo\" or \"bar\""},
      {"x{\"\"}", "parse error at char 1: metric name must not be set twice: \"x\" or \"\""},
  };
  for (const auto& [in, want] : cases) {
    INFO(in);
    CHECK(error_of(in) == want);
  }
  CHECK_THAT(error_of("x{a=~\"(\"}"),
             Catch::StartsWith("parse error at char 6: invalid regular expression \"(\": "));
}

TEST_CASE("promql parser: the Prometheus 2 grammar option rejects quoted names",
          "[promql][parser]") {
  ParseOptions legacy;
  legacy.quoted_names = false;
  CHECK_THROWS_WITH(parse_expr("{\"a.b\"}", legacy),
                    "parse error at char 2: unexpected string, expected label name");
  CHECK_THROWS_WITH(parse_expr("sum by (\"a\") (x)", legacy),
                    "parse error at char 9: unexpected string in grouping opts, expected label");
  CHECK_NOTHROW(parse_expr("sum by (a) (x{b=\"c\"})", legacy));
}

TEST_CASE("promql parser: nesting is bounded, deep input is an error not a crash",
          "[promql][parser]") {
  auto nested = [](int depth) {
    return std::string(static_cast<std::size_t>(depth), '(') + "x" +
           std::string(static_cast<std::size_t>(depth), ')');
  };
  CHECK_NOTHROW(parse_expr(nested(900)));
  CHECK_THAT(error_of(nested(5000)), Catch::Contains("expression nesting too deep"));
  CHECK_THAT(error_of(std::string(100000, '-') + "1"),
             Catch::Contains("expression nesting too deep"));
  // A long left-associative chain is as deep as it is long.
  std::string chain = "x";
  for (int i = 0; i < 5000; ++i) chain += " + x";
  CHECK_THAT(error_of(chain), Catch::Contains("expression nesting too deep"));
  std::string pow = "x";
  for (int i = 0; i < 5000; ++i) pow += "^x";
  CHECK_THAT(error_of(pow), Catch::Contains("expression nesting too deep"));
  std::string calls;
  for (int i = 0; i < 3000; ++i) calls += "abs(";
  calls += "x" + std::string(3000, ')');
  CHECK_THAT(error_of(calls), Catch::Contains("expression nesting too deep"));
  // The deepest accepted tree parses, prints and is destroyed on an
  // ordinary thread, as in the HTTP server.
  std::string deepest = nested(ast::kMaxNesting - 1);
  bool ok = false;
  std::thread t([&] {
    auto e = parse_expr(deepest);
    ok = to_string(*e) == deepest;
  });
  t.join();
  CHECK(ok);
}

TEST_CASE("promql printer: durations, numbers and Go quoting", "[promql][printer]") {
  CHECK(format_duration(0ms) == "0s");
  CHECK(format_duration(5400s) == "1h30m");
  CHECK(format_duration(std::chrono::hours(24 * 7)) == "1w");
  CHECK(format_duration(std::chrono::hours(24 * 90)) == "90d");
  CHECK(format_duration(std::chrono::hours(24 * 730)) == "2y");
  CHECK(format_duration(1001ms) == "1s1ms");
  CHECK(parse_duration("1y2w3d4h5m6s7ms") ==
        std::chrono::milliseconds(((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000LL + 7));
  CHECK(parse_duration("0") == 0ms);
  CHECK_THROWS_AS(parse_duration("5"), ParseError);
  CHECK_THROWS_AS(parse_duration("1s1m"), ParseError);
  CHECK(format_number(0) == "0");
  CHECK(format_number(-0.0) == "-0");
  CHECK(format_number(0.1) == "0.1");
  CHECK(format_number(1e21) == "1000000000000000000000");
  CHECK(format_number(123456789.125) == "123456789.125");
  CHECK(format_number(1.0 / 3) == "0.3333333333333333");
  CHECK(format_number(INFINITY) == "+Inf");
  CHECK(format_number(-INFINITY) == "-Inf");
  CHECK(format_number(NAN) == "NaN");
  CHECK(quote_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(quote_string("\a\b\f\n\r\t\v\x01\x7f") == "\"\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f\"");
  CHECK(quote_string("caf\xC3\xA9 \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  CHECK(quote_string("\xC2\xA0\xC2\xAD\xE2\x80\x8B\xEF\xBB\xBF\xEE\x80\x80") ==
        "\"\\u00a0\\u00ad\\u200b\\ufeff\\ue000\"");
  CHECK(quote_string("\xff") == "\"\\xff\"");
}

TEST_CASE("promql parser: printing then parsing is a fixed point on tricky input",
          "[promql][parser][printer]") {
  for (const char* q : {"-(-x)", "-(1)", "+(-1)", "(-1) ^ 2", "-x offset 5m", "sum(-x)", "a - (-b)",
                        "a - -1", "x{a=\"\\\\\"}", "count_values(\"\\n\", x)", "1 - -1",
                        "-(a + b) * c", "sum without (le) (rate(x[5m:30s] @ start()))"}) {
    INFO(q);
    std::string once = printed(q);
    CHECK(printed(once) == once);
  }
}

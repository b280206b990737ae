// The PromQL parser against the real thing: a Prometheus server (Debian's
// prometheus, installed by scripts/setup.sh) on a free loopback port formats
// every valid expression with /api/v1/format_query, and our printer must
// produce the same text; every invalid expression must be rejected by both.
//
// The installed Prometheus is 2.42, older than the Prometheus 3 grammar we
// implement, so expressions that only Prometheus 3 knows (quoted UTF-8
// names, limitk, newer functions, numbers as durations, ...) are checked the
// other way round: we accept them, 2.42 still rejects them. docs/promql.md
// lists these differences.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"
#include "tsdb/promql/parser.h"
#include "tsdb/promql/printer.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

// Both must accept these and print them identically. They cover every
// construct of the grammar and every function Prometheus 2.42 has.
const char* const kValid[] = {
    // literals
    "1",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "1E-3",
    "0.0001",
    "123456",
    "0x1F",
    "0XfF",
    "010",
    "08",
    "Inf",
    "-Inf",
    "inf",
    "NaN",
    "nan",
    "-1",
    "+1",
    "- - 1",
    "-(1)",
    "+(2)",
    "\"a\\tb\\n\"",
    "'single \\' quote'",
    "`raw \\d+`",
    "\"\\u00e9\\x01\\x7f\\u200b\\u00a0\"",
    "\"quote \\\" and backslash \\\\\"",
    "\"\\a\\b\\f\\r\\v\"",
    "\"\\101\\102\"",
    // vector selectors
    "foo",
    "foo:bar:baz",
    ":foo",
    "_x1",
    "foo{}",
    "foo{a=\"b\"}",
    "foo{a=\"b\",}",
    "foo{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h|i\"}",
    "m{z=\"1\", a=\"2\"}",
    "{__name__=\"m\"}",
    "{a=\"b\", __name__=\"m\"}",
    "{__name__=~\"node_.+\", job=\"n\"}",
    "{a=~\".+\"}",
    "{a!=\"\"}",
    "a{a=\"b\",a=\"c\"}",
    "foo{on=\"x\", by=\"y\", bool=\"z\"}",
    "foo{a=`raw\\n`}",
    "foo{a='x\"y'}",
    "foo{a=\"caf\xC3\xA9\"}",
    "sum",
    "sum{a=\"b\"}",
    "by",
    "without",
    "offset",
    "start",
    "end",
    "and",
    "avg + count",
    "SUM",
    "Offset",
    // ranges, offsets and @
    "x[5m]",
    "x[1h30m]",
    "x[90m]",
    "x[1d]",
    "x[7d]",
    "x[14d]",
    "x[365d]",
    "x[366d]",
    "x[1y]",
    "x[1y1w]",
    "x[52w]",
    "x[100ms]",
    "x[1000ms]",
    "x[1500ms]",
    "x[60s]",
    "x[3600s]",
    "x{a=\"b\"}[5m]",
    "x offset 5m",
    "x offset 1d",
    "x OFFSET 5m",
    "x Offset -5m",
    "x offset -1w",
    "x offset - 5m",
    "x[5m] offset 1m",
    "x[12m] offset -3m",
    "x @ 100",
    "x @ 1.5555",
    "x @ -5",
    "x @ +1",
    "x @ 0x10",
    "x @ 1.0001",
    "x @ -1.5",
    "x @ start()",
    "x @ end()",
    "x offset 5m @ start()",
    "x @ end() offset 5m",
    "x[5m] @ 100",
    "x[5m] @ start() offset 1m",
    "x[5m] offset -1w @ 100",
    "x{a=\"b\"} offset 5m @ 123.456",
    // subqueries
    "x[5m:]",
    "x[5m:1m]",
    "x[1h:5m] offset 1m",
    "x[5m:] offset 1m",
    "x[5m:1m] @ end() offset 3m",
    "x[5m:] @ 100",
    "x @ 100 [5m:]",
    "x offset 5m [5m:]",
    "sum(x)[5m:1m]",
    "(x)[5m:]",
    "rate(x[5m:])",
    "rate(x[5m])[1h:]",
    "min_over_time(rate(x[5m])[1h:])[1d:1h]",
    "-rate(x[5m:])",
    "abs(x)[5m:30s] offset 1m",
    // unary and binary operators, precedence, associativity
    "-a",
    "+a",
    "-a ^ 2",
    "-1 ^ 2",
    "- 2 ^ 2",
    "a + -b",
    "a - - b",
    "a * -1",
    "2 ^ -1",
    "a ^ -b ^ c",
    "a + b * c",
    "(a + b) * c",
    "a - (b - c)",
    "a - b - c",
    "a / b * c",
    "a ^ b ^ c",
    "(a ^ b) ^ c",
    "a % b",
    "a atan2 b",
    "a ATAN2 b",
    "a == b",
    "a != b",
    "a <= b",
    "a < b",
    "a >= b",
    "a > b",
    "a > 1",
    "1 < a",
    "a == bool b",
    "a > bool 1",
    "1 == bool 1",
    "1 != bool 2",
    "a > bool b == bool c",
    "a or b and c",
    "a and b or c",
    "a unless b and c",
    "a and b unless c",
    "a AND b",
    "a Or b",
    "a == b + c",
    "1 + 2 * 3",
    "(1 + 2) * 3",
    "2 ^ 3 ^ 2",
    "-(a + b) * c",
    "a + b offset 5m",
    "a + b @ 5",
    "time() - x",
    "x - time()",
    "1 - -1",
    "a - (-b)",
    "-(-x)",
    // vector matching
    "a + on(b) c",
    "a + on() c",
    "a + ignoring(b, c) d",
    "a + ignoring() c",
    "a + on(b) group_left c",
    "a + on(b) group_left(x, y) c",
    "a - on(b) group_left() (c)",
    "a - on(b) group_left (c) d",
    "a + ignoring(x) group_right(y) c",
    "a + ignoring(x) group_left c",
    "a + On(b) Group_Left(c) d",
    "a > bool on(x) b",
    "a > bool ignoring(x) group_left(y) b",
    "a and on(x) b",
    "a or ignoring(x) b",
    "a unless on() b",
    "a * on(a,) group_right(b,) c",
    "1 + on() 2",
    "a + ignoring() 1",
    "sum by (a) (x) + on (a) group_right (b) y",
    // aggregations
    "sum(x)",
    "sum by (a) (x)",
    "sum(x) by (a, b)",
    "sum by (a,) (x)",
    "sum by () (x)",
    "sum without () (x)",
    "sum without (a) (x)",
    "sum(x) without (a)",
    "SUM(x) BY (a)",
    "sum by (on, bool, offset, sum, group_left, ignoring, by) (x)",
    "avg(x)",
    "count(x)",
    "min(x)",
    "max by (a) (x)",
    "group(x)",
    "stddev(x)",
    "stdvar without (b) (x)",
    "topk(5, x)",
    "topk by (a) (5, x)",
    "bottomk(3, x)",
    "quantile(0.9, x)",
    "quantile without (a) (0.5, x)",
    "count_values(\"v\", x)",
    "count_values by (a) (\"x\", y)",
    "sum(sum)",
    "sum(x) + sum by (a) (y)",
    "topk(scalar(y), x)",
    "sum(rate(x[5m]))",
    "max(x) by (a)",
    "count(x) without ()",
    // every function 2.42 has
    "abs(x)",
    "absent(x)",
    "absent_over_time(x[5m])",
    "acos(x)",
    "acosh(x)",
    "asin(x)",
    "asinh(x)",
    "atan(x)",
    "atanh(x)",
    "avg_over_time(x[5m])",
    "ceil(x)",
    "changes(x[5m])",
    "clamp(x, 0, 1)",
    "clamp_max(x, 1)",
    "clamp_min(x, 0)",
    "cos(x)",
    "cosh(x)",
    "count_over_time(x[5m])",
    "day_of_month()",
    "day_of_month(x)",
    "day_of_week(x)",
    "day_of_year(x)",
    "days_in_month(x)",
    "deg(x)",
    "delta(x[5m])",
    "deriv(x[5m])",
    "exp(x)",
    "floor(x)",
    "histogram_count(x)",
    "histogram_sum(x)",
    "histogram_fraction(0, 0.2, x)",
    "histogram_quantile(0.9, rate(x[5m]))",
    "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
    "hour()",
    "hour(x)",
    "idelta(x[5m])",
    "increase(x[1h])",
    "irate(x[5m])",
    "label_join(x, \"a\", \",\", \"b\", \"c\")",
    "label_join(x, \"a\", \",\")",
    "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")",
    "last_over_time(x[5m])",
    "ln(x)",
    "log10(x)",
    "log2(x)",
    "max_over_time(x[5m])",
    "min_over_time(x[5m])",
    "minute(x)",
    "month(x)",
    "pi()",
    "predict_linear(x[5m], 3600)",
    "present_over_time(x[5m])",
    "quantile_over_time(0.9, x[5m])",
    "rad(x)",
    "rate(x[5m])",
    "resets(x[5m])",
    "round(x)",
    "round(x, 5)",
    "scalar(x)",
    "sgn(x)",
    "sin(x)",
    "sinh(x)",
    "sort(x)",
    "sort_desc(x)",
    "sqrt(x)",
    "stddev_over_time(x[5m])",
    "stdvar_over_time(x[5m])",
    "sum_over_time(x[5m])",
    "tan(x)",
    "tanh(x)",
    "time()",
    "timestamp(x)",
    "vector(1)",
    "year()",
    "year(x)",
    "rate(sum[5m])",
    "rate(x[5m] offset 1h)",
    "vector(time())",
    // comments and whitespace
    "x # comment",
    "sum(\n  x # c\n) by (\n a\n)",
    "x{a=\"b\" # c\n}",
    "\t x \r\n",
};

// Both must reject these.
const char* const kInvalid[] = {
    "",
    "   ",
    "# only a comment",
    "rate(x)",
    "rate(x[5m], 1)",
    "rate()",
    "foo(x)",
    "RATE(x[5m])",
    "round(x, 1, 2)",
    "label_join(x, \"a\")",
    "vector(x)",
    "scalar(1)",
    "absent(\"a\")",
    "hour(x, y)",
    "time(x)",
    "abs(x, y)",
    "\"a\" + \"b\"",
    "1 + \"b\"",
    "x[5m] + 1",
    "a and 1",
    "1 and 1",
    "a or 1",
    "a and on(x) group_left b",
    "1 < 2",
    "1 + bool 2",
    "a + bool b",
    "a + on(a) group_left(a) b",
    "1 + on(a) b",
    "-\"a\"",
    "-x[5m]",
    "x ^ y[5m]",
    "1[5m:]",
    "\"a\"[5m:]",
    "x[5m][5m:]",
    "(x)[5m]",
    "rate(x[5m])[5m]",
    "x[5m][5m]",
    "x offset 5m[5m]",
    "x @ 100 [5m]",
    "x offset 1m offset 2m",
    "x @ 1 @ 2",
    "1 offset 5m",
    "count by (a) (x) offset 5m",
    "x @ Inf",
    "x @ NaN",
    "x @ 1e30",
    "x[0s]",
    "x offset 0s",
    "x[5m:0s]",
    "x[5m5m]",
    "x[1m1h]",
    "x[5d1y]",
    "x[1h30]",
    "x[5M]",
    "x[5m",
    "x[5m:1m:1m]",
    "x[:5m]",
    "x @ start",
    "x @ foo()",
    "x @ \"1\"",
    "x offset",
    "x offset -",
    "time() - 1h",
    "sum(x",
    "sum(x))",
    "x)",
    "x]",
    "x}",
    "x$",
    "x!",
    "a ==",
    "* a",
    "a * * b",
    "a b",
    "on",
    "bool",
    "group_left",
    "ignoring",
    "x and",
    "sum by x (y)",
    "sum by (1) (x)",
    "sum without (a) (x) by (b)",
    "sum(1, x)",
    "topk(x)",
    "topk(\"a\", x)",
    "count_values(1, x)",
    "quantile(x, y)",
    "sum()",
    "sum by (a) ()",
    "sum(x[5m])",
    "rate(x[5m],)",
    "foo:bar(x)",
    "1.2.3",
    "0x",
    "1e",
    "1e400",
    "\"abc",
    "'a\"",
    "x{a=\"\\q\"}",
    "@ 5",
    "x{",
    "x{a=\"b\"",
    "x{a=1}",
    "x{a!b}",
    "x{=\"b\"}",
    "x{a=\"b\",,}",
    "{}",
    "{a=\"\"}",
    "{a=~\".*\"}",
    "{a!~\"x\"}",
    "m{__name__=\"m\"}",
    "x{a=~\"(\"}",
    "a + ignoring(a) group_left(b)",
    "x @ 1 offset",
    "holt_winters_typo(x[5m], 0.5)",
    "sum by (a:b) (x)",
    "{a=\"b\"} {c=\"d\"}",
    "((x)",
    "x[5m:] [5m]",
    "-x[5m:]",
};

// Prometheus 3 grammar that 2.42 does not have: we accept, 2.42 rejects.
const char* const kPrometheus3Only[] = {
    "{\"metric.name\"}",
    "{\"metric.name\", job=\"x\"}",
    "foo{\"label.name\"=\"v\"}",
    "sum by (\"a.b\") (x)",
    "a * on(\"a.b\") b",
    "limitk(2, x)",
    "limit_ratio(0.5, x)",
    "histogram_avg(x)",
    "histogram_stddev(x)",
    "histogram_stdvar(x)",
    "mad_over_time(x[5m])",
    "sort_by_label(x, \"a\")",
    "sort_by_label_desc(x, \"a\", \"b\")",
    "double_exponential_smoothing(x[5m], 0.5, 0.5)",
    "x[300]",
    "x offset 60",
    "x[5m:30]",
    "1_000",
    "0x_1F",
};

class Prometheus : public testing::PrometheusServer {
 public:
  // {true, formatted} or {false, error message}.
  std::pair<bool, std::string> format(const std::string& query) {
    auto r =
        client_.get(base() + "/api/v1/format_query?query=" + http::HttpClient::url_encode(query));
    simdjson::dom::element doc = parser_.parse(r.body);
    std::string_view status = doc["status"].get_string().value();
    if (status == "success") return {true, std::string(doc["data"].get_string().value())};
    return {false, std::string(doc["error"].get_string().value())};
  }

 private:
  http::HttpClient client_;
  simdjson::dom::parser parser_;
};

// Our canonical form, or the error.
std::pair<bool, std::string> ours(const std::string& query) {
  try {
    return {true, tsdb::promql::to_string(*tsdb::promql::parse_expr(query))};
  } catch (const tsdb::promql::ParseError& e) {
    return {false, e.what()};
  }
}

}  // namespace

TEST_CASE("promql parser agrees with Prometheus on what parses and how it prints",
          "[promql][prometheus]") {
  if (!testing::prometheus_installed())
    FAIL(testing::kPrometheusBinary
         << " is not installed: run scripts/setup.sh (it installs prometheus)");
  Prometheus prom;
  if (!prom.ready()) {
    prom.dump();
    FAIL("prometheus did not become ready");
  }
  std::size_t compared = 0, matched = 0;
  for (const char* q : kValid) {
    INFO("query: " << q);
    auto [their_ok, theirs] = prom.format(q);
    auto [our_ok, mine] = ours(q);
    CHECK(their_ok);
    CHECK(our_ok);
    CHECK(mine == theirs);
    ++compared;
    if (their_ok && our_ok && mine == theirs) ++matched;
  }
  std::size_t rejected = 0;
  for (const char* q : kInvalid) {
    INFO("query: " << q);
    auto [their_ok, theirs] = prom.format(q);
    auto [our_ok, mine] = ours(q);
    CHECK_FALSE(their_ok);
    CHECK_FALSE(our_ok);
    if (!their_ok && !our_ok) ++rejected;
  }
  std::size_t newer = 0;
  for (const char* q : kPrometheus3Only) {
    INFO("query: " << q);
    auto [their_ok, theirs] = prom.format(q);
    auto [our_ok, mine] = ours(q);
    CHECK_FALSE(their_ok);
    CHECK(our_ok);
    if (!their_ok && our_ok) ++newer;
  }
  WARN("valid: " << matched << "/" << compared << " printed identically; invalid: " << rejected
                 << "/" << std::size(kInvalid) << " rejected by both; Prometheus-3-only: " << newer
                 << "/" << std::size(kPrometheus3Only) << " accepted by us only");
  CHECK(compared >= 150);
  CHECK(std::size(kInvalid) >= 50);
}

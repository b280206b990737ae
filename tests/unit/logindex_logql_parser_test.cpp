// LogQL parser: the subset Grafana's Loki data source sends, and clear
// errors (Loki's "parse error at line L, col C" wording) for everything else.
#include <re2/re2.h>

#include <catch2/catch.hpp>
#include <string>

#include "logindex/logql/parser.h"

using namespace strata::logindex;
using namespace strata::logindex::logql;

namespace {

std::string error_of(std::string_view q) {
  try {
    parse(q);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("logql: log queries with line filters and stages", "[logindex][logql]") {
  auto q = parse(R"x({job="sshd", host=~"web.*"} |= "Failed" != `invalid` |~ "user (\\w+)")x"
                 R"x( | logfmt | json | regexp "(?P<ip>\\d+\\.\\d+\\.\\d+\\.\\d+)")x"
                 R"x( | level="error", status >= 500 and latency > 250ms)x"
                 R"x( | line_format "{{.ip}} {{ .msg }}!")x");
  REQUIRE_FALSE(q.is_metric());
  REQUIRE(q.log);
  const auto& log = *q.log;
  CHECK(log.selector.matchers().size() == 2);
  REQUIRE(log.stages.size() == 8);
  CHECK(log.stages[0].line_filter.op == LineFilter::Op::kContains);
  CHECK(log.stages[0].line_filter.value == "Failed");
  CHECK(log.stages[1].line_filter.op == LineFilter::Op::kNotContains);
  CHECK(log.stages[1].line_filter.value == "invalid");
  CHECK(log.stages[2].line_filter.op == LineFilter::Op::kRegex);
  CHECK(log.stages[2].line_filter.value == "user (\\w+)");
  CHECK(RE2::PartialMatch("x user bob", *log.stages[2].line_filter.regex));
  CHECK(log.stages[3].kind == Stage::Kind::kLogfmt);
  CHECK(log.stages[4].kind == Stage::Kind::kJson);
  CHECK(log.stages[5].kind == Stage::Kind::kRegexp);
  const auto& filters = log.stages[6].label_filters;
  REQUIRE(filters.size() == 3);
  CHECK(filters[0].op == LabelFilter::Op::kEq);
  CHECK(filters[0].value == "error");
  CHECK(filters[1].op == LabelFilter::Op::kGte);
  CHECK(filters[1].number == 500);
  CHECK(filters[2].op == LabelFilter::Op::kGt);
  CHECK(filters[2].number == Approx(0.25));
  const auto& fmt = log.stages[7].format;
  REQUIRE(fmt.size() == 4);
  CHECK((fmt[0].is_label && fmt[0].text == "ip"));
  CHECK((!fmt[1].is_label && fmt[1].text == " "));
  CHECK((fmt[2].is_label && fmt[2].text == "msg"));
  CHECK(fmt[3].text == "!");
  CHECK(log.extracts_labels());
  CHECK_FALSE(parse(R"({a="b"} |= "x")").log->extracts_labels());
}

TEST_CASE("logql: metric queries Grafana sends", "[logindex][logql]") {
  // Grafana's data-source health check.
  auto q = parse("vector(1)+vector(1)");
  REQUIRE(q.is_metric());
  CHECK(q.metric->kind == MetricExpr::Kind::kBinary);
  CHECK(q.metric->lhs->kind == MetricExpr::Kind::kVector);
  CHECK(q.metric->lhs->number == 1);

  // Explore's log-volume side query.
  q = parse(R"(sum by (level) (count_over_time({job="varlogs"} |= "err" [1m])))");
  REQUIRE(q.metric->kind == MetricExpr::Kind::kAggregate);
  CHECK(q.metric->agg == MetricExpr::AggOp::kSum);
  CHECK(q.metric->grouping == std::vector<std::string>{"level"});
  const auto& range = *q.metric->lhs;
  CHECK(range.kind == MetricExpr::Kind::kRange);
  CHECK(range.range_fn == MetricExpr::RangeFn::kCountOverTime);
  CHECK(range.range == std::chrono::minutes(1));
  CHECK(range.log.stages.size() == 1);

  q = parse(R"(topk(3, sum(rate({job="a"}[5m])) without (host)) / 2 * (1 - 0.5))");
  CHECK(q.metric->kind == MetricExpr::Kind::kBinary);
  CHECK(q.metric->bin == MetricExpr::BinOp::kMul);
  const auto& div = *q.metric->lhs;
  CHECK(div.bin == MetricExpr::BinOp::kDiv);
  CHECK(div.lhs->agg == MetricExpr::AggOp::kTopk);
  CHECK(div.lhs->param == 3);
  CHECK(div.lhs->lhs->without);
  CHECK(div.lhs->lhs->grouping == std::vector<std::string>{"host"});
  CHECK(parse(R"(bytes_over_time({a="b"}[1h30m]))").metric->range == std::chrono::minutes(90));
  CHECK(parse(R"(bytes_rate({a="b"} | json [10s]))").metric->range_fn ==
        MetricExpr::RangeFn::kBytesRate);
  CHECK(parse("-1.5").metric->number == -1.5);
}

TEST_CASE("logql: malformed and unsupported queries name line and column", "[logindex][logql]") {
  CHECK(error_of("") ==
        "parse error at line 1, col 1: expected an expression but found end of "
        "query");
  CHECK(error_of(R"({job="a")") == "parse error at line 1, col 9: expected ',' or '}'");
  CHECK(error_of("{}") ==
        "parse error at line 1, col 1: queries require at least one matcher in "
        "the stream selector, e.g. {job=\"x\"}");
  CHECK(error_of(R"({a="b"} |= "x)") == "parse error at line 1, col 12: unterminated string");
  CHECK(error_of(R"({a="b"} |~ "(")") ==
        "parse error at line 1, col 12: invalid regex (: missing ): (");
  CHECK(error_of(R"({a="b"} |= "\w")") ==
        "parse error at line 1, col 13: unknown escape sequence \\w (in a double-quoted string a "
        "regex's backslash is written \\\\, or use `backquotes`)");
  CHECK(error_of(R"({a="b"} | pattern "<ip> <_>")") ==
        "parse error at line 1, col 11: the pattern stage is not supported by Strata");
  CHECK(error_of(R"({a="b"} | keep ip, status)") ==
        "parse error at line 1, col 11: the keep stage is not supported by Strata");
  // A label named like a stage is an ordinary label filter.
  CHECK(error_of(R"({a="b"} | json | ip="10.0.0.1" | keep != "x" | pattern=~"a.*")") == "no error");
  CHECK(error_of(R"({a="b"} | json foo="bar")") ==
        "parse error at line 1, col 16: json with parameters is not supported; use | json without "
        "arguments");
  CHECK(error_of(R"({a="b"} | x="1" or y="2")") ==
        "parse error at line 1, col 17: 'or' between label filters is not supported; use two "
        "queries");
  CHECK(error_of(R"({a="b"} | x > "1")") ==
        "parse error at line 1, col 13: operator > needs a number, not a string");
  CHECK(error_of(R"({a="b"} | line_format "{{.a | ToUpper}}")") ==
        "parse error at line 1, col 23: line_format supports only {{.label}} references, not "
        "{{.a | ToUpper}}");
  CHECK(error_of(R"({a="b"}[5m])") ==
        "parse error at line 1, col 8: a range needs a function around it, e.g. "
        "count_over_time({...}[5m])");
  CHECK(error_of(R"(count_over_time({a="b"}))") ==
        "parse error at line 1, col 24: expected '[' but found \")\"");
  CHECK(error_of(R"(count_over_time({a="b"}[5x]))") ==
        "parse error at line 1, col 25: invalid duration: unit must be one of ms s m h d w y");
  CHECK(error_of(R"(quantile_over_time(0.9, {a="b"} | unwrap x [5m]))") ==
        "parse error at line 1, col 1: the function quantile_over_time is not supported by Strata");
  CHECK(error_of("topk(0, vector(1))") ==
        "parse error at line 1, col 6: topk needs a positive integer k as its first argument");
  CHECK(error_of("sum(vector(1)) by (a) by (b)") ==
        "parse error at line 1, col 23: unexpected \"by\"");
  CHECK(error_of("foo(1)") == "parse error at line 1, col 1: unknown function or keyword \"foo\"");
  CHECK(error_of("vector(1)\n  + {a=\"b\"}") ==
        "parse error at line 2, col 5: a log query cannot be used in a metric expression without "
        "a function such as count_over_time({...}[5m])");
  CHECK(error_of("vector(1) vector(2)") ==
        "parse error at line 1, col 11: unexpected \"vector(2)\"");
  CHECK(error_of(std::string(5000, '(') + "1").find("nests deeper than 100") != std::string::npos);
}

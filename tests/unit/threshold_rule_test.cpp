#include "alerting/threshold_rule.h"

#include <catch2/catch.hpp>

#include <cmath>

#include "alerting/query_client.h"

using namespace strata;
using namespace strata::alerting;

namespace {
RuleSpec spec(std::chrono::milliseconds hold) {
  RuleSpec s;
  s.name = "High";
  s.expr = "load";
  s.op = Op::kGt;
  s.threshold = 1;
  s.hold = hold;
  s.labels = {{"severity", "page"}};
  return s;
}
QueriedSample sample(const std::string& host, double v) {
  return {Labels{{"__name__", "load"}, {"host", host}}, v};
}
}  // namespace

TEST_CASE("operators", "[alerting]") {
  CHECK(compare(2, parse_op(">"), 1));
  CHECK_FALSE(compare(1, parse_op(">"), 1));
  CHECK(compare(1, parse_op(">="), 1));
  CHECK(compare(0, parse_op("<"), 1));
  CHECK(compare(1, parse_op("<="), 1));
  CHECK(compare(1, parse_op("=="), 1));
  CHECK(compare(2, parse_op("!="), 1));
  CHECK_FALSE(compare(std::nan(""), parse_op("!="), 1));
  CHECK_THROWS_AS(parse_op("=>"), std::invalid_argument);
}

TEST_CASE("an alert goes pending, fires after `for`, then resolves", "[alerting]") {
  ThresholdRule rule(spec(std::chrono::milliseconds(10'000)));
  auto t = rule.evaluate({sample("a", 5), sample("b", 0.5)}, 1'000);
  CHECK(t.fired.empty());
  REQUIRE(rule.active().size() == 1);
  CHECK(rule.active()[0].state == AlertState::kPending);

  t = rule.evaluate({sample("a", 6)}, 6'000);
  CHECK(t.fired.empty());
  t = rule.evaluate({sample("a", 7)}, 11'000);
  REQUIRE(t.fired.size() == 1);
  const Alert& a = t.fired[0];
  CHECK(a.labels.get("alertname") == "High");
  CHECK(a.labels.get("host") == "a");
  CHECK(a.labels.get("severity") == "page");
  CHECK(a.labels.get("__name__").empty());
  CHECK(a.value == 7);
  // Still firing: no new transition.
  CHECK(rule.evaluate({sample("a", 8)}, 12'000).fired.empty());
  t = rule.evaluate({sample("a", 0.1)}, 13'000);
  REQUIRE(t.resolved.size() == 1);
  CHECK(t.resolved[0].resolved_at_ms == 13'000);
  CHECK(rule.active().empty());
}

TEST_CASE("a pending alert that stops matching disappears silently", "[alerting]") {
  ThresholdRule rule(spec(std::chrono::milliseconds(10'000)));
  rule.evaluate({sample("a", 5)}, 0);
  auto t = rule.evaluate({}, 5'000);
  CHECK(t.fired.empty());
  CHECK(t.resolved.empty());
  CHECK(rule.active().empty());
}

TEST_CASE("for: 0 fires on the first evaluation", "[alerting]") {
  ThresholdRule rule(spec(std::chrono::milliseconds(0)));
  CHECK(rule.evaluate({sample("a", 5), sample("b", 9)}, 0).fired.size() == 2);
}

TEST_CASE("query responses are parsed and errors named", "[alerting]") {
  auto v = QueryClient::parse_vector_response(
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"__name__":"up","job":"x"},"value":[1700000000.5,"1"]},)"
      R"({"metric":{"job":"y"},"value":[1700000000.5,"NaN"]}]}})");
  REQUIRE(v.size() == 2);
  CHECK(v[0].labels.get("job") == "x");
  CHECK(v[0].value == 1);
  CHECK(std::isnan(v[1].value));
  CHECK_THROWS_WITH(QueryClient::parse_vector_response("not json"), Catch::Contains("not JSON"));
  CHECK_THROWS_WITH(
      QueryClient::parse_vector_response(
          R"({"status":"error","errorType":"bad_data","error":"parse error at char 3"})"),
      Catch::Contains("parse error at char 3"));
  CHECK_THROWS_WITH(QueryClient::parse_vector_response(
                        R"({"status":"success","data":{"resultType":"matrix","result":[]}})"),
                    Catch::Contains("matrix"));
}

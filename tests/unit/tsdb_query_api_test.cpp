// The Prometheus-compatible query API, called as handlers (no network):
// exact JSON bodies, value and time formatting, parameters and errors.
#include <catch2/catch.hpp>

#include "tests/unit/tsdb_test_db.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/metrics_registry.h"
#include "tsdb/query_api.h"

using namespace strata;
using namespace strata::tsdb;

namespace {

http::Request request(std::string path,
                      std::vector<std::pair<std::string, std::string>> params = {}) {
  http::Request r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  for (auto& [k, v] : params) r.params.emplace(k, v);
  return r;
}

constexpr std::int64_t kNow = 1'700'000'000'123;

struct Fixture {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  DbQueryStore query_store{store};
  metrics::Registry registry;
  QueryApi api{query_store, QueryApiOptions{std::chrono::minutes(5), [] { return kNow; }, {}},
               registry};

  Fixture() {
    store.append(Labels{{"__name__", "up"}, {"job", "api"}, {"instance", "a:1"}},
                 std::vector<wire::Sample>{{kNow - 10'000, 1}});
    store.append(Labels{{"__name__", "up"}, {"job", "db"}, {"instance", "b:2"}},
                 std::vector<wire::Sample>{{kNow - 20'000, 0}});
    store.append(Labels{{"__name__", "temp"}, {"room", "say \"hi\"\n"}},
                 std::vector<wire::Sample>{{kNow - 1000, 0.5}});
  }
};

std::string bad_data(const std::string& message) {
  return R"({"status":"error","errorType":"bad_data","error":")" + message + "\"}";
}

}  // namespace

TEST_CASE("query api: sample values formatted like Prometheus", "[tsdb][api]") {
  CHECK(format_sample_value(0.5) == "0.5");
  CHECK(format_sample_value(1) == "1");
  CHECK(format_sample_value(-2.25) == "-2.25");
  CHECK(format_sample_value(0) == "0");
  CHECK(format_sample_value(-0.0) == "-0");
  CHECK(format_sample_value(0.1) == "0.1");
  CHECK(format_sample_value(1e21) == "1000000000000000000000");
  CHECK(format_sample_value(1.5e-7) == "0.00000015");
  CHECK(format_sample_value(123456789.125) == "123456789.125");
  CHECK(format_sample_value(std::nan("")) == "NaN");
  CHECK(format_sample_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_sample_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  // Round trip for the extremes (long but exact).
  // (strtod, not stod: stod throws on a subnormal result.)
  double big = std::numeric_limits<double>::max();
  CHECK(std::strtod(format_sample_value(big).c_str(), nullptr) == big);
  double tiny = std::numeric_limits<double>::denorm_min();
  CHECK(std::strtod(format_sample_value(tiny).c_str(), nullptr) == tiny);
}

TEST_CASE("query api: timestamps as float seconds", "[tsdb][api]") {
  CHECK(format_timestamp(1'700'000'000'123) == "1700000000.123");
  CHECK(format_timestamp(1'700'000'000'000) == "1700000000");
  CHECK(format_timestamp(1'700'000'000'100) == "1700000000.1");
  CHECK(format_timestamp(1'700'000'000'020) == "1700000000.02");
  CHECK(format_timestamp(0) == "0");
  CHECK(format_timestamp(-1500) == "-1.5");
  CHECK(format_timestamp(-1) == "-0.001");
}

TEST_CASE("query api: time parameters, float seconds and RFC3339", "[tsdb][api]") {
  CHECK(parse_timestamp("1700000000") == 1'700'000'000'000);
  CHECK(parse_timestamp("1700000000.123") == 1'700'000'000'123);
  CHECK(parse_timestamp("1700000000.1234") == 1'700'000'000'123);
  CHECK(parse_timestamp("1700000000.9996") == 1'700'000'001'000);
  CHECK(parse_timestamp("1.7e9") == 1'700'000'000'000);
  CHECK(parse_timestamp("-1.5") == -1500);
  CHECK(parse_timestamp("2023-11-14T22:13:20Z") == 1'700'000'000'000);
  CHECK(parse_timestamp("2023-11-14T22:13:20.123Z") == 1'700'000'000'123);
  CHECK(parse_timestamp("2023-11-14T22:13:20.5Z") == 1'700'000'000'500);
  CHECK(parse_timestamp("2023-11-14T22:13:20.123456789Z") == 1'700'000'000'123);
  CHECK(parse_timestamp("2023-11-14T23:43:20+01:30") == 1'700'000'000'000);
  CHECK(parse_timestamp("2023-11-14T20:13:20-02:00") == 1'700'000'000'000);
  CHECK(parse_timestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_timestamp("1969-12-31T23:59:59Z") == -1000);
  CHECK(parse_timestamp("2024-02-29T00:00:00Z") == 1'709'164'800'000);
  for (const char* bad :
       {"", "abc", "NaN", "inf", "1e300", "12abc", "2023-11-14", "2023-11-14T22:13:20",
        "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z",
        "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk", "2023-11-14 22:13:20Z"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_timestamp(bad), std::invalid_argument);
  }
}

TEST_CASE("query api: instant query in Prometheus's exact JSON", "[tsdb][api]") {
  Fixture f;
  auto r = f.api.query(request("/api/v1/query", {{"query", "up"}}));
  CHECK(r.status == 200);
  CHECK(r.content_type.find("application/json") != std::string::npos);
  CHECK(
      r.body ==
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"__name__":"up","instance":"a:1","job":"api"},"value":[1700000000.123,"1"]},)"
      R"({"metric":{"__name__":"up","instance":"b:2","job":"db"},"value":[1700000000.123,"0"]}]}})");

  auto at = f.api.query(request("/api/v1/query", {{"query", "temp"}, {"time", "1700000000"}}));
  CHECK(at.body ==
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{"__name__":"temp","room":"say \"hi\"\n"},"value":[1700000000,"0.5"]}]}})");

  auto none = f.api.query(request("/api/v1/query", {{"query", "up{job=\"nope\"}"}}));
  CHECK(none.body == R"({"status":"success","data":{"resultType":"vector","result":[]}})");

  // Outside the 5 m lookback: gone.
  auto later = f.api.query(request("/api/v1/query", {{"query", "up"}, {"time", "1700000400"}}));
  CHECK(later.body == R"({"status":"success","data":{"resultType":"vector","result":[]}})");
}

TEST_CASE("query api: non-finite values are strings", "[tsdb][api]") {
  testdb::TempDb tmp;
  DB& store = *tmp.db;
  DbQueryStore query_store{store};
  metrics::Registry reg;
  QueryApi api(query_store,
               QueryApiOptions{std::chrono::minutes(5), [] { return std::int64_t{10'000}; }, {}},
               reg);
  store.append(Labels{{"__name__", "m"}, {"k", "nan"}},
               std::vector<wire::Sample>{{5000, std::nan("")}});
  store.append(Labels{{"__name__", "m"}, {"k", "pinf"}},
               std::vector<wire::Sample>{{5000, std::numeric_limits<double>::infinity()}});
  store.append(Labels{{"__name__", "m"}, {"k", "stale"}},
               std::vector<wire::Sample>{{4000, 1}, {5000, wire::stale_nan()}});
  auto r = api.query(request("/api/v1/query", {{"query", "m"}}));
  CHECK(r.body == R"({"status":"success","data":{"resultType":"vector","result":[)"
                  R"({"metric":{"__name__":"m","k":"nan"},"value":[10,"NaN"]},)"
                  R"({"metric":{"__name__":"m","k":"pinf"},"value":[10,"+Inf"]}]}})");
}

TEST_CASE("query api: bad queries are 400 bad_data", "[tsdb][api]") {
  Fixture f;
  auto check = [&](std::vector<std::pair<std::string, std::string>> params,
                   const std::string& message) {
    auto r = f.api.query(request("/api/v1/query", std::move(params)));
    CHECK(r.status == 400);
    CHECK(r.body == bad_data(message));
  };
  check({}, "invalid parameter \\\"query\\\": parse error at char 1: no expression found in input");
  check({{"query", "up{"}},
        "invalid parameter \\\"query\\\": parse error at char 4: unexpected end of input, expected "
        "label name or '}'");
  check({{"query", "{}"}},
        "invalid parameter \\\"query\\\": parse error at char 1: vector selector must contain at "
        "least one non-empty matcher");
  check({{"query", "up"}, {"time", "yesterday"}},
        "invalid parameter \\\"time\\\": Invalid time value for 'time': cannot parse "
        "\\\"yesterday\\\" to a valid timestamp");
  auto regex = f.api.query(request("/api/v1/query", {{"query", "up{a=~\"(\"}"}}));
  CHECK(regex.status == 400);
  CHECK(regex.body.find("invalid regular expression") != std::string::npos);
}

TEST_CASE("query api: label names and values, with match filters and limit", "[tsdb][api]") {
  Fixture f;
  CHECK(f.api.labels(request("/api/v1/labels")).body ==
        R"({"status":"success","data":["__name__","instance","job","room"]})");
  CHECK(f.api.labels(request("/api/v1/labels", {{"match[]", "temp"}})).body ==
        R"({"status":"success","data":["__name__","room"]})");
  CHECK(
      f.api.labels(request("/api/v1/labels", {{"limit", "2"}})).body ==
      R"({"status":"success","data":["__name__","instance"],"warnings":["results truncated due to limit"]})");
  CHECK(f.api.labels(request("/api/v1/labels", {{"limit", "4"}})).body ==
        R"({"status":"success","data":["__name__","instance","job","room"]})");
  CHECK(f.api.labels(request("/api/v1/labels", {{"limit", "0"}})).body ==
        R"({"status":"success","data":["__name__","instance","job","room"]})");

  CHECK(f.api.label_values(request("/api/v1/label/job/values")).body ==
        R"({"status":"success","data":["api","db"]})");
  CHECK(f.api.label_values(request("/api/v1/label/__name__/values")).body ==
        R"({"status":"success","data":["temp","up"]})");
  CHECK(f.api.label_values(request("/api/v1/label/job/values", {{"limit", "1"}})).body ==
        R"({"status":"success","data":["api"],"warnings":["results truncated due to limit"]})");
  CHECK(
      f.api.label_values(request("/api/v1/label/job/values", {{"match[]", "up{instance=\"b:2\"}"}}))
          .body == R"({"status":"success","data":["db"]})");
  CHECK(f.api.label_values(request("/api/v1/label/nope/values")).body ==
        R"({"status":"success","data":[]})");
  // Time range with match[]: only up{job="api"} has a sample in the last 15 s.
  CHECK(f.api
            .label_values(request("/api/v1/label/job/values",
                                  {{"match[]", "up"}, {"start", "1699999985.123"}}))
            .body == R"({"status":"success","data":["api"]})");

  auto bad_name = f.api.label_values(request("/api/v1/label/1x/values"));
  CHECK(bad_name.status == 400);
  CHECK(bad_name.body == bad_data("invalid label name: \\\"1x\\\""));
  CHECK(f.api.label_values(request("/api/v1/label/job")).status == 404);
  CHECK(f.api.label_values(request("/api/v1/label/a/b/values")).status == 400);
  auto bad_limit = f.api.labels(request("/api/v1/labels", {{"limit", "-1"}}));
  CHECK(bad_limit.status == 400);
  CHECK(bad_limit.body == bad_data("invalid parameter \\\"limit\\\": limit must be non-negative"));
  CHECK(f.api.labels(request("/api/v1/labels", {{"limit", "x"}})).status == 400);
  CHECK(f.api.labels(request("/api/v1/labels", {{"match[]", "{}"}})).status == 400);
}

TEST_CASE("query api: series", "[tsdb][api]") {
  Fixture f;
  auto r = f.api.series(request("/api/v1/series", {{"match[]", "up"}}));
  CHECK(r.body == R"({"status":"success","data":[)"
                  R"({"__name__":"up","instance":"a:1","job":"api"},)"
                  R"({"__name__":"up","instance":"b:2","job":"db"}]})");
  // Several match[] are a union, without repeats.
  http::Request two =
      request("/api/v1/series", {{"match[]", "up{job=\"db\"}"}, {"match[]", "temp"}});
  two.params.emplace("match[]", "up{job=\"db\"}");
  CHECK(f.api.series(two).body ==
        R"({"status":"success","data":[{"__name__":"temp","room":"say \"hi\"\n"},)"
        R"({"__name__":"up","instance":"b:2","job":"db"}]})");
  CHECK(
      f.api.series(request("/api/v1/series", {{"match[]", "{__name__=~\".+\"}"}, {"limit", "1"}}))
          .body ==
      R"({"status":"success","data":[{"__name__":"temp","room":"say \"hi\"\n"}],"warnings":["results truncated due to limit"]})");
  CHECK(f.api
            .series(request(
                "/api/v1/series",
                {{"match[]", "up"}, {"start", "2023-11-14T22:13:05Z"}, {"end", "1700000000.200"}}))
            .body ==
        R"({"status":"success","data":[{"__name__":"up","instance":"a:1","job":"api"}]})");

  auto none = f.api.series(request("/api/v1/series"));
  CHECK(none.status == 400);
  CHECK(none.body == bad_data("no match[] parameter provided"));
  auto backwards =
      f.api.series(request("/api/v1/series", {{"match[]", "up"}, {"start", "10"}, {"end", "5"}}));
  // Prometheus answers an inverted range with an empty list, not an error.
  CHECK(backwards.status == 200);
  CHECK(backwards.body == R"({"status":"success","data":[]})");
}

TEST_CASE("query api: requests are counted", "[tsdb][api]") {
  Fixture f;
  f.api.query(request("/api/v1/query", {{"query", "up"}}));
  f.api.query(request("/api/v1/query", {{"query", "up{"}}));
  auto text = f.registry.render();
  CHECK(text.find("strata_tsdb_api_requests_total 2\n") != std::string::npos);
  CHECK(text.find("strata_tsdb_api_bad_requests_total 1\n") != std::string::npos);
}

TEST_CASE("query api: format_query prints the canonical form, rejects bad PromQL", "[tsdb][api]") {
  Fixture f;
  auto r = f.api.format_query(
      request("/api/v1/format_query", {{"query", "sum  by(job)(rate(up{job=~'a.*'}[5m]))"}}));
  CHECK(r.status == 200);
  CHECK(r.body == R"x({"status":"success","data":"sum by (job) (rate(up{job=~\"a.*\"}[5m]))"})x");
  auto bad = f.api.format_query(request("/api/v1/format_query", {{"query", "rate(up)"}}));
  CHECK(bad.status == 400);
  CHECK(bad.body.find(R"("errorType":"bad_data")") != std::string::npos);
  CHECK(bad.body.find("expected type range vector") != std::string::npos);
}

TEST_CASE("query api: buildinfo, runtimeinfo and tsdb status", "[tsdb][api]") {
  Fixture f;
  auto b = f.api.buildinfo(request("/api/v1/status/buildinfo"));
  CHECK(b.status == 200);
  CHECK(b.body.find(R"("version":"3.0.0")") != std::string::npos);

  auto rt = f.api.runtimeinfo(request("/api/v1/status/runtimeinfo"));
  CHECK(rt.status == 200);
  CHECK(rt.body.find(R"("startTime":"2023-11-14T22:13:20.123Z")") != std::string::npos);
  CHECK(rt.body.find(R"("corruptionCount":0)") != std::string::npos);
  CHECK(rt.body.find(R"("storageRetention":"15d")") != std::string::npos);

  auto st = f.api.tsdb_status(request("/api/v1/status/tsdb"));
  CHECK(st.status == 200);
  CHECK(st.body.find(R"("numSeries":3)") != std::string::npos);
  CHECK(st.body.find(R"("seriesCountByMetricName":[{"name":"up","value":2},)"
                     R"({"name":"temp","value":1}])") != std::string::npos);
  CHECK(st.body.find(R"({"name":"__name__","value":2})") != std::string::npos);
  CHECK(st.body.find(R"({"name":"__name__=up","value":2})") != std::string::npos);
  auto one = f.api.tsdb_status(request("/api/v1/status/tsdb", {{"limit", "1"}}));
  CHECK(one.body.find(R"("seriesCountByMetricName":[{"name":"up","value":2}])") !=
        std::string::npos);
  auto bad = f.api.tsdb_status(request("/api/v1/status/tsdb", {{"limit", "x"}}));
  CHECK(bad.status == 400);
}

TEST_CASE("query api: PromQL instant queries: scalar, string, vector and matrix", "[tsdb][api]") {
  Fixture f;
  auto q = [&](const std::string& expr) {
    return f.api.query(request("/api/v1/query", {{"query", expr}, {"time", "1700000000.123"}}));
  };
  CHECK(q("1 + 2").body ==
        R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"3"]}})");
  CHECK(q("\"hi\"").body ==
        R"({"status":"success","data":{"resultType":"string","result":[1700000000.123,"hi"]}})");
  CHECK(q("sum(up)").body == R"({"status":"success","data":{"resultType":"vector","result":[)"
                             R"({"metric":{},"value":[1700000000.123,"1"]}]}})");
  CHECK(q("count by (job) (up)").body ==
        R"({"status":"success","data":{"resultType":"vector","result":[)"
        R"({"metric":{"job":"api"},"value":[1700000000.123,"1"]},)"
        R"({"metric":{"job":"db"},"value":[1700000000.123,"1"]}]}})");
  auto m = q("up{job=\"api\"}[1m]");
  CHECK(m.body == R"({"status":"success","data":{"resultType":"matrix","result":[)"
                  R"({"metric":{"__name__":"up","instance":"a:1","job":"api"},)"
                  R"("values":[[1699999990.123,"1"]]}]}})");
  // Evaluation errors keep Prometheus's errorType and status.
  auto many = q("up + on() up");
  CHECK(many.status == 422);
  CHECK(many.body.find(R"("errorType":"execution")") != std::string::npos);
  auto res =
      f.api.query(request("/api/v1/query", {{"query", "up"}, {"max_source_resolution", "2m"}}));
  CHECK(res.status == 400);
  CHECK(res.body.find("max_source_resolution") != std::string::npos);
  auto to = f.api.query(request("/api/v1/query", {{"query", "up"}, {"timeout", "-1s"}}));
  CHECK(to.status == 400);
}

TEST_CASE("query api: range queries and their parameter errors", "[tsdb][api]") {
  Fixture f;
  auto r = f.api.query_range(request("/api/v1/query_range", {{"query", "up{job=\"api\"}"},
                                                             {"start", "1699999980"},
                                                             {"end", "1700000010"},
                                                             {"step", "15s"}}));
  CHECK(r.status == 200);
  // The sample at kNow-10s is visible from 1699999995 on (lookback 5m).
  CHECK(r.body == R"({"status":"success","data":{"resultType":"matrix","result":[)"
                  R"({"metric":{"__name__":"up","instance":"a:1","job":"api"},)"
                  R"("values":[[1699999995,"1"],[1700000010,"1"]]}]}})");
  auto step_float = f.api.query_range(
      request("/api/v1/query_range",
              {{"query", "1"}, {"start", "1699999980"}, {"end", "1700000010"}, {"step", "15"}}));
  CHECK(step_float.body.find(R"([[1699999980,"1"],[1699999995,"1"],[1700000010,"1"]])") !=
        std::string::npos);
  auto check = [&](std::vector<std::pair<std::string, std::string>> params,
                   const std::string& message) {
    auto b = f.api.query_range(request("/api/v1/query_range", std::move(params)));
    CHECK(b.status == 400);
    CHECK(b.body == bad_data(message));
  };
  check({{"query", "up"}, {"start", "10"}, {"end", "5"}, {"step", "1"}},
        "invalid parameter \\\"end\\\": end timestamp must not be before start time");
  check({{"query", "up"}, {"start", "0"}, {"end", "5"}, {"step", "0"}},
        "invalid parameter \\\"step\\\": zero or negative query resolution step widths are not "
        "accepted. Try a positive integer");
  check({{"query", "up"}, {"start", "0"}, {"end", "11000"}, {"step", "1"}},
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
        "resolution (?step=XX)");
  check({{"query", "up"}, {"start", "soon"}, {"end", "5"}, {"step", "1"}},
        "invalid parameter \\\"start\\\": cannot parse \\\"soon\\\" to a valid timestamp");
  check({{"query", "up"}, {"start", "0"}, {"end", "5"}, {"step", "often"}},
        "invalid parameter \\\"step\\\": cannot parse \\\"often\\\" to a valid duration");
  check({{"query", "up"}, {"start", "0"}, {"end", "5"}},
        "invalid parameter \\\"step\\\": cannot parse \\\"\\\" to a valid duration");
  check({{"query", "up["}, {"start", "0"}, {"end", "5"}, {"step", "1"}},
        "invalid parameter \\\"query\\\": parse error at char 4: unclosed left bracket");
}

// Expected bodies are what Prometheus 3.0's translateAST serialises (Go maps:
// keys sorted), so tools reading parse_query see the same bytes.
TEST_CASE("query api: parse_query returns Prometheus's JSON syntax tree", "[tsdb][api]") {
  Fixture f;
  auto parse = [&](const std::string& q) {
    return f.api.parse_query(request("/api/v1/parse_query", {{"query", q}}));
  };
  auto r = parse("up{job=\"a\"}[5m] offset 1m");
  CHECK(r.status == 200);
  CHECK(r.body ==
        R"({"status":"success","data":{"matchers":[{"name":"job","type":"=","value":"a"},)"
        R"({"name":"__name__","type":"=","value":"up"}],"name":"up","offset":60000,)"
        R"("range":300000,"startOrEnd":null,"timestamp":null,"type":"matrixSelector"}})");
  r = parse("sum by (job) (rate(x[1m] @ 10)) > bool on (job) group_left (a) y");
  CHECK(r.body ==
        R"({"status":"success","data":{"bool":true,"lhs":{"expr":{"args":[{"matchers":)"
        R"([{"name":"__name__","type":"=","value":"x"}],"name":"x","offset":0,"range":60000,)"
        R"("startOrEnd":null,"timestamp":10000,"type":"matrixSelector"}],"func":{"argTypes":)"
        R"(["matrix"],"name":"rate","returnType":"vector","variadic":0},"type":"call"},)"
        R"("grouping":["job"],"op":"sum","param":null,"type":"aggregation","without":false},)"
        R"("matching":{"card":"many-to-one","include":["a"],"labels":["job"],"on":true},)"
        R"("op":">","rhs":{"matchers":[{"name":"__name__","type":"=","value":"y"}],"name":"y",)"
        R"("offset":0,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},)"
        R"("type":"binaryExpr"}})");
  r = parse("-(1.5 * 2) + max_over_time(topk(3, z)[10m:] @ end())");
  CHECK(r.status == 200);
  CHECK(r.body.find(R"({"bool":false,"lhs":{"expr":{"expr":{"bool":false,"lhs":)"
                    R"({"type":"numberLiteral","val":"1.5"},"matching":null,"op":"*",)") !=
        std::string::npos);
  CHECK(r.body.find(R"("op":"-","type":"unaryExpr"})") != std::string::npos);
  CHECK(r.body.find(R"("offset":0,"range":600000,"startOrEnd":"end","step":0,)"
                    R"("timestamp":null,"type":"subquery"})") != std::string::npos);
  CHECK(r.body.find(R"("param":{"type":"numberLiteral","val":"3"})") != std::string::npos);
  r = parse("label_join(up, \"d\", \",\", \"a\", \"b\")");
  CHECK(r.body.find(R"("argTypes":["vector","string","string","string"],)"
                    R"("name":"label_join","returnType":"vector","variadic":-1})") !=
        std::string::npos);
  CHECK(r.body.find(R"({"type":"stringLiteral","val":","})") != std::string::npos);
  auto bad = parse("sum(");
  CHECK(bad.status == 400);
  CHECK(bad.body.find(R"("errorType":"bad_data")") != std::string::npos);
  CHECK(bad.body.find("invalid parameter \\\"query\\\"") != std::string::npos);
}

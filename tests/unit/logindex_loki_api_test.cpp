// The Loki-compatible HTTP API, called as handlers (no network): what
// Grafana's Loki data source sends -- the health check, Explore's
// query_range, the log-volume side query, label browsing, series and index
// stats -- answered with exact JSON; and 400s that name line and column.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics_registry.h"
#include "logindex/loki_api.h"
#include "logindex/memory_index.h"

using namespace strata;
using namespace strata::logindex;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
constexpr std::int64_t kS = 1'000'000'000;

http::Request request(std::string path, std::vector<std::pair<std::string, std::string>> params,
                      std::string method = "GET") {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  for (auto& [k, v] : params) r.params.emplace(k, v);
  return r;
}

const std::vector<std::string> kText = {
    "Failed password for root from 10.0.0.1",
    "Accepted password for root",
    "Failed password for \"admin\"",
    "GET /login 500",
    "GET / 200",
};

struct Fixture {
  MemoryIndex index;
  metrics::Registry registry;
  LokiApi api{index, LokiApiOptions{100, 1000, {}, [] { return kT0 + 100 * kS; }}, registry};

  Fixture() {
    index.add(Labels{{"job", "sshd"}, {"host", "h1"}}, kT0 + 1 * kS, kText[0]);
    index.add(Labels{{"job", "sshd"}, {"host", "h1"}}, kT0 + 2 * kS, kText[1]);
    index.add(Labels{{"job", "sshd"}, {"host", "h2"}}, kT0 + 3 * kS, kText[2]);
    index.add(Labels{{"job", "web"}, {"level", "error"}}, kT0 + 4 * kS, kText[3]);
    index.add(Labels{{"job", "web"}, {"level", "info"}}, kT0 + 5 * kS, kText[4]);
  }
};

std::string ns(std::int64_t t) { return std::to_string(t); }

std::string stats(std::size_t returned, std::size_t lines, std::size_t bytes) {
  return R"("stats":{"summary":{"totalEntriesReturned":)" + std::to_string(returned) +
         R"(,"totalLinesProcessed":)" + std::to_string(lines) + R"(,"totalBytesProcessed":)" +
         std::to_string(bytes) + "}}";
}

}  // namespace

TEST_CASE("loki api: Grafana's health check vector(1)+vector(1)", "[logindex][loki]") {
  Fixture f;
  auto r = f.api.query(request("/loki/api/v1/query", {{"query", "vector(1)+vector(1)"}}));
  CHECK(r.status == 200);
  CHECK(r.content_type.find("application/json") != std::string::npos);
  CHECK(r.body == R"({"status":"success","data":{"resultType":"vector","result":)"
                  R"([{"metric":{},"value":[1700000100,"2"]}],)" +
                      stats(0, 0, 0) + "}}");
  // With a nanosecond time, by POST.
  r = f.api.query(request("/loki/api/v1/query",
                          {{"query", "vector(1)+vector(1)"}, {"time", ns(kT0 + 1'500'000'000)}},
                          "POST"));
  CHECK(r.body.find(R"("result":[{"metric":{},"value":[1700000001.5,"2"]}])") != std::string::npos);
  // A scalar expression is a scalar result.
  r = f.api.query(request("/loki/api/v1/query", {{"query", "1+1"}, {"time", "1700000000"}}));
  CHECK(r.body.find(R"("resultType":"scalar","result":[1700000000,"2"])") != std::string::npos);
}

TEST_CASE("loki api: Explore's query_range of a log query", "[logindex][loki]") {
  Fixture f;
  auto r = f.api.query_range(request("/loki/api/v1/query_range", {{"query", R"({job="sshd"})"},
                                                                  {"start", ns(kT0)},
                                                                  {"end", ns(kT0 + 100 * kS)},
                                                                  {"step", "1m"},
                                                                  {"direction", "backward"},
                                                                  {"limit", "2"}}));
  CHECK(r.status == 200);
  CHECK(
      r.body ==
      R"({"status":"success","data":{"resultType":"streams","result":[)"
      R"({"stream":{"host":"h1","job":"sshd"},"values":[["1700000002000000000","Accepted password for root"]]},)"
      R"({"stream":{"host":"h2","job":"sshd"},"values":[["1700000003000000000","Failed password for \"admin\""]]}],)" +
          stats(2, 3, kText[0].size() + kText[1].size() + kText[2].size()) + "}}");

  // Forward, RFC 3339 start, float-seconds end, a line filter.
  r = f.api.query_range(
      request("/loki/api/v1/query_range", {{"query", R"({job="sshd"} |= "password")"},
                                           {"start", "2023-11-14T22:13:22Z"},
                                           {"end", "1700000003.5"},
                                           {"direction", "FORWARD"},
                                           {"limit", "1"}}));
  CHECK(
      r.body.find(
          R"("result":[{"stream":{"host":"h1","job":"sshd"},"values":[["1700000002000000000","Accepted password for root"]]}])") !=
      std::string::npos);

  // Seconds (10 digits) and no limit: every line, newest first per stream.
  r = f.api.query_range(
      request("/loki/api/v1/query_range",
              {{"query", R"({job="web"})"}, {"start", "1700000000"}, {"end", "1700000100"}}));
  CHECK(
      r.body.find(
          R"({"stream":{"job":"web","level":"error"},"values":[["1700000004000000000","GET /login 500"]]})") !=
      std::string::npos);
}

TEST_CASE("loki api: the log-volume side query", "[logindex][loki]") {
  Fixture f;
  auto r = f.api.query_range(request(
      "/loki/api/v1/query_range",
      {{"query", R"(sum by (level) (count_over_time({job=~"web|sshd"} | drop __error__[1m])))"},
       {"start", ns(kT0)},
       {"end", ns(kT0 + 60 * kS)},
       {"step", "60"}}));
  std::size_t bytes = 0;
  for (const auto& t : kText) bytes += t.size();
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"success","data":{"resultType":"matrix","result":[)"
                  R"({"metric":{},"values":[[1700000060,"3"]]},)"
                  R"({"metric":{"level":"error"},"values":[[1700000060,"1"]]},)"
                  R"({"metric":{"level":"info"},"values":[[1700000060,"1"]]}],)" +
                      stats(0, 5, bytes) + "}}");
  // A metric instant query is a vector.
  r = f.api.query(request("/loki/api/v1/query", {{"query", R"(sum(rate({job="sshd"}[1m])))"},
                                                 {"time", ns(kT0 + 10 * kS)}}));
  CHECK(r.body.find(
            R"("resultType":"vector","result":[{"metric":{},"value":[1700000010,"0.05"]}])") !=
        std::string::npos);
}

TEST_CASE("loki api: labels, label values, series, index stats", "[logindex][loki]") {
  Fixture f;
  auto range = std::vector<std::pair<std::string, std::string>>{{"start", ns(kT0)},
                                                                {"end", ns(kT0 + 100 * kS)}};
  CHECK(f.api.labels(request("/loki/api/v1/labels", range)).body ==
        R"({"status":"success","data":["host","job","level"]})");
  // Defaults: the last 6 hours before now.
  CHECK(f.api.labels(request("/loki/api/v1/labels", {})).body ==
        R"({"status":"success","data":["host","job","level"]})");
  CHECK(f.api
            .labels(request("/loki/api/v1/labels",
                            {{"start", ns(kT0 + 1000 * kS)}, {"end", ns(kT0 + 2000 * kS)}}))
            .body == R"({"status":"success","data":[]})");
  CHECK(f.api.label_values_route(request("/loki/api/v1/label/job/values", range)).body ==
        R"({"status":"success","data":["sshd","web"]})");
  CHECK(f.api.label_values_route(request("/loki/api/v1/label/nope/values", range)).body ==
        R"({"status":"success","data":[]})");
  CHECK(f.api.label_values_route(request("/loki/api/v1/label/values", range)).status == 404);

  auto params = range;
  params.emplace_back("match[]", R"({job="sshd"})");
  CHECK(f.api.series(request("/loki/api/v1/series", params)).body ==
        R"({"status":"success","data":[{"host":"h1","job":"sshd"},{"host":"h2","job":"sshd"}]})");
  params.emplace_back("match[]", R"({level="info"})");
  CHECK(f.api.series(request("/loki/api/v1/series", params)).body ==
        R"({"status":"success","data":[{"host":"h1","job":"sshd"},{"host":"h2","job":"sshd"},)"
        R"({"job":"web","level":"info"}]})");
  CHECK(f.api.series(request("/loki/api/v1/series", range)).status == 400);
  CHECK(f.api.series(request("/loki/api/v1/series", {{"match[]", "{job="}})).status == 400);

  params = range;
  params.emplace_back("query", R"({job="sshd"})");
  CHECK(f.api.index_stats(request("/loki/api/v1/index/stats", params)).body ==
        R"({"streams":2,"chunks":1,"entries":3,"bytes":)" +
            std::to_string(kText[0].size() + kText[1].size() + kText[2].size()) + "}");
}

TEST_CASE("loki api: bad requests are 400 naming line and column", "[logindex][loki]") {
  Fixture f;
  auto r = f.api.query_range(request("/loki/api/v1/query_range", {{"query", R"({job="sshd")"}}));
  CHECK(r.status == 400);
  CHECK(r.body.find(
            R"({"status":"error","errorType":"bad_data","error":"parse error at line 1, col )") ==
        0);
  r = f.api.query(request("/loki/api/v1/query", {{"query", "{job=\"x\"}\n| bogus"}}));
  CHECK(r.status == 400);
  CHECK(r.body.find("parse error at line 2, col 8: expected a comparison") != std::string::npos);
  r = f.api.query(request("/loki/api/v1/query", {{"query", R"(sum_over_time({job="x"}[1m]))"}}));
  CHECK(r.body.find("parse error at line 1, col 1: the function sum_over_time is not supported") !=
        std::string::npos);
  CHECK(f.api.query(request("/loki/api/v1/query", {})).body ==
        R"({"status":"error","errorType":"bad_data","error":"parameter \"query\" is required"})");
  auto bad = [&](std::vector<std::pair<std::string, std::string>> params) {
    params.emplace_back("query", R"({job="sshd"})");
    return f.api.query_range(request("/loki/api/v1/query_range", params));
  };
  CHECK(bad({{"limit", "0"}}).status == 400);
  CHECK(bad({{"limit", "x"}}).status == 400);
  CHECK(bad({{"direction", "sideways"}}).status == 400);
  CHECK(bad({{"start", "yesterday"}}).body.find("cannot parse \\\"yesterday\\\"") !=
        std::string::npos);
  CHECK(bad({{"start", ns(kT0 + 10 * kS)}, {"end", ns(kT0)}}).status == 400);
  auto m = f.api.query_range(
      request("/loki/api/v1/query_range",
              {{"query", R"(count_over_time({job="sshd"}[1m]))"}, {"step", "0"}}));
  CHECK(m.status == 400);
  CHECK(m.body.find("zero or negative query resolution step") != std::string::npos);
}

// The logindex search endpoint, called as a handler (no network): exact
// JSON, parameters, and every kind of bad request.
#include <catch2/catch.hpp>

#include "common/metrics_registry.h"
#include "logindex/memory_index.h"
#include "logindex/search_api.h"

using namespace strata;
using namespace strata::logindex;

namespace {

http::Request request(std::vector<std::pair<std::string, std::string>> params) {
  http::Request r;
  r.method = "GET";
  r.path = "/api/v1/search";
  r.target = r.path;
  for (auto& [k, v] : params) r.params.emplace(k, v);
  return r;
}

struct Fixture {
  MemoryIndex index;
  metrics::Registry registry;
  SearchApi api{index, SearchApiOptions{100, 1000}, registry};

  Fixture() {
    index.add(Labels{{"job", "ssh"}}, 1'700'000'000'000'000'001,
              "Failed password for root from 10.0.0.1");
    index.add(Labels{{"job", "ssh"}}, 1'700'000'000'000'000'002,
              "Failed password for \"admin\"\tfrom 10.0.0.2");
    index.add(Labels{{"host", "h"}, {"job", "web"}}, 1'700'000'000'000'000'003,
              "GET /login failed");
  }
};

std::string bad_data(const std::string& message) {
  return R"({"status":"error","errorType":"bad_data","error":")" + message + "\"}";
}

}  // namespace

TEST_CASE("search api: exact JSON, newest first", "[logindex][api]") {
  Fixture f;
  auto r = f.api.search(request({{"q", "failed"}}));
  CHECK(r.status == 200);
  CHECK(r.content_type.find("application/json") != std::string::npos);
  CHECK(
      r.body ==
      R"({"status":"success","data":{"result":[)"
      R"({"stream":{"host":"h","job":"web"},"ts":"1700000000000000003","line":"GET /login failed"},)"
      R"({"stream":{"job":"ssh"},"ts":"1700000000000000002","line":"Failed password for \"admin\"\tfrom 10.0.0.2"},)"
      R"({"stream":{"job":"ssh"},"ts":"1700000000000000001","line":"Failed password for root from 10.0.0.1"}],)"
      R"("stats":{"matched":3}}})");
  CHECK(f.api.search(request({{"q", "nothing"}})).body ==
        R"({"status":"success","data":{"result":[],"stats":{"matched":0}}})");
}

TEST_CASE("search api: limit, time range and stream filters", "[logindex][api]") {
  Fixture f;
  auto one = f.api.search(request({{"q", "failed password"}, {"limit", "1"}}));
  CHECK(
      one.body ==
      R"({"status":"success","data":{"result":[)"
      R"({"stream":{"job":"ssh"},"ts":"1700000000000000002","line":"Failed password for \"admin\"\tfrom 10.0.0.2"}],)"
      R"("stats":{"matched":2}}})");
  auto ranged = f.api.search(
      request({{"q", "FAILED"}, {"start", "1700000000000000001"}, {"end", "1700000000000000002"}}));
  CHECK(ranged.body.find(R"("stats":{"matched":2})") != std::string::npos);
  auto web = f.api.search(request({{"q", "failed"}, {"stream", "job=web"}}));
  CHECK(web.body.find(R"("stats":{"matched":1})") != std::string::npos);
  CHECK(web.body.find("GET /login failed") != std::string::npos);
  auto both = f.api.search(request({{"q", "failed"}, {"stream", "job=web"}, {"stream", "host=x"}}));
  CHECK(both.body.find(R"("stats":{"matched":0})") != std::string::npos);
  CHECK(f.api.search(request({{"q", "failed"}, {"limit", "1000"}})).status == 200);
}

TEST_CASE("search api: bad requests are 400 bad_data", "[logindex][api]") {
  Fixture f;
  auto check = [&](std::vector<std::pair<std::string, std::string>> params,
                   const std::string& message) {
    auto r = f.api.search(request(std::move(params)));
    CHECK(r.status == 400);
    CHECK(r.body == bad_data(message));
  };
  check({{"q", "(a"}}, "invalid parameter \\\"q\\\": parse error at char 1: unclosed '('");
  check({{"q", " .-/ "}},
        "invalid parameter \\\"q\\\": parse error at char 2: word "
        "\\\".-/\\\" has no letters or digits to search for");
  check({{"q", "x"}, {"limit", "0"}},
        "invalid parameter \\\"limit\\\": must be between 1 and 1000, got 0");
  check({{"q", "x"}, {"limit", "1001"}},
        "invalid parameter \\\"limit\\\": must be between 1 and 1000, got 1001");
  check({{"q", "x"}, {"limit", "ten"}},
        "invalid parameter \\\"limit\\\": expected an integer, got \\\"ten\\\"");
  check({{"q", "x"}, {"start", "2023-11-14"}},
        "invalid parameter \\\"start\\\": expected an integer, got \\\"2023-11-14\\\"");
  check({{"q", "x"}, {"start", "5"}, {"end", "4"}},
        "invalid parameter \\\"end\\\": end must not be before start");
  check({{"q", "x"}, {"stream", "job"}},
        "invalid parameter \\\"stream\\\": expected <label>=<value>, got \\\"job\\\"");
  check({{"q", "x"}, {"stream", "=x"}},
        "invalid parameter \\\"stream\\\": expected <label>=<value>, got \\\"=x\\\"");
  check({{"q", "x"}, {"step", "1m"}}, "parameter \\\"step\\\" needs \\\"start\\\" and \\\"end\\\"");
  check({{"q", "x"}, {"stream", "a-b=x"}},
        "invalid parameter \\\"stream\\\": expected <label>=<value>, got \\\"a-b=x\\\"");
  auto text = f.registry.render();
  CHECK(text.find("strata_logindex_search_bad_requests_total 11\n") != std::string::npos);
}

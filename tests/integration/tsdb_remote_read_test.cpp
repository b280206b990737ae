// Prometheus remote read served by a tsdb node (tsdb/remote_read.h), read by
// the real thing: Debian's Prometheus configured with `remote_read` against
// Strata answers PromQL with Strata's samples, value for value.
#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cmath>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/metrics_registry.h"
#include "common/service.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"
#include "tests/unit/tsdb_test_db.h"
#include "tsdb/query_store.h"
#include "tsdb/remote_read.h"

using namespace strata;
using namespace std::chrono_literals;

TEST_CASE("remote read: Prometheus with remote_read answers from a Strata tsdb node",
          "[integration][tsdb]") {
  REQUIRE(testing::prometheus_installed());
  tsdb::testdb::TempDb tmp;
  const std::int64_t t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          30 * 60'000;
  for (int s = 0; s < 20; ++s) {
    std::vector<wire::Sample> samples;
    for (int i = 0; i < 120; ++i) samples.push_back({t0 + i * 15'000, s * 100.0 + i * 0.25});
    tmp.db->append(Labels{{"__name__", "strata_rr_metric"},
                          {"job", s % 2 ? "odd" : "even"},
                          {"instance", fmt::format("host{}", s)}},
                   samples);
  }
  tsdb::DbQueryStore store(*tmp.db);
  http::ServerOptions http;
  http.passthrough_encodings = {"snappy"};
  Service service("strata-tsdb", http);
  tsdb::RemoteReadApi api(store, {}, service.metrics());
  api.register_routes(service.http());
  service.start();

  testing::PrometheusServer prom(
      "",
      fmt::format("remote_read:\n  - url: {}/api/v1/read\n    read_recent: true\n", service.url()));
  REQUIRE(prom.ready());
  http::HttpClient client;
  const std::int64_t at = t0 + 119 * 15'000;
  auto query = [&](const std::string& expr) {
    auto r = client.get(fmt::format("{}/api/v1/query?query={}&time={:.3f}", prom.base(),
                                    http::HttpClient::url_encode(expr), at / 1000.0));
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.body;
  };
  simdjson::dom::parser parser;
  {
    auto body = query("strata_rr_metric{job=\"odd\"}");
    simdjson::dom::array result = parser.parse(body)["data"]["result"].get_array();
    CHECK(result.size() == 10);
    for (auto item : result) {
      std::string_view instance = item["metric"]["instance"];
      const int s = std::stoi(std::string(instance.substr(4)));
      CHECK(s % 2 == 1);
      CHECK(std::stod(std::string(std::string_view(item["value"].at(1)))) ==
            s * 100.0 + 119 * 0.25);
    }
  }
  {
    // PromQL over remote data: Prometheus evaluates, Strata supplies samples.
    auto body = query("sum(count_over_time(strata_rr_metric{instance=~\"host1.*\"}[1h]))");
    simdjson::dom::array result = parser.parse(body)["data"]["result"].get_array();
    REQUIRE(result.size() == 1);
    // host1, host10..host19: 11 series x 120 samples.
    CHECK(std::string_view(result.at(0)["value"].at(1)) == "1320");
  }
  service.stop();
}

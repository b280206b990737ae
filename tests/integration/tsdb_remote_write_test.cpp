// The tsdb's remote-write receiver fed by the real thing: Debian's Prometheus
// scrapes a strata-tsdb node running without any Kafka
// (tsdb.ingest.kafka=false) and remote-writes what it scraped to that
// node's POST /api/v1/write; the node answers PromQL over it.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "common/http_client.h"
#include "common/service.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"
#include "tsdb/tsdb_server.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

config::Config receiver_config() {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  tsdb::add_options(s);
  config::Config c(s);
  c.set("tsdb.listen", "127.0.0.1:0", "test");
  c.set("tsdb.data_dir", testing::temp_dir("tsdb-remote-write"), "test");
  c.set("tsdb.remote_write_receiver", "true", "test");
  c.set("tsdb.ingest.kafka", "false", "test");
  // Nothing listens there: the node must not need it.
  c.set("kafka.brokers", fmt::format("127.0.0.1:{}", testing::free_port()), "test");
  return c;
}

}  // namespace

TEST_CASE("remote write: Prometheus remote-writes into a strata-tsdb node without Kafka",
          "[integration][tsdb]") {
  REQUIRE(testing::prometheus_installed());
  tsdb::TsdbServer server(receiver_config());
  server.start();
  http::HttpClient client;
  // Ready without a broker: no Kafka readiness check when ingest is off.
  REQUIRE(testing::wait_http_ok(server.url() + "/readyz", 10s));
  const std::string target = server.url().substr(std::string("http://").size());
  testing::PrometheusServer prom("", fmt::format("scrape_configs:\n"
                                                 "  - job_name: strata\n"
                                                 "    scrape_interval: 1s\n"
                                                 "    static_configs:\n"
                                                 "      - targets: ['{0}']\n"
                                                 "remote_write:\n"
                                                 "  - url: http://{0}/api/v1/write\n"
                                                 "    queue_config:\n"
                                                 "      batch_send_deadline: 1s\n"
                                                 "      min_backoff: 100ms\n",
                                                 target));
  REQUIRE(prom.ready());
  auto up_is_one = [&] {
    auto r = client.get(
        server.url() + "/api/v1/query?query=" + http::HttpClient::url_encode("up{job=\"strata\"}"));
    return r.status == 200 && r.body.find("\"value\":[") != std::string::npos &&
           r.body.find(",\"1\"]") != std::string::npos;
  };
  const bool arrived = testing::eventually(up_is_one, 60s);
  if (!arrived) prom.dump();
  REQUIRE(arrived);
  // A scraped series of the node itself came back through Prometheus.
  auto r = client.get(server.url() + "/api/v1/query?query=" +
                      http::HttpClient::url_encode("strata_tsdb_head_series{job=\"strata\"}"));
  CHECK(r.status == 200);
  CHECK(r.body.find(target) != std::string::npos);
  auto metrics = client.get(server.url() + "/metrics").body;
  CHECK(metrics.find("strata_tsdb_remote_write_requests_total 0\n") == std::string::npos);
  CHECK(metrics.find("strata_tsdb_remote_write_rejected_requests_total 0\n") != std::string::npos);
  server.stop();
}

// A real Prometheus (Debian's /usr/bin/prometheus) scrapes a real
// prometheus-node-exporter and remote-writes to a collector started in this
// process; the collector publishes to the embedded broker, the tsdb consumes
// from it. The node exporter's series must arrive in Kafka with Prometheus's
// labels plus the collector's, be queryable in the tsdb with exactly the
// values Kafka carried, and Prometheus's staleness markers must pass through
// as the wire format's StaleNaN when the node exporter goes away.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "collector/collector_server.h"
#include "common/embedded_broker.h"
#include "common/http_client.h"
#include "common/service.h"
#include "common/wire_format.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_server.h"
#include "tsdb/query_api.h"
#include "tsdb/tsdb_server.h"

using namespace strata;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";

config::Config make_config(const std::string& brokers, void (*add)(config::Schema&),
                           std::vector<std::pair<std::string, std::string>> values) {
  config::Schema s;
  add_logging_options(s);
  add_kafka_options(s);
  add(s);
  config::Config c(s);
  c.set("kafka.brokers", brokers, "test");
  for (auto& [k, v] : values) c.set(k, v, "test");
  return c;
}

}  // namespace

TEST_CASE("collector: Prometheus remote-writes node_exporter's metrics through Kafka into the tsdb",
          "[collector][integration][prometheus]") {
  if (!testing::prometheus_installed() || access(kNodeExporter, X_OK) != 0)
    FAIL("prometheus or prometheus-node-exporter missing: run scripts/setup.sh");
  kafka::EmbeddedBroker broker({{"metrics", 2}, {"logs", 1}});
  const std::string dir = testing::temp_dir("collector-prometheus");

  collector::CollectorServer collector(
      make_config(broker.bootstraps(), collector::add_options,
                  {{"collector.listen", "127.0.0.1:0"}, {"collector.static_labels", "region=it"}}));
  collector.start();
  tsdb::TsdbServer tsdb(make_config(broker.bootstraps(), tsdb::add_options,
                                    {{"tsdb.listen", "127.0.0.1:0"},
                                     {"tsdb.ingest.poll_timeout", "100ms"},
                                     {"tsdb.data_dir", dir + "/tsdb"}}));
  tsdb.start();

  const int node_port = testing::free_port();
  auto node = std::make_unique<testing::ChildProcess>(
      "node_exporter", kNodeExporter,
      std::vector<std::string>{"--web.listen-address=127.0.0.1:" + std::to_string(node_port),
                               "--collector.disable-defaults", "--collector.loadavg",
                               "--collector.meminfo", "--collector.cpu"});
  const std::string node_addr = "127.0.0.1:" + std::to_string(node_port);
  REQUIRE(testing::wait_http_ok("http://" + node_addr + "/metrics", 15s));

  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
      << "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['"
      << node_addr << "']\n"
      << "remote_write:\n  - url: " << collector.url() << "/api/v1/write\n"
      << "    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}\n";
  const int prom_port = testing::free_port();
  testing::ChildProcess prometheus(
      "prometheus", testing::kPrometheusBinary,
      {"--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/prom",
       "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)});

  // Read the metrics topic as the tsdb does, in another consumer group.
  kafka::KafkaOptions ko;
  ko.brokers = broker.bootstraps();
  kafka::KafkaConsumer consumer(ko, "prometheus-it", {"metrics"});
  std::vector<wire::Series> load1;  // node_load1 series as published
  bool saw_up = false;
  auto read_some = [&] {
    for (const auto& m : consumer.poll(1000, 200ms)) {
      auto b = wire::decode_metrics(m.value);
      REQUIRE(b.series.size() == 1);
      auto& s = b.series[0];
      CHECK(m.key == fmt::format("{:016x}", s.labels.fingerprint()));
      if (s.labels.get("__name__") == "node_load1") load1.push_back(s);
      if (s.labels.get("__name__") == "up" && !s.samples.empty() && s.samples.back().value == 1)
        saw_up = true;
    }
  };
  const bool arrived = testing::eventually(
      [&] {
        read_some();
        return saw_up && !load1.empty();
      },
      15s);
  if (!arrived) prometheus.dump();
  REQUIRE(arrived);

  const auto& s = load1.front();
  CHECK(s.labels == Labels{{"__name__", "node_load1"},
                           {"instance", node_addr},
                           {"job", "node"},
                           {"region", "it"}});
  REQUIRE_FALSE(s.samples.empty());
  const wire::Sample sample = s.samples.front();
  CHECK(sample.value >= 0);
  CHECK(std::abs(sample.timestamp_ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()) < 60'000);

  // The tsdb holds exactly the value Kafka carried, at its timestamp.
  http::HttpClient client;
  const std::string q = tsdb.url() + "/api/v1/query?query=" +
                        http::HttpClient::url_encode("node_load1{job=\"node\"}") +
                        "&time=" + tsdb::format_timestamp(sample.timestamp_ms);
  const std::string expected = fmt::format(
      R"({{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"__name__":"node_load1","instance":"{}","job":"node","region":"it"}},"value":[{},"{}"]}}]}}}})",
      node_addr, tsdb::format_timestamp(sample.timestamp_ms),
      tsdb::format_sample_value(sample.value));
  std::string body;
  CHECK(testing::eventually(
      [&] {
        body = client.get(q).body;
        return body == expected;
      },
      10s));
  CHECK(body == expected);

  // node_exporter goes away: Prometheus marks its series stale, and the
  // marker arrives as the wire format's StaleNaN.
  node.reset();
  bool stale = false;
  CHECK(testing::eventually(
      [&] {
        read_some();
        for (const auto& series : load1)
          for (const auto& smp : series.samples) stale = stale || wire::is_stale_nan(smp.value);
        return stale;
      },
      15s));
  CHECK(stale);
}

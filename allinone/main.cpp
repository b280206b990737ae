// strata: the whole pipeline in one process -- embedded Kafka-protocol broker,
// collector, tsdb, logindex, alerting and an agent collecting this machine's
// own metrics and logs. It only wires the components together: each keeps its
// own HTTP port and config section, exactly as when run as separate binaries.
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "alerting/alerting_server.h"
#include "collector/collector_server.h"
#include "common/embedded_broker.h"
#include "common/service.h"
#include "logindex/logindex_server.h"
#include "tsdb/tsdb_server.h"

namespace {

const char* kDefaultFiles = "/var/log/*.log,/var/log/syslog,/var/log/messages,data/demo.log";

}  // namespace

int main(int argc, char** argv) {
  using namespace strata;
  tsdb::tune_allocator_for_queries();
  config::Schema schema;
  add_logging_options(schema);
  add_kafka_options(schema);
  schema.add("strata.embedded_broker", config::Type::kBool, "true",
             "Run the in-memory embedded Kafka-protocol broker and ignore kafka.brokers. Set "
             "false to use real Kafka (data in the embedded broker does not survive a restart).");
  schema.add("strata.partitions", config::Type::kInt, "4",
             "Partitions per topic in the embedded broker.");
  collector::add_options(schema);
  tsdb::add_options(schema);
  logindex::add_options(schema);
  alerting::add_options(schema);
  agent::add_options(schema);
  return run_main(
      "strata", "the whole Strata pipeline in one process (embedded broker by default)", schema,
      argc, argv, [](const config::Config& given) {
        config::Config cfg = given;
        std::unique_ptr<kafka::EmbeddedBroker> broker;
        if (cfg.boolean("strata.embedded_broker")) {
          int partitions = static_cast<int>(cfg.integer("strata.partitions"));
          broker = std::make_unique<kafka::EmbeddedBroker>(
              std::vector<kafka::TopicSpec>{{cfg.str("kafka.metrics_topic"), partitions},
                                            {cfg.str("kafka.logs_topic"), partitions}});
          cfg.set("kafka.brokers", broker->bootstraps(), "embedded broker");
          spdlog::info("strata: embedded Kafka-protocol broker on {} (in memory only)",
                       broker->bootstraps());
        }
        tsdb::TsdbServer tsdb(cfg);
        tsdb.start();
        logindex::LogIndexServer logs(cfg);
        logs.start();
        collector::CollectorServer collector(cfg);
        collector.start();

        // Point the agent and alerting at the in-process servers unless told otherwise.
        if (cfg.is_default("agent.collector_url"))
          cfg.set("agent.collector_url", collector.url(), "all-in-one wiring");
        if (cfg.is_default("alerting.query_url"))
          cfg.set("alerting.query_url", tsdb.url(), "all-in-one wiring");
        if (cfg.is_default("alerting.logs_query_url"))
          cfg.set("alerting.logs_query_url", logs.url(), "all-in-one wiring");
        if (cfg.is_default("alerting.push_url"))
          cfg.set("alerting.push_url", collector.url(), "all-in-one wiring");
        if (cfg.is_default("agent.files")) {
          std::filesystem::create_directories("data");
          cfg.set("agent.files", kDefaultFiles, "all-in-one default");
        }
        alerting::AlertingServer alerting(cfg);
        alerting.start();
        agent::Agent agent(cfg);
        agent.start();

        std::cout << "\nStrata is running (all components in one process).\n"
                  << "  Kafka (embedded):  " << cfg.str("kafka.brokers") << "\n"
                  << "  Collector push:    " << collector.url() << "/api/v1/push/metrics\n"
                  << "  PromQL API:        " << tsdb.url() << "/api/v1/query?query=node_load1\n"
                  << "  Log search:        " << logs.url() << "/api/v1/search?q=hello\n"
                  << "  Alerts:            " << alerting.url() << "/api/v1/alerts\n"
                  << "  Agent self-metrics: " << agent.url() << "/metrics\n"
                  << "  Tailing:           " << cfg.list("agent.files").size()
                  << " path patterns (append to data/demo.log to try a search)\n"
                  << "Stop with Ctrl-C.\n"
                  << std::endl;
        wait_for_shutdown_signal();
        // Producers before consumers, so everything accepted reaches the stores.
        agent.stop();
        alerting.stop();
        collector.stop();
        logs.stop();
        tsdb.stop();
        return 0;
      });
}

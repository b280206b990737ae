// strata-broker: the embedded Kafka-protocol broker (librdkafka's mock
// cluster) as a process of its own, for tests and demos that run every
// component as a separate binary. In-memory only: see common/embedded_broker.h.
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/embedded_broker.h"
#include "common/service.h"

int main(int argc, char** argv) {
  using namespace strata;
  config::Schema schema;
  add_logging_options(schema);
  schema.add("broker.topics", config::Type::kList, "metrics,logs", "Topics to create.");
  schema.add("broker.partitions", config::Type::kInt, "4", "Partitions per topic.");
  schema.add("broker.count", config::Type::kInt, "1", "Number of mock brokers.");
  schema.add("broker.address_file", config::Type::kString, "",
             "If set, the bootstrap servers are also written to this file once ready.");
  return run_main("strata-broker", "embedded in-memory Kafka-protocol broker (for tests and demos)",
                  schema, argc, argv, [](const config::Config& cfg) {
                    auto partitions = cfg.integer("broker.partitions");
                    auto count = cfg.integer("broker.count");
                    if (partitions < 1 || partitions > 1024)
                      throw config::ConfigError("config key 'broker.partitions': expected 1..1024");
                    if (count < 1 || count > 16)
                      throw config::ConfigError("config key 'broker.count': expected 1..16");
                    std::vector<kafka::TopicSpec> topics;
                    for (const auto& t : cfg.list("broker.topics"))
                      topics.push_back({t, static_cast<int>(partitions)});
                    kafka::EmbeddedBroker broker(topics, static_cast<int>(count));
                    std::cout << "bootstrap.servers=" << broker.bootstraps() << std::endl;
                    if (auto path = cfg.str("broker.address_file"); !path.empty()) {
                      // Written to a temp name and renamed so a reader never sees half a line.
                      std::ofstream(path + ".tmp") << broker.bootstraps() << "\n";
                      std::rename((path + ".tmp").c_str(), path.c_str());
                    }
                    spdlog::info("strata-broker: serving {} (in memory only)", broker.bootstraps());
                    wait_for_shutdown_signal();
                    return 0;
                  });
}

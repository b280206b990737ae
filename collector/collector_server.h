// CollectorServer: the ingest gateway process. Owns the HTTP service (push
// endpoints + /metrics /healthz /readyz) and the Kafka producer; stateless,
// so any number of collectors can run behind a load balancer.
//
// Readiness follows Kafka: while no broker is reachable /readyz answers 503,
// and pushes answer 503 with Retry-After (never accept-and-drop).
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/kafka_bus.h"
#include "common/service.h"

namespace strata::collector {

class PushApi;

void add_options(config::Schema& schema);

class CollectorServer {
 public:
  explicit CollectorServer(const config::Config& cfg);
  ~CollectorServer();
  void start();
  void stop();
  std::string url() const { return service_->url(); }

 private:
  std::unique_ptr<Service> service_;
  std::unique_ptr<kafka::KafkaProducer> producer_;
  std::unique_ptr<PushApi> push_;
};

}  // namespace strata::collector

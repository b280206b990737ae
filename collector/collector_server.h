// CollectorServer: the ingest gateway process. Owns the HTTP service (the
// push endpoints of PushApi + /metrics /healthz /readyz), the Kafka producer,
// the Publisher and the token authentication; stateless, so any number of
// collectors can run behind a load balancer.
//
// HTTPS when collector.tls.cert_file is set (mutual TLS with
// collector.tls.client_ca_file). Per-tenant rate limits
// (collector.limits.tenant_*) answer 429; see Publisher.
//
// Readiness follows Kafka: while no broker is reachable /readyz answers 503,
// and pushes answer 503 with Retry-After (never accept-and-drop).
//
// Thread-safety: start(), stop() from the controlling thread; reload() from
// any thread (the SIGHUP handler).
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/kafka_bus.h"
#include "common/service.h"

namespace strata::collector {

class PushApi;
class Publisher;
class TokenAuth;

void add_options(config::Schema& schema);

class CollectorServer {
 public:
  // Throws config::ConfigError on a bad option, tokens file or relabel file.
  explicit CollectorServer(const config::Config& cfg);
  ~CollectorServer();
  void start();
  void stop();
  // Re-reads the tokens file (SIGHUP). Returns false if it failed to load
  // (the previous tokens stay in force).
  bool reload();
  // "http://host:port", or "https://..." with collector.tls.* set.
  std::string url() const;

 private:
  std::unique_ptr<Service> service_;
  std::unique_ptr<kafka::KafkaProducer> producer_;
  std::unique_ptr<TokenAuth> auth_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<PushApi> push_;
};

}  // namespace strata::collector

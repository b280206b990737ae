// Service: what every Strata server process has in common -- an HTTP server
// carrying the standard endpoints (/metrics, /healthz, /readyz) next to the
// component's own routes, a self-metrics registry, and a main() wrapper that
// loads the configuration, sets up logging and turns SIGTERM/SIGINT into a
// graceful stop.
//
//   /healthz  200 "ok" while the process runs (liveness).
//   /readyz   200 when every readiness check passes, else 503 naming the
//             failing check (e.g. "kafka: no broker reachable").
//   /metrics  the registry in Prometheus text format, plus HTTP server figures.
//
// Thread-safety: add readiness checks and routes before start().
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/http_server.h"
#include "common/kafka_bus.h"
#include "common/metrics_registry.h"

namespace strata {

// Options every binary accepts: log.*, and kafka.* for those that use Kafka.
void add_logging_options(config::Schema& schema);
void add_kafka_options(config::Schema& schema);
kafka::KafkaOptions kafka_options(const config::Config& cfg);

// Declares "<prefix>.listen" and the HTTP server limits under "<prefix>.http.*".
void add_http_options(config::Schema& schema, const std::string& prefix,
                      const std::string& default_listen);
http::ServerOptions http_options(const config::Config& cfg, const std::string& prefix);

class Service {
 public:
  // A check returns nullopt when ready, or the reason it is not.
  using ReadinessCheck = std::function<std::optional<std::string>()>;

  Service(std::string name, http::ServerOptions options);
  ~Service();

  const std::string& name() const { return name_; }
  http::HttpServer& http() { return *server_; }
  metrics::Registry& metrics() { return registry_; }
  void add_readiness_check(std::string what, ReadinessCheck check);

  void start();  // binds; logs the address
  void stop();   // graceful; idempotent
  std::string address() const { return server_->address(); }
  std::string url() const { return "http://" + server_->address(); }

 private:
  std::string name_;
  metrics::Registry registry_;
  std::unique_ptr<http::HttpServer> server_;
  std::vector<std::pair<std::string, ReadinessCheck>> checks_;
};

// Blocks the calling thread until SIGTERM or SIGINT arrives. Call
// block_shutdown_signals() first thing in main (before any thread starts) so
// that the signal is delivered here and not to a random worker thread.
void block_shutdown_signals();
int wait_for_shutdown_signal();
// For a service that reloads on SIGHUP: block_reload_signal() first thing in
// main (before run_main() and any thread), then wait here: on_reload() runs
// (on this thread) for every SIGHUP until SIGTERM or SIGINT.
void block_reload_signal();
int wait_for_shutdown_signal(const std::function<void()>& on_reload);

// The body of every thin main(): parses the command line against `schema`
// (exit 0 after --help, exit 2 with a message on a bad config), sets up
// logging, runs `body`, and maps an escaping exception to exit 1 with its
// message. `body` returns the exit code.
int run_main(const std::string& program, const std::string& description,
             const config::Schema& schema, int argc, char** argv,
             const std::function<int(const config::Config&)>& body);

}  // namespace strata

#include "common/service.h"

#include <signal.h>

#include <iostream>

#include <spdlog/spdlog.h>

#include "common/logging.h"

namespace strata {

void add_logging_options(config::Schema& s) {
  using config::Type;
  s.add("log.level", Type::kString, "info", "trace, debug, info, warn, error, critical or off.");
  s.add("log.format", Type::kString, "text", "text, or json for one JSON object per line.");
}

void add_kafka_options(config::Schema& s) {
  using config::Type;
  s.add("kafka.brokers", Type::kString, "127.0.0.1:9092",
        "Kafka bootstrap servers, host:port[,host:port]. The all-in-one `strata` ignores it "
        "while strata.embedded_broker is true.");
  s.add("kafka.compression", Type::kString, "lz4", "Producer compression: none, lz4 or zstd.");
  s.add("kafka.metrics_topic", Type::kString, "metrics", "Topic carrying metrics batches.");
  s.add("kafka.logs_topic", Type::kString, "logs", "Topic carrying log batches.");
  s.add("kafka.properties", Type::kStringMap, "",
        "Extra librdkafka properties (e.g. security.protocol=ssl), applied last.");
}

kafka::KafkaOptions kafka_options(const config::Config& cfg) {
  kafka::KafkaOptions o;
  o.brokers = cfg.str("kafka.brokers");
  o.compression = cfg.str("kafka.compression");
  if (o.compression != "none" && o.compression != "lz4" && o.compression != "zstd")
    throw config::ConfigError("config key 'kafka.compression': expected none, lz4 or zstd, got '" +
                              o.compression + "'");
  o.extra = cfg.string_map("kafka.properties");
  return o;
}

void add_http_options(config::Schema& s, const std::string& p, const std::string& default_listen) {
  using config::Type;
  s.add(p + ".listen", Type::kString, default_listen,
        "host:port of the HTTP API (port 0: any free port).");
  s.add(p + ".http.max_body_bytes", Type::kInt, "16777216",
        "Largest request body accepted, after decompression; larger gets 413.");
  s.add(p + ".http.header_timeout", Type::kDuration, "10s",
        "Time allowed to receive request headers before the connection is closed.");
  s.add(p + ".http.idle_timeout", Type::kDuration, "2m",
        "Idle keep-alive connections are closed after this.");
  s.add(p + ".http.handler_threads", Type::kInt, "4", "Threads running request handlers.");
}

http::ServerOptions http_options(const config::Config& cfg, const std::string& p) {
  http::ServerOptions o;
  o.listen = cfg.str(p + ".listen");
  if (o.listen.find(':') == std::string::npos)
    throw config::ConfigError("config key '" + p + ".listen': expected host:port, got '" +
                              o.listen + "'");
  auto body = cfg.integer(p + ".http.max_body_bytes");
  if (body <= 0)
    throw config::ConfigError("config key '" + p + ".http.max_body_bytes': must be > 0");
  o.max_body_bytes = static_cast<std::size_t>(body);
  o.header_timeout = cfg.duration(p + ".http.header_timeout");
  o.idle_timeout = cfg.duration(p + ".http.idle_timeout");
  auto threads = cfg.integer(p + ".http.handler_threads");
  if (threads < 1 || threads > 1024)
    throw config::ConfigError("config key '" + p + ".http.handler_threads': expected 1..1024");
  o.handler_threads = static_cast<int>(threads);
  return o;
}

Service::Service(std::string name, http::ServerOptions options)
    : name_(std::move(name)), server_(std::make_unique<http::HttpServer>(std::move(options))) {
  server_->add_route("GET", "/healthz",
                     [](const http::Request&) { return http::Response::text(200, "ok\n"); });
  server_->add_route("GET", "/readyz", [this](const http::Request&) {
    for (const auto& [what, check] : checks_)
      if (auto reason = check()) return http::Response::text(503, what + ": " + *reason + "\n");
    return http::Response::text(200, "ready\n");
  });
  server_->add_route("GET", "/metrics", [this](const http::Request&) {
    http::Response r = http::Response::text(200, registry_.render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
  registry_.gauge_callback("strata_http_open_connections", "Open HTTP connections.",
                           [this] { return static_cast<double>(server_->open_connections()); });
  registry_.gauge_callback("strata_http_requests_total", "HTTP requests served.",
                           [this] { return static_cast<double>(server_->requests_total()); });
}

Service::~Service() { stop(); }

void Service::add_readiness_check(std::string what, ReadinessCheck check) {
  checks_.emplace_back(std::move(what), std::move(check));
}

void Service::start() {
  server_->start();
  spdlog::info("{}: listening on {}://{}", name_, server_->tls() ? "https" : "http",
               server_->address());
}

void Service::stop() { server_->stop(); }

void block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer closing a socket mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

void block_reload_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_shutdown_signal() { return wait_for_shutdown_signal(nullptr); }

int wait_for_shutdown_signal(const std::function<void()>& on_reload) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (on_reload) sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      spdlog::info("received SIGHUP, reloading");
      on_reload();
      continue;
    }
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return sig;
  }
}

int run_main(const std::string& program, const std::string& description,
             const config::Schema& schema, int argc, char** argv,
             const std::function<int(const config::Config&)>& body) {
  block_shutdown_signals();
  std::optional<config::Config> cfg;
  try {
    cfg = config::Config::from_command_line(schema, argc, argv, program, description);
    if (!cfg) return 0;
    logging::setup(cfg->str("log.level"), cfg->str("log.format"));
  } catch (const std::exception& e) {
    std::cerr << program << ": configuration error: " << e.what() << "\n";
    return 2;
  }
  try {
    return body(*cfg);
  } catch (const config::ConfigError& e) {
    std::cerr << program << ": configuration error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("{}: fatal: {}", program, e.what());
    return 1;
  }
}

}  // namespace strata

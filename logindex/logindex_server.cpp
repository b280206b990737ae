#include "logindex/logindex_server.h"

namespace strata::logindex {

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "logindex", "127.0.0.1:3100");
  s.add("logindex.consumer_group", Type::kString, "strata-logindex",
        "Kafka consumer group of the logindex nodes; each node owns a share of the logs "
        "topic's partitions.");
  s.add("logindex.search.default_limit", Type::kInt, "100",
        "Lines a search returns when the request gives no limit.");
  s.add("logindex.search.max_limit", Type::kInt, "5000",
        "Largest limit a search may ask for; more is a 400.");
  s.add("logindex.ingest.max_poll_messages", Type::kInt, "1000",
        "Most Kafka messages applied (then committed) as one batch.");
  s.add("logindex.ingest.poll_timeout", Type::kDuration, "250ms",
        "Longest wait for a Kafka message; also bounds how long stop() waits for the loop.");
}

namespace {

IngesterOptions ingester_options(const config::Config& cfg) {
  IngesterOptions o;
  o.kafka = kafka_options(cfg);
  o.kafka.client_id = "strata-logindex";
  o.group_id = cfg.str("logindex.consumer_group");
  if (o.group_id.empty())
    throw config::ConfigError("config key 'logindex.consumer_group': must not be empty");
  o.topic = cfg.str("kafka.logs_topic");
  auto max = cfg.integer("logindex.ingest.max_poll_messages");
  if (max < 1 || max > 1'000'000)
    throw config::ConfigError(
        "config key 'logindex.ingest.max_poll_messages': expected 1..1000000");
  o.max_poll_messages = static_cast<std::size_t>(max);
  o.poll_timeout = cfg.duration("logindex.ingest.poll_timeout");
  if (o.poll_timeout.count() <= 0)
    throw config::ConfigError("config key 'logindex.ingest.poll_timeout': must be > 0");
  return o;
}

SearchApiOptions search_options(const config::Config& cfg) {
  SearchApiOptions o;
  auto max = cfg.integer("logindex.search.max_limit");
  if (max < 1 || max > 1'000'000)
    throw config::ConfigError("config key 'logindex.search.max_limit': expected 1..1000000");
  auto dflt = cfg.integer("logindex.search.default_limit");
  if (dflt < 1 || dflt > max)
    throw config::ConfigError(
        "config key 'logindex.search.default_limit': expected 1..logindex.search.max_limit");
  o.max_limit = static_cast<std::size_t>(max);
  o.default_limit = static_cast<std::size_t>(dflt);
  return o;
}

}  // namespace

LogIndexServer::LogIndexServer(const config::Config& cfg)
    : service_("strata-logindex", http_options(cfg, "logindex")) {
  api_ = std::make_unique<SearchApi>(index_, search_options(cfg), service_.metrics());
  api_->register_routes(service_.http());
  ingester_ = std::make_unique<Ingester>(ingester_options(cfg), index_, service_.metrics());
  service_.add_readiness_check("kafka ingest", [this] { return ingester_->readiness(); });
}

LogIndexServer::~LogIndexServer() { stop(); }

void LogIndexServer::start() {
  if (started_) return;
  started_ = true;
  service_.start();
  ingester_->start();
}

void LogIndexServer::stop() {
  if (stopped_ || !started_) return;
  stopped_ = true;
  ingester_->stop();
  service_.stop();
}

}  // namespace strata::logindex

#include "tsdb/tsdb_server.h"

namespace strata::tsdb {

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "tsdb", "127.0.0.1:9090");
  s.add("tsdb.consumer_group", Type::kString, "strata-tsdb",
        "Kafka consumer group of the tsdb nodes; each node owns a share of the metrics "
        "topic's partitions.");
  s.add("tsdb.lookback_delta", Type::kDuration, "5m",
        "How far back an instant query looks for a series' latest sample.");
  s.add("tsdb.ingest.max_poll_messages", Type::kInt, "1000",
        "Most Kafka messages applied (then committed) as one batch.");
  s.add("tsdb.ingest.poll_timeout", Type::kDuration, "250ms",
        "Longest wait for a Kafka message; also bounds how long stop() waits for the loop.");
}

namespace {

IngesterOptions ingester_options(const config::Config& cfg) {
  IngesterOptions o;
  o.kafka = kafka_options(cfg);
  o.kafka.client_id = "strata-tsdb";
  o.group_id = cfg.str("tsdb.consumer_group");
  if (o.group_id.empty())
    throw config::ConfigError("config key 'tsdb.consumer_group': must not be empty");
  o.topic = cfg.str("kafka.metrics_topic");
  auto max = cfg.integer("tsdb.ingest.max_poll_messages");
  if (max < 1 || max > 1'000'000)
    throw config::ConfigError("config key 'tsdb.ingest.max_poll_messages': expected 1..1000000");
  o.max_poll_messages = static_cast<std::size_t>(max);
  o.poll_timeout = cfg.duration("tsdb.ingest.poll_timeout");
  if (o.poll_timeout.count() <= 0)
    throw config::ConfigError("config key 'tsdb.ingest.poll_timeout': must be > 0");
  return o;
}

QueryApiOptions query_options(const config::Config& cfg) {
  QueryApiOptions o;
  o.lookback_delta = cfg.duration("tsdb.lookback_delta");
  if (o.lookback_delta.count() <= 0)
    throw config::ConfigError("config key 'tsdb.lookback_delta': must be > 0");
  return o;
}

}  // namespace

TsdbServer::TsdbServer(const config::Config& cfg)
    : service_("strata-tsdb", http_options(cfg, "tsdb")) {
  api_ = std::make_unique<QueryApi>(store_, query_options(cfg), service_.metrics());
  api_->register_routes(service_.http());
  ingester_ = std::make_unique<Ingester>(ingester_options(cfg), store_, service_.metrics());
  service_.add_readiness_check("kafka ingest", [this] { return ingester_->readiness(); });
}

TsdbServer::~TsdbServer() { stop(); }

void TsdbServer::start() {
  if (started_) return;
  started_ = true;
  service_.start();
  ingester_->start();
}

void TsdbServer::stop() {
  if (stopped_ || !started_) return;
  stopped_ = true;
  ingester_->stop();
  service_.stop();
}

}  // namespace strata::tsdb

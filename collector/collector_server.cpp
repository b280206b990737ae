#include "collector/collector_server.h"

#include "collector/push_api.h"
#include "common/wire_format.h"

namespace strata::collector {

void add_options(config::Schema& s) {
  using config::Type;
  add_http_options(s, "collector", "127.0.0.1:8080");
  s.add("collector.static_labels", Type::kStringMap, "",
        "Labels added to every series and stream that does not already carry them "
        "(e.g. region=eu-west-1,dc=a).");
  s.add("collector.ack_timeout", Type::kDuration, "10s",
        "How long a push waits for Kafka's acknowledgement before answering 503.");
  s.add("collector.max_series_per_request", Type::kInt, "100000",
        "Series per metrics push; more gets 413.");
  s.add("collector.max_labels_per_series", Type::kInt, "64", "Labels per series; more gets 400.");
  s.add("collector.max_label_value_bytes", Type::kInt, "4096",
        "Bytes per label value; longer gets 400.");
  s.add("collector.max_line_bytes", Type::kInt, "262144", "Bytes per log line; longer gets 413.");
}

namespace {
std::size_t positive(const config::Config& cfg, const std::string& key) {
  auto v = cfg.integer(key);
  if (v <= 0) throw config::ConfigError("config key '" + key + "': must be > 0");
  return static_cast<std::size_t>(v);
}
}  // namespace

CollectorServer::CollectorServer(const config::Config& cfg) {
  PushLimits limits;
  limits.max_series_per_request = positive(cfg, "collector.max_series_per_request");
  limits.max_labels_per_series = positive(cfg, "collector.max_labels_per_series");
  limits.max_label_value_bytes = positive(cfg, "collector.max_label_value_bytes");
  limits.max_line_bytes = positive(cfg, "collector.max_line_bytes");
  std::vector<Label> statics;
  for (const auto& [k, v] : cfg.string_map("collector.static_labels")) {
    if (!wire::valid_label_name(k))
      throw config::ConfigError("config key 'collector.static_labels': '" + k +
                                "' is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    statics.emplace_back(k, v);
  }
  service_ = std::make_unique<Service>("collector", http_options(cfg, "collector"));
  producer_ = std::make_unique<kafka::KafkaProducer>(kafka_options(cfg));
  push_ = std::make_unique<PushApi>(*producer_, cfg.str("kafka.metrics_topic"),
                                    cfg.str("kafka.logs_topic"), Labels(std::move(statics)), limits,
                                    cfg.duration("collector.ack_timeout"), service_->metrics());
  push_->register_routes(service_->http());
  service_->add_readiness_check("kafka", [p = producer_.get()]() -> std::optional<std::string> {
    if (p->connected()) return std::nullopt;
    return "no Kafka broker reachable";
  });
}

CollectorServer::~CollectorServer() { stop(); }

void CollectorServer::start() { service_->start(); }

void CollectorServer::stop() {
  // HTTP first: in-flight pushes finish (and get their Kafka acks) before the
  // producer goes away.
  if (service_) service_->stop();
}

}  // namespace strata::collector

#include "collector/collector_server.h"

#include <fmt/format.h>

#include "collector/publisher.h"
#include "collector/push_api.h"
#include "collector/relabel.h"
#include "collector/token_auth.h"
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
  s.add("collector.limits.max_series_per_request", Type::kInt, "100000",
        "Series (or log streams) per request; more gets 413.");
  s.add("collector.limits.max_samples_per_request", Type::kInt, "1000000",
        "Samples per request; more gets 413.");
  s.add("collector.limits.max_entries_per_request", Type::kInt, "100000",
        "Log lines per request; more gets 413.");
  s.add("collector.limits.max_labels_per_series", Type::kInt, "64",
        "Labels per series or stream (at most 128); more gets 400.");
  s.add("collector.limits.max_label_name_bytes", Type::kInt, "256",
        "Bytes per label name (at most 1024); longer gets 400.");
  s.add("collector.limits.max_label_value_bytes", Type::kInt, "4096",
        "Bytes per label value (at most 4096); longer gets 400.");
  s.add("collector.limits.max_line_bytes", Type::kInt, "262144",
        "Bytes per log line (at most 262144); longer gets 400.");
  s.add("collector.limits.max_sample_age", Type::kDuration, "0s",
        "Samples and log lines older than this (from the time of the request) get 400; 0: no "
        "limit.");
  s.add("collector.limits.max_future_skew", Type::kDuration, "10m",
        "Samples and log lines more than this ahead of the collector's clock get 400; 0: no "
        "limit.");
  s.add("collector.auth.tokens_file", Type::kString, "",
        "YAML file of bearer tokens (token -> tenant, labels); empty: no authentication. "
        "Re-read when it changes and on SIGHUP.");
  s.add("collector.auth.tenant_label", Type::kString, "tenant",
        "Label carrying the authenticated tenant on every series and stream.");
  s.add("collector.relabel.file", Type::kString, "",
        "YAML file of Prometheus relabel rules, under 'metrics:' and 'logs:'; empty: none.");
}

namespace {

std::size_t bounded(const config::Config& cfg, const std::string& key, std::int64_t max) {
  const auto v = cfg.positive_integer(key);
  if (max > 0 && v > max)
    throw config::ConfigError(
        fmt::format("config key '{}' (from {}): {} exceeds {}, the wire format's own limit "
                    "(docs/format/wire.md)",
                    key, cfg.origin(key), v, max));
  return static_cast<std::size_t>(v);
}

Limits limits_from(const config::Config& cfg) {
  Limits l;
  l.max_series_per_request = bounded(cfg, "collector.limits.max_series_per_request", 0);
  l.max_samples_per_request = bounded(cfg, "collector.limits.max_samples_per_request", 0);
  l.max_entries_per_request = bounded(cfg, "collector.limits.max_entries_per_request", 0);
  l.max_labels_per_series = bounded(cfg, "collector.limits.max_labels_per_series", 128);
  l.max_label_name_bytes = bounded(cfg, "collector.limits.max_label_name_bytes", 1024);
  l.max_label_value_bytes = bounded(cfg, "collector.limits.max_label_value_bytes", 4096);
  l.max_line_bytes = bounded(cfg, "collector.limits.max_line_bytes", 256 * 1024);
  l.max_sample_age = cfg.duration("collector.limits.max_sample_age");
  l.max_future_skew = cfg.duration("collector.limits.max_future_skew");
  if (l.max_sample_age.count() < 0 || l.max_future_skew.count() < 0)
    throw config::ConfigError(
        "config keys 'collector.limits.max_sample_age' and "
        "'collector.limits.max_future_skew' must not be negative");
  return l;
}

}  // namespace

CollectorServer::CollectorServer(const config::Config& cfg) {
  PublisherOptions po;
  po.metrics_topic = cfg.str("kafka.metrics_topic");
  po.logs_topic = cfg.str("kafka.logs_topic");
  po.ack_timeout = cfg.duration("collector.ack_timeout");
  std::vector<Label> statics;
  for (const auto& [k, v] : cfg.string_map("collector.static_labels")) {
    if (!wire::valid_label_name(k))
      throw config::ConfigError("config key 'collector.static_labels': '" + k +
                                "' is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)");
    statics.emplace_back(k, v);
  }
  po.static_labels = Labels(std::move(statics));
  if (const auto path = cfg.str("collector.relabel.file"); !path.empty())
    po.relabel = load_relabel_config(path);
  const Limits limits = limits_from(cfg);

  auto http = http_options(cfg, "collector");
  // Remote-write names its snappy block compression in Content-Encoding; the
  // handlers undo it themselves (the HTTP server knows no snappy).
  http.passthrough_encodings = {"snappy"};
  const std::size_t max_body = http.max_body_bytes;
  service_ = std::make_unique<Service>("collector", http);
  auth_ = std::make_unique<TokenAuth>(cfg.str("collector.auth.tokens_file"),
                                      cfg.str("collector.auth.tenant_label"), service_->metrics());
  producer_ = std::make_unique<kafka::KafkaProducer>(kafka_options(cfg));
  publisher_ = std::make_unique<Publisher>(*producer_, std::move(po), limits, service_->metrics());
  push_ = std::make_unique<PushApi>(*publisher_, *auth_, max_body, service_->metrics());
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

bool CollectorServer::reload() { return auth_->reload(); }

}  // namespace strata::collector

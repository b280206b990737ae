#include "collector/collector_server.h"

#include <cerrno>
#include <cstring>
#include <fstream>

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
  s.add("collector.limits.tenant_samples_per_second", Type::kDouble, "0",
        "Samples per second each tenant may push (token bucket; tenant \"\" when authentication "
        "is off); more gets 429 with Retry-After. 0: no limit.");
  s.add("collector.limits.tenant_samples_burst", Type::kDouble, "0",
        "Bucket size of tenant_samples_per_second: how many samples a tenant may push at once "
        "after a pause. 0: one second's worth.");
  s.add("collector.limits.tenant_log_bytes_per_second", Type::kDouble, "0",
        "Bytes of log lines per second each tenant may push (token bucket); more gets 429 with "
        "Retry-After. 0: no limit.");
  s.add("collector.limits.tenant_log_bytes_burst", Type::kDouble, "0",
        "Bucket size of tenant_log_bytes_per_second. 0: one second's worth.");
  s.add("collector.tls.cert_file", Type::kString, "",
        "PEM certificate chain (leaf first); set: the collector serves HTTPS only. Read at "
        "startup.");
  s.add("collector.tls.key_file", Type::kString, "", "PEM private key of collector.tls.cert_file.");
  s.add("collector.tls.client_ca_file", Type::kString, "",
        "PEM CA certificates; set: clients must present a certificate signed by one of them "
        "(mutual TLS).");
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

double non_negative(const config::Config& cfg, const std::string& key) {
  const double v = cfg.number(key);
  if (!(v >= 0))
    throw config::ConfigError(fmt::format("config key '{}' (from {}): {} must be >= 0 (0: off)",
                                          key, cfg.origin(key), v));
  return v;
}

// The TLS files must all be readable, and a certificate needs its key, so
// that a mistake stops the collector at startup naming the key.
void tls_from(const config::Config& cfg, http::ServerOptions& http) {
  const std::string cert = cfg.str("collector.tls.cert_file");
  const std::string key = cfg.str("collector.tls.key_file");
  const std::string ca = cfg.str("collector.tls.client_ca_file");
  if (cert.empty() != key.empty())
    throw config::ConfigError(
        "config keys 'collector.tls.cert_file' and 'collector.tls.key_file' go together: set "
        "both for HTTPS, or neither");
  if (cert.empty() && !ca.empty())
    throw config::ConfigError(
        "config key 'collector.tls.client_ca_file' needs 'collector.tls.cert_file' and "
        "'collector.tls.key_file' (mutual TLS is TLS)");
  for (const char* k :
       {"collector.tls.cert_file", "collector.tls.key_file", "collector.tls.client_ca_file"}) {
    const std::string path = cfg.str(k);
    if (path.empty()) continue;
    std::ifstream in(path);
    if (!in)
      throw config::ConfigError(fmt::format("config key '{}' (from {}): cannot read {}: {}", k,
                                            cfg.origin(k), path, std::strerror(errno)));
  }
  http.tls_cert_file = cert;
  http.tls_key_file = key;
  http.tls_client_ca_file = ca;
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
  po.tenant_samples_per_second = non_negative(cfg, "collector.limits.tenant_samples_per_second");
  po.tenant_samples_burst = non_negative(cfg, "collector.limits.tenant_samples_burst");
  po.tenant_log_bytes_per_second =
      non_negative(cfg, "collector.limits.tenant_log_bytes_per_second");
  po.tenant_log_bytes_burst = non_negative(cfg, "collector.limits.tenant_log_bytes_burst");

  auto http = http_options(cfg, "collector");
  // Remote-write names its snappy block compression in Content-Encoding; the
  // handlers undo it themselves (the HTTP server knows no snappy).
  http.passthrough_encodings = {"snappy"};
  tls_from(cfg, http);
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

std::string CollectorServer::url() const {
  return (service_->http().tls() ? "https://" : "http://") + service_->address();
}

}  // namespace strata::collector

#include "collector/push_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/wire_format.h"

namespace strata::collector {
namespace {

std::string fingerprint_key(const Labels& labels) {
  return fmt::format("{:016x}", labels.fingerprint());
}

http::Response bad_request(const std::string& what, const std::string& msg) {
  return http::Response::text(400, what + ": " + msg + "\n");
}

}  // namespace

PushApi::PushApi(kafka::KafkaProducer& producer, std::string metrics_topic, std::string logs_topic,
                 Labels static_labels, PushLimits limits, std::chrono::milliseconds ack_timeout,
                 metrics::Registry& registry)
    : producer_(producer),
      metrics_topic_(std::move(metrics_topic)),
      logs_topic_(std::move(logs_topic)),
      static_labels_(std::move(static_labels)),
      limits_(limits),
      ack_timeout_(ack_timeout),
      requests_ok_(registry.counter("strata_collector_requests_total", "Push requests by outcome.",
                                    Labels{{"outcome", "accepted"}})),
      requests_bad_(registry.counter("strata_collector_requests_total", "Push requests by outcome.",
                                     Labels{{"outcome", "invalid"}})),
      requests_unavailable_(registry.counter("strata_collector_requests_total",
                                             "Push requests by outcome.",
                                             Labels{{"outcome", "unavailable"}})),
      samples_published_(registry.counter("strata_collector_samples_published_total",
                                          "Samples acknowledged by Kafka.")),
      lines_published_(registry.counter("strata_collector_log_lines_published_total",
                                        "Log lines acknowledged by Kafka.")),
      publish_seconds_(registry.histogram("strata_collector_publish_seconds",
                                          "Time from request to Kafka acknowledgement.")) {}

void PushApi::register_routes(http::HttpServer& server) {
  server.add_route("POST", "/api/v1/push/metrics",
                   [this](const http::Request& r) { return push_metrics(r); });
  server.add_route("POST", "/api/v1/push/logs",
                   [this](const http::Request& r) { return push_logs(r); });
}

void PushApi::enrich(Labels& labels) const {
  for (const auto& [name, value] : static_labels_.items())
    if (labels.get(name).empty()) labels.set(name, value);
}

http::Response PushApi::push_metrics(const http::Request& req) {
  wire::MetricsBatch batch;
  try {
    batch = wire::decode_metrics(req.body);
  } catch (const wire::WireError& e) {
    requests_bad_.inc();
    return bad_request("invalid metrics batch", e.what());
  }
  if (batch.series.size() > limits_.max_series_per_request) {
    requests_bad_.inc();
    return http::Response::text(
        413, fmt::format("metrics batch has {} series; the limit is {} per request "
                         "(collector.max_series_per_request): split the batch\n",
                         batch.series.size(), limits_.max_series_per_request));
  }
  std::vector<kafka::OutMessage> messages;
  messages.reserve(batch.series.size());
  std::size_t samples = 0;
  for (std::size_t i = 0; i < batch.series.size(); ++i) {
    auto& s = batch.series[i];
    if (s.labels.size() > limits_.max_labels_per_series) {
      requests_bad_.inc();
      return bad_request(
          "invalid metrics batch",
          fmt::format("series[{}] {} has {} labels; the limit is {}", i, s.labels.to_string(),
                      s.labels.size(), limits_.max_labels_per_series));
    }
    for (const auto& [n, v] : s.labels.items())
      if (v.size() > limits_.max_label_value_bytes) {
        requests_bad_.inc();
        return bad_request("invalid metrics batch",
                           fmt::format("series[{}] label {} value is {} bytes; the limit is {}", i,
                                       n, v.size(), limits_.max_label_value_bytes));
      }
    enrich(s.labels);
    samples += s.samples.size();
    wire::MetricsBatch one;
    one.series.push_back(std::move(s));
    messages.push_back({metrics_topic_, fingerprint_key(one.series[0].labels), wire::encode(one)});
  }
  auto resp = publish(std::move(messages), "metrics");
  if (resp.status == 204) samples_published_.inc(static_cast<double>(samples));
  return resp;
}

http::Response PushApi::push_logs(const http::Request& req) {
  wire::LogsBatch batch;
  try {
    batch = wire::decode_logs(req.body);
  } catch (const wire::WireError& e) {
    requests_bad_.inc();
    return bad_request("invalid logs batch", e.what());
  }
  std::vector<kafka::OutMessage> messages;
  std::size_t lines = 0;
  for (std::size_t i = 0; i < batch.streams.size(); ++i) {
    auto& s = batch.streams[i];
    for (std::size_t j = 0; j < s.entries.size(); ++j)
      if (s.entries[j].line.size() > limits_.max_line_bytes) {
        requests_bad_.inc();
        return http::Response::text(
            413, fmt::format("invalid logs batch: streams[{}].entries[{}] is {} bytes; the "
                             "limit is {} (collector.max_line_bytes)\n",
                             i, j, s.entries[j].line.size(), limits_.max_line_bytes));
      }
    enrich(s.labels);
    lines += s.entries.size();
    wire::LogsBatch one;
    one.streams.push_back(std::move(s));
    messages.push_back({logs_topic_, fingerprint_key(one.streams[0].labels), wire::encode(one)});
  }
  auto resp = publish(std::move(messages), "logs");
  if (resp.status == 204) lines_published_.inc(static_cast<double>(lines));
  return resp;
}

http::Response PushApi::publish(std::vector<kafka::OutMessage> messages, const char* what) {
  auto start = std::chrono::steady_clock::now();
  try {
    producer_.send(messages, ack_timeout_);
  } catch (const kafka::KafkaError& e) {
    requests_unavailable_.inc();
    spdlog::warn("collector: {} batch not acknowledged by Kafka: {}", what, e.what());
    return http::Response::retry_later(
        503, 5,
        fmt::format("Kafka did not acknowledge the {} batch ({}); the batch was not accepted, "
                    "retry later\n",
                    what, e.what()));
  }
  publish_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  requests_ok_.inc();
  http::Response r;
  r.status = 204;
  return r;
}

}  // namespace strata::collector

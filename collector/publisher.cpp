#include "collector/publisher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace strata::collector {
namespace {

std::string fingerprint_key(const Labels& labels) {
  return fmt::format("{:016x}", labels.fingerprint());
}

// Encodes items [begin, end) of `whole` (a series or stream) as one message,
// or halves the range until each part fits.
template <typename Batch, typename Part, typename Items>
void split_encode(const Part& whole, const Items& items, std::size_t begin, std::size_t end,
                  const std::string& topic, const std::string& key,
                  std::vector<kafka::OutMessage>& out) {
  Batch one;
  Part part;
  part.labels = whole.labels;
  using Vec = std::remove_cvref_t<Items>;
  Vec slice(items.begin() + static_cast<std::ptrdiff_t>(begin),
            items.begin() + static_cast<std::ptrdiff_t>(end));
  if constexpr (std::is_same_v<Batch, wire::MetricsBatch>) {
    part.samples = std::move(slice);
    one.series.push_back(std::move(part));
  } else {
    part.entries = std::move(slice);
    one.streams.push_back(std::move(part));
  }
  std::string value = wire::encode(one);
  if (value.size() > Publisher::kMaxMessageBytes && end - begin > 1) {
    const std::size_t mid = begin + (end - begin) / 2;
    split_encode<Batch>(whole, items, begin, mid, topic, key, out);
    split_encode<Batch>(whole, items, mid, end, topic, key, out);
    return;
  }
  out.push_back({topic, key, std::move(value)});
}

// The common case: the whole series or stream fits one message. It is moved
// into a one-element batch and encoded from there, with no copy of its labels
// and samples; only an oversized one is copied and split. `count` receives
// the number of samples / entries.
template <typename Batch, typename Part>
void encode_moved(Part&& whole, const std::string& topic, std::vector<kafka::OutMessage>& out,
                  std::size_t& count) {
  std::string key = fingerprint_key(whole.labels);
  Batch one;
  std::string value;
  if constexpr (std::is_same_v<Batch, wire::MetricsBatch>) {
    count = whole.samples.size();
    one.series.push_back(std::move(whole));
    value = wire::encode(one);
    if (value.size() <= Publisher::kMaxMessageBytes || count <= 1) {
      out.push_back({topic, std::move(key), std::move(value)});
      return;
    }
    const auto& s = one.series[0];
    split_encode<Batch>(s, s.samples, 0, s.samples.size(), topic, key, out);
  } else {
    count = whole.entries.size();
    one.streams.push_back(std::move(whole));
    value = wire::encode(one);
    if (value.size() <= Publisher::kMaxMessageBytes || count <= 1) {
      out.push_back({topic, std::move(key), std::move(value)});
      return;
    }
    const auto& s = one.streams[0];
    split_encode<Batch>(s, s.entries, 0, s.entries.size(), topic, key, out);
  }
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Publisher::Publisher(kafka::KafkaProducer& producer, PublisherOptions options, Limits limits,
                     metrics::Registry& registry)
    : producer_(producer),
      options_(std::move(options)),
      validator_(limits),
      samples_limit_(options_.tenant_samples_per_second, options_.tenant_samples_burst,
                     options_.clock),
      log_bytes_limit_(options_.tenant_log_bytes_per_second, options_.tenant_log_bytes_burst,
                       options_.clock),
      registry_(registry),
      samples_published_(registry.counter("strata_collector_samples_published_total",
                                          "Samples acknowledged by Kafka.")),
      lines_published_(registry.counter("strata_collector_log_lines_published_total",
                                        "Log lines acknowledged by Kafka.")),
      series_dropped_(registry.counter("strata_collector_relabel_dropped_total",
                                       "Series and streams dropped by relabel rules.",
                                       Labels{{"kind", "series"}})),
      streams_dropped_(registry.counter("strata_collector_relabel_dropped_total",
                                        "Series and streams dropped by relabel rules.",
                                        Labels{{"kind", "streams"}})),
      publish_seconds_(registry.histogram("strata_collector_publish_seconds",
                                          "Time from request to Kafka acknowledgement.")),
      samples_limited_(registry.counter("strata_collector_rate_limited_requests_total",
                                        "Requests answered 429 by a tenant rate limit.",
                                        Labels{{"limit", "samples"}})),
      log_bytes_limited_(registry.counter("strata_collector_rate_limited_requests_total",
                                          "Requests answered 429 by a tenant rate limit.",
                                          Labels{{"limit", "log_bytes"}})) {}

metrics::Counter& Publisher::outcome(const char* protocol, const char* outcome) {
  return registry_.counter("strata_collector_requests_total",
                           "Ingest requests by protocol and outcome.",
                           Labels{{"protocol", protocol}, {"outcome", outcome}});
}

void Publisher::count_rejected(const char* protocol) { outcome(protocol, "invalid").inc(); }

void Publisher::enrich(Labels& labels, const Tenant* tenant) const {
  if (tenant != nullptr)
    for (const auto& [name, value] : tenant->labels.items()) labels.set(name, value);
  for (const auto& [name, value] : options_.static_labels.items())
    if (labels.get(name).empty()) labels.set(name, value);
}

std::optional<http::Response> Publisher::over_limit(RateLimiter& limiter, double cost,
                                                    const char* unit, const char* key,
                                                    const RequestContext& ctx) {
  const std::string_view tenant = ctx.tenant != nullptr ? ctx.tenant->id : std::string_view{};
  const auto wait = limiter.admit(tenant, cost);
  if (!wait) return std::nullopt;
  outcome(ctx.protocol, "rate_limited").inc();
  (&limiter == &samples_limit_ ? samples_limited_ : log_bytes_limited_).inc();
  const auto retry_s = static_cast<int>((wait->count() + 999) / 1000);
  const std::string who = ctx.tenant != nullptr
                              ? fmt::format("tenant \"{}\"", tenant)
                              : std::string(
                                    "tenant \"\" (authentication is off: one limit for all "
                                    "clients)");
  return http::Response::retry_later(
      429, retry_s,
      fmt::format("{} is over its rate limit of {:g} {} per second (collector.limits.{}, burst "
                  "{:g}); this request of {:g} {} was rejected and nothing of it was stored; "
                  "retry after {} s\n",
                  who, limiter.rate(), unit, key, limiter.burst(), cost, unit, retry_s));
}

std::vector<kafka::OutMessage> Publisher::messages_for(const wire::Series& series,
                                                       const std::string& topic) {
  std::vector<kafka::OutMessage> out;
  split_encode<wire::MetricsBatch>(series, series.samples, 0, series.samples.size(), topic,
                                   fingerprint_key(series.labels), out);
  return out;
}

std::vector<kafka::OutMessage> Publisher::messages_for(const wire::LogStream& stream,
                                                       const std::string& topic) {
  std::vector<kafka::OutMessage> out;
  split_encode<wire::LogsBatch>(stream, stream.entries, 0, stream.entries.size(), topic,
                                fingerprint_key(stream.labels), out);
  return out;
}

http::Response Publisher::publish(wire::MetricsBatch batch, const RequestContext& ctx) {
  if (auto too_big = validator_.check_size(batch)) {
    outcome(ctx.protocol, "invalid").inc();
    return http::Response::text(413, std::string(ctx.what) + ": " + *too_big + "\n");
  }
  Problems problems;
  validator_.check(batch, ctx.where, now_ms(), problems);
  if (!problems.empty()) {
    outcome(ctx.protocol, "invalid").inc();
    return http::Response::text(400, problems.message(ctx.what));
  }
  double cost = 0;
  if (samples_limit_.enabled()) {
    for (const auto& s : batch.series) cost += static_cast<double>(s.samples.size());
    if (auto r = over_limit(samples_limit_, cost, "samples", "tenant_samples_per_second", ctx))
      return std::move(*r);
  }
  const std::string_view tenant = ctx.tenant != nullptr ? ctx.tenant->id : std::string_view{};
  std::vector<kafka::OutMessage> messages;
  messages.reserve(batch.series.size());
  std::size_t samples = 0;
  for (std::size_t i = 0; i < batch.series.size(); ++i) {
    auto& s = batch.series[i];
    if (s.samples.empty()) continue;
    enrich(s.labels, ctx.tenant);
    if (!relabel(options_.relabel.metrics, s.labels) || s.labels.get("__name__").empty()) {
      series_dropped_.inc();
      continue;
    }
    std::size_t n = 0;
    try {
      encode_moved<wire::MetricsBatch>(std::move(s), options_.metrics_topic, messages, n);
    } catch (const wire::WireError& e) {
      // Only enrichment or relabeling can get here: the input was validated.
      outcome(ctx.protocol, "invalid").inc();
      samples_limit_.refund(tenant, cost);
      return http::Response::text(400, fmt::format("{}: {}: after enrichment and relabeling: {}\n",
                                                   ctx.what, ctx.where(i, std::nullopt), e.what()));
    }
    samples += n;
  }
  auto resp = send(std::move(messages), ctx.protocol);
  if (resp.status == 204) {
    samples_published_.inc(static_cast<double>(samples));
  } else {
    samples_limit_.refund(tenant, cost);  // the retry will be charged
  }
  return resp;
}

http::Response Publisher::publish(wire::LogsBatch batch, const RequestContext& ctx) {
  if (auto too_big = validator_.check_size(batch)) {
    outcome(ctx.protocol, "invalid").inc();
    return http::Response::text(413, std::string(ctx.what) + ": " + *too_big + "\n");
  }
  Problems problems;
  validator_.check(batch, ctx.where, now_ms(), problems);
  if (!problems.empty()) {
    outcome(ctx.protocol, "invalid").inc();
    return http::Response::text(400, problems.message(ctx.what));
  }
  double cost = 0;
  if (log_bytes_limit_.enabled()) {
    for (const auto& s : batch.streams)
      for (const auto& e : s.entries) cost += static_cast<double>(e.line.size());
    if (auto r =
            over_limit(log_bytes_limit_, cost, "log bytes", "tenant_log_bytes_per_second", ctx))
      return std::move(*r);
  }
  const std::string_view tenant = ctx.tenant != nullptr ? ctx.tenant->id : std::string_view{};
  std::vector<kafka::OutMessage> messages;
  messages.reserve(batch.streams.size());
  std::size_t lines = 0;
  for (std::size_t i = 0; i < batch.streams.size(); ++i) {
    auto& s = batch.streams[i];
    if (s.entries.empty()) continue;
    enrich(s.labels, ctx.tenant);
    if (!relabel(options_.relabel.logs, s.labels)) {
      streams_dropped_.inc();
      continue;
    }
    std::size_t n = 0;
    try {
      encode_moved<wire::LogsBatch>(std::move(s), options_.logs_topic, messages, n);
    } catch (const wire::WireError& e) {
      outcome(ctx.protocol, "invalid").inc();
      log_bytes_limit_.refund(tenant, cost);
      return http::Response::text(400, fmt::format("{}: {}: after enrichment and relabeling: {}\n",
                                                   ctx.what, ctx.where(i, std::nullopt), e.what()));
    }
    lines += n;
  }
  auto resp = send(std::move(messages), ctx.protocol);
  if (resp.status == 204) {
    lines_published_.inc(static_cast<double>(lines));
  } else {
    log_bytes_limit_.refund(tenant, cost);  // the retry will be charged
  }
  return resp;
}

http::Response Publisher::send(std::vector<kafka::OutMessage> messages, const char* protocol) {
  auto start = std::chrono::steady_clock::now();
  if (!messages.empty()) {
    try {
      producer_.send(messages, options_.ack_timeout);
    } catch (const kafka::KafkaError& e) {
      outcome(protocol, "unavailable").inc();
      spdlog::warn("collector: {} request not acknowledged by Kafka: {}", protocol, e.what());
      return http::Response::retry_later(
          503, 5,
          fmt::format("Kafka did not acknowledge the request ({}); nothing of it was accepted, "
                      "retry later\n",
                      e.what()));
    }
  }
  publish_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  outcome(protocol, "accepted").inc();
  http::Response r;
  r.status = 204;
  r.body.clear();
  return r;
}

}  // namespace strata::collector

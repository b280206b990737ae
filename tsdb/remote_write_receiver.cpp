#include "tsdb/remote_write_receiver.h"

#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/remote_write.h"
#include "common/wire_format.h"

namespace strata::tsdb {
namespace {

bool valid_metric_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Why the series cannot be stored, or empty. Prometheus's receiver skips
// such series silently; here the request is refused naming it.
std::string invalid_series(const wire::Series& s) {
  if (s.labels.empty()) return "no label (every label is empty or missing)";
  for (const auto& [name, value] : s.labels.items()) {
    if (!wire::valid_label_name(name)) return fmt::format("invalid label name \"{}\"", name);
    if (!wire::valid_utf8(value))
      return fmt::format("label \"{}\": value is not valid UTF-8", name);
    if (name == "__name__" && !valid_metric_name(value))
      return fmt::format("invalid metric name \"{}\"", value);
  }
  return {};
}

http::Response bad_request(std::string message) {
  return http::Response::text(400, "remote write: " + std::move(message) + "\n");
}

}  // namespace

RemoteWriteReceiver::RemoteWriteReceiver(DB& db, std::size_t max_decoded_bytes,
                                         metrics::Registry& registry)
    : db_(db),
      max_decoded_bytes_(max_decoded_bytes),
      requests_(registry.counter("strata_tsdb_remote_write_requests_total",
                                 "Remote-write requests received (POST /api/v1/write).")),
      rejected_(registry.counter(
          "strata_tsdb_remote_write_rejected_requests_total",
          "Remote-write requests answered with 400 or 413 (bad body, invalid series, refused "
          "samples).")),
      counters_(registry),
      exemplars_dropped_(registry.counter("strata_tsdb_remote_write_dropped_total",
                                          "Remote-write exemplars and native histograms "
                                          "received and dropped (not stored by Strata).",
                                          Labels{{"kind", "exemplars"}})),
      histograms_dropped_(registry.counter("strata_tsdb_remote_write_dropped_total",
                                           "Remote-write exemplars and native histograms "
                                           "received and dropped (not stored by Strata).",
                                           Labels{{"kind", "histograms"}})) {}

void RemoteWriteReceiver::register_routes(http::HttpServer& server) {
  server.add_route("POST", "/api/v1/write", [this](const http::Request& r) { return write(r); });
}

http::Response RemoteWriteReceiver::write(const http::Request& req) {
  requests_.inc();
  wire::MetricsBatch batch;
  remote_write::Dropped dropped;
  try {
    batch =
        remote_write::decode(req.body, max_decoded_bytes_, "tsdb.http.max_body_bytes", &dropped);
  } catch (const remote_write::RemoteWriteError& e) {
    rejected_.inc();
    return http::Response::text(e.too_large() ? 413 : 400,
                                std::string("remote write: ") + e.what() + "\n");
  }
  for (std::size_t i = 0; i < batch.series.size(); ++i)
    if (auto why = invalid_series(batch.series[i]); !why.empty()) {
      rejected_.inc();
      return bad_request(
          fmt::format("timeseries[{}] {}: {}", i, batch.series[i].labels.to_string(), why));
    }
  AppendResult total;
  std::string refused;  // the first series with refused samples, for the answer
  for (const auto& s : batch.series) {
    if (s.samples.empty()) continue;
    AppendResult r;
    try {
      r = db_.append(s.labels, s.samples);
    } catch (const std::invalid_argument& e) {  // checked above; defensive
      rejected_.inc();
      return bad_request(fmt::format("series {}: {}", s.labels.to_string(), e.what()));
    }
    if (refused.empty() && r.conflicts > 0)
      refused = fmt::format(
          "duplicate sample for timestamp: series {} at {} ms: another value is already stored",
          s.labels.to_string(), r.first_conflict_ms);
    else if (refused.empty() && r.too_old > 0)
      refused = fmt::format(
          "out of bounds: series {}: {} sample(s) older than the out-of-order window "
          "(tsdb.out_of_order_window) or the last block cut",
          s.labels.to_string(), r.too_old);
    total += r;
  }
  counters_.add(total);
  exemplars_dropped_.inc(static_cast<double>(dropped.exemplars));
  histograms_dropped_.inc(static_cast<double>(dropped.histograms));
  db_.sync();  // durable before the sender is told so
  if (!refused.empty()) {
    rejected_.inc();
    const std::size_t n = total.conflicts + total.too_old;
    return bad_request(
        fmt::format("{} (and {} more refused sample(s) in this request; the "
                    "other {} sample(s) were stored)",
                    refused, n - 1, total.appended + total.duplicates));
  }
  http::Response resp;
  resp.status = 204;
  return resp;
}

}  // namespace strata::tsdb

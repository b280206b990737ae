#include "collector/push_api.h"

#include <fmt/format.h>

#include "collector/loki_push.h"
#include "collector/remote_write.h"
#include "common/exposition_parser.h"
#include "common/wire_format.h"

namespace strata::collector {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "application/x-protobuf; proto=prometheus.WriteRequest" -> media type and
// the proto parameter (lower case media type, parameter as sent).
struct MediaType {
  std::string type;
  std::string proto;
};

MediaType media_type(const http::Request& req) {
  MediaType m;
  auto ct = req.header("content-type");
  if (!ct) return m;
  std::string_view v = *ct;
  const auto semi = v.find(';');
  m.type = lower(trim(v.substr(0, semi)));
  while (semi != std::string_view::npos && !v.empty()) {
    v = v.substr(v.find(';') + 1);
    const auto next = v.find(';');
    std::string_view param = trim(v.substr(0, next));
    if (lower(param.substr(0, 6)) == "proto=") m.proto = std::string(trim(param.substr(6)));
    if (next == std::string_view::npos) break;
  }
  return m;
}

// The codings the HTTP server left undone (only pass-through ones: snappy).
std::string encoding_left(const http::Request& req) {
  auto e = req.header("content-encoding");
  return e ? lower(trim(*e)) : std::string();
}

std::string item_path(const char* series, const char* items, std::size_t i,
                      std::optional<std::size_t> j) {
  return j ? fmt::format("{}[{}].{}[{}]", series, i, items, *j) : fmt::format("{}[{}]", series, i);
}

}  // namespace

PushApi::PushApi(Publisher& publisher, TokenAuth& auth, std::size_t max_body_bytes,
                 metrics::Registry& registry)
    : publisher_(publisher),
      auth_(auth),
      max_body_bytes_(max_body_bytes),
      exemplars_dropped_(registry.counter("strata_collector_remote_write_dropped_total",
                                          "Remote-write exemplars and native histograms "
                                          "received and dropped (not stored by Strata).",
                                          Labels{{"kind", "exemplars"}})),
      histograms_dropped_(registry.counter("strata_collector_remote_write_dropped_total",
                                           "Remote-write exemplars and native histograms "
                                           "received and dropped (not stored by Strata).",
                                           Labels{{"kind", "histograms"}})),
      lines_sanitized_(registry.counter("strata_collector_log_lines_sanitized_total",
                                        "Pushed log lines whose invalid UTF-8 sequences were "
                                        "replaced by U+FFFD.")) {}

void PushApi::register_routes(http::HttpServer& server) {
  server.add_route("POST", "/api/v1/push/metrics",
                   [this](const http::Request& r) { return push_metrics(r); });
  server.add_route("POST", "/api/v1/push/logs",
                   [this](const http::Request& r) { return push_logs(r); });
  server.add_route("POST", "/api/v1/write",
                   [this](const http::Request& r) { return remote_write(r); });
  server.add_route("POST", "/loki/api/v1/push",
                   [this](const http::Request& r) { return loki_push(r); });
  server.add_route("POST", "/api/v1/import/prometheus",
                   [this](const http::Request& r) { return import_prometheus(r); });
}

http::Response PushApi::reject(const char* protocol, int status, std::string message) {
  publisher_.count_rejected(protocol);
  if (message.empty() || message.back() != '\n') message += '\n';
  return http::Response::text(status, std::move(message));
}

// The native and import endpoints take only what the HTTP server decodes
// itself (gzip, deflate, zstd).
std::optional<http::Response> PushApi::check_no_snappy(const http::Request& req,
                                                       const char* protocol, const char* path) {
  const std::string enc = encoding_left(req);
  if (enc.empty()) return std::nullopt;
  return reject(protocol, 415,
                "unsupported Content-Encoding " + enc + " for " + path +
                    " (supported: gzip, deflate, zstd; snappy only on /api/v1/write and "
                    "/loki/api/v1/push)");
}

http::Response PushApi::push_metrics(const http::Request& req) {
  auto tenant = auth_.authenticate(req);
  if (!tenant) return TokenAuth::unauthorized();
  if (auto r = check_no_snappy(req, "native_metrics", "/api/v1/push/metrics")) return std::move(*r);
  wire::MetricsBatch batch;
  try {
    batch = wire::decode_metrics(req.body);
  } catch (const wire::WireError& e) {
    return reject("native_metrics", 400, std::string("invalid metrics batch: ") + e.what());
  }
  RequestContext ctx{"native_metrics", "invalid metrics batch", tenant->get(),
                     [](std::size_t i, std::optional<std::size_t> j) {
                       return item_path("series", "samples", i, j);
                     }};
  return publisher_.publish(std::move(batch), ctx);
}

http::Response PushApi::push_logs(const http::Request& req) {
  auto tenant = auth_.authenticate(req);
  if (!tenant) return TokenAuth::unauthorized();
  if (auto r = check_no_snappy(req, "native_logs", "/api/v1/push/logs")) return std::move(*r);
  wire::LogsBatch batch;
  try {
    batch = wire::decode_logs(req.body);
  } catch (const wire::WireError& e) {
    return reject("native_logs", 400, std::string("invalid logs batch: ") + e.what());
  }
  RequestContext ctx{"native_logs", "invalid logs batch", tenant->get(),
                     [](std::size_t i, std::optional<std::size_t> j) {
                       return item_path("streams", "entries", i, j);
                     }};
  return publisher_.publish(std::move(batch), ctx);
}

http::Response PushApi::remote_write(const http::Request& req) {
  static constexpr const char* kProto = "remote_write";
  auto tenant = auth_.authenticate(req);
  if (!tenant) return TokenAuth::unauthorized();
  const MediaType mt = media_type(req);
  if (!mt.type.empty() && mt.type != "application/x-protobuf")
    return reject(kProto, 415,
                  "unsupported Content-Type " + mt.type +
                      " for remote write (expected application/x-protobuf)");
  if (!mt.proto.empty() && mt.proto != "prometheus.WriteRequest")
    return reject(kProto, 415,
                  "unsupported remote-write message " + mt.proto +
                      ": this receiver speaks remote-write 1.0 (proto=prometheus.WriteRequest)");
  if (auto v = req.header("x-prometheus-remote-write-version");
      v && !trim(*v).starts_with("0.") && !trim(*v).starts_with("1."))
    return reject(kProto, 415,
                  "unsupported X-Prometheus-Remote-Write-Version " + std::string(trim(*v)) +
                      " (supported: 0.1.0, remote-write 1.0)");
  // Prometheus always sends "snappy"; like Prometheus's own receiver, a body
  // without the header is taken as snappy too.
  if (const std::string enc = encoding_left(req); !enc.empty() && enc != "snappy")
    return reject(kProto, 415,
                  "unsupported Content-Encoding " + enc + " for remote write (expected snappy)");

  wire::MetricsBatch batch;
  RemoteWriteDropped dropped;
  try {
    batch = decode_remote_write(req.body, max_body_bytes_, &dropped);
  } catch (const DecodeError& e) {
    return reject(kProto, e.status(), std::string("invalid remote-write request: ") + e.what());
  }
  RequestContext ctx{kProto, "invalid remote-write request", tenant->get(),
                     [](std::size_t i, std::optional<std::size_t> j) {
                       return item_path("timeseries", "samples", i, j);
                     }};
  auto resp = publisher_.publish(std::move(batch), ctx);
  if (resp.status == 204) {
    exemplars_dropped_.inc(static_cast<double>(dropped.exemplars));
    histograms_dropped_.inc(static_cast<double>(dropped.histograms));
  }
  return resp;
}

http::Response PushApi::loki_push(const http::Request& req) {
  static constexpr const char* kProto = "loki";
  auto tenant = auth_.authenticate(req);
  if (!tenant) return TokenAuth::unauthorized();
  const MediaType mt = media_type(req);
  const std::string enc = encoding_left(req);
  if (!enc.empty() && enc != "snappy")
    return reject(kProto, 415, "unsupported Content-Encoding " + enc + " for Loki push");
  wire::LogsBatch batch;
  std::size_t sanitized = 0;
  const bool json = mt.type == "application/json";
  try {
    if (json) {
      batch = enc == "snappy" ? decode_loki_json(snappy_uncompress(req.body, max_body_bytes_))
                              : decode_loki_json(req.body);
    } else if (mt.type.empty() || mt.type == "application/x-protobuf") {
      // Loki's default: a body without Content-Type is snappy'd protobuf.
      batch = decode_loki_protobuf(req.body, max_body_bytes_, &sanitized);
    } else {
      return reject(kProto, 415,
                    "unsupported Content-Type " + mt.type +
                        " for Loki push (application/json or application/x-protobuf)");
    }
  } catch (const DecodeError& e) {
    return reject(kProto, e.status(), std::string("invalid Loki push request: ") + e.what());
  }
  RequestContext ctx{kProto, "invalid Loki push request", tenant->get(),
                     [json](std::size_t i, std::optional<std::size_t> j) {
                       return item_path("streams", json ? "values" : "entries", i, j);
                     }};
  auto resp = publisher_.publish(std::move(batch), ctx);
  if (resp.status == 204) lines_sanitized_.inc(static_cast<double>(sanitized));
  return resp;
}

http::Response PushApi::import_prometheus(const http::Request& req) {
  static constexpr const char* kProto = "import_prometheus";
  auto tenant = auth_.authenticate(req);
  if (!tenant) return TokenAuth::unauthorized();
  if (auto r = check_no_snappy(req, kProto, "/api/v1/import/prometheus")) return std::move(*r);
  // extra_label=name=value (as VictoriaMetrics): added to every series,
  // overriding the body's.
  std::vector<Label> extra;
  for (const auto& e : req.params_all("extra_label")) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || !wire::valid_label_name(e.substr(0, eq)))
      return reject(
          kProto, 400,
          "invalid extra_label " + error_quote(e) + ": expected name=value with a valid name");
    extra.emplace_back(e.substr(0, eq), e.substr(eq + 1));
  }
  ParsedExposition parsed;
  try {
    parsed = parse_exposition(req.body, now_ms());
  } catch (const ExpositionError& e) {  // common/'s parser: a 400 like any DecodeError
    return reject(kProto, 400, std::string("invalid Prometheus text format: ") + e.what());
  }
  for (auto& s : parsed.batch.series)
    for (const auto& [n, v] : extra) s.labels.set(n, v);
  const auto& lines = parsed.sample_lines;
  RequestContext ctx{kProto, "invalid Prometheus text format", tenant->get(),
                     [&lines](std::size_t i, std::optional<std::size_t> j) {
                       return fmt::format("line {}", lines[i][j.value_or(0)]);
                     }};
  return publisher_.publish(std::move(parsed.batch), ctx);
}

}  // namespace strata::collector

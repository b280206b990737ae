#include "alerting/query_client.h"

#include <simdjson.h>

#include <stdexcept>

#include <fmt/format.h>

#include "common/wire_format.h"

namespace strata::alerting {

QueryClient::QueryClient(std::string base_url, std::string path, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)),
      path_(std::move(path)),
      client_(http::ClientOptions{std::min(timeout, std::chrono::milliseconds(2000)), timeout, 1,
                                  std::chrono::milliseconds(100), std::chrono::milliseconds(100)}) {
}

std::vector<Sample> QueryClient::instant(const std::string& expr, std::int64_t time_ms) {
  std::string url = fmt::format("{}{}?query={}&time={}.{:03d}", base_url_, path_,
                                http::HttpClient::url_encode(expr), time_ms / 1000, time_ms % 1000);
  auto resp = client_.get(url);
  if (!resp.error.empty()) throw std::runtime_error(fmt::format("query {}: {}", url, resp.error));
  if (resp.status != 200) {
    // Prometheus's error JSON names the problem; show it rather than the raw body.
    std::string detail = resp.body.substr(0, 500);
    simdjson::dom::parser p;
    std::string_view msg;
    if (!p.parse(resp.body).get_object()["error"].get(msg)) detail = std::string(msg);
    throw std::runtime_error(fmt::format("query {}: HTTP {}: {}", url, resp.status, detail));
  }
  try {
    return parse_response(resp.body);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("query {}: {}", url, e.what()));
  }
}

std::vector<Sample> QueryClient::parse_response(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(body).get(doc))
    throw std::runtime_error(std::string("query response is not JSON: ") +
                             simdjson::error_message(err));
  std::string_view status;
  if (doc["status"].get(status) || status != "success") {
    std::string_view msg = "no error message";
    if (doc["error"].get(msg)) msg = "no error message";
    throw std::runtime_error(fmt::format("query failed: {}", msg));
  }
  std::string_view type;
  if (doc["data"]["resultType"].get(type))
    throw std::runtime_error("query response has no data.resultType");
  std::vector<Sample> out;
  if (type == "scalar") {
    std::string_view value;
    if (doc["data"]["result"].at(1).get(value))
      throw std::runtime_error("scalar result is not [time, \"value\"]");
    out.push_back(Sample{Labels{}, wire::parse_value(value)});
    return out;
  }
  if (type != "vector")
    throw std::runtime_error(fmt::format(
        "query returned resultType '{}'; a rule needs an instant vector or a scalar", type));
  simdjson::dom::array result;
  if (doc["data"]["result"].get(result))
    throw std::runtime_error("query response has no data.result array");
  for (auto item : result) {
    Sample s;
    simdjson::dom::object metric;
    if (item["metric"].get(metric)) throw std::runtime_error("result item without metric");
    std::vector<Label> labels;
    for (auto field : metric) {
      std::string_view v;
      if (field.value.get(v)) throw std::runtime_error("label value is not a string");
      labels.emplace_back(std::string(field.key), std::string(v));
    }
    s.labels = Labels(std::move(labels));
    std::string_view value;
    if (item["value"].at(1).get(value))
      throw std::runtime_error("result item value is not [time, \"value\"]");
    s.value = wire::parse_value(value);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace strata::alerting

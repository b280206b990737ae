#include "alerting/query_client.h"

#include <simdjson.h>

#include <fmt/format.h>
#include <stdexcept>

#include "common/wire_format.h"

namespace strata::alerting {

QueryClient::QueryClient(std::string base_url)
    : base_url_(std::move(base_url)),
      client_(http::ClientOptions{std::chrono::milliseconds(2000), std::chrono::milliseconds(10000),
                                  2, std::chrono::milliseconds(200),
                                  std::chrono::milliseconds(2000)}) {}

std::vector<QueriedSample> QueryClient::instant(const std::string& expr, std::int64_t time_ms) {
  std::string url = fmt::format("{}/api/v1/query?query={}&time={:.3f}", base_url_,
                                http::HttpClient::url_encode(expr), time_ms / 1000.0);
  auto resp = client_.get(url);
  if (!resp.error.empty()) throw std::runtime_error(fmt::format("query {}: {}", url, resp.error));
  if (resp.status != 200)
    throw std::runtime_error(fmt::format("query {}: HTTP {}: {}", url, resp.status, resp.body));
  return parse_vector_response(resp.body);
}

std::vector<QueriedSample> QueryClient::parse_vector_response(const std::string& body) {
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
  if (doc["data"]["resultType"].get(type) || type != "vector")
    throw std::runtime_error(fmt::format(
        "query returned resultType '{}'; a threshold rule needs an instant vector", type));
  simdjson::dom::array result;
  if (doc["data"]["result"].get(result))
    throw std::runtime_error("query response has no data.result array");
  std::vector<QueriedSample> out;
  for (auto item : result) {
    QueriedSample s;
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

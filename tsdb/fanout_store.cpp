#include "tsdb/fanout_store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/wire_format.h"
#include "tsdb/chunk_encoding.h"
#include "tsdb/query_api.h"
#include "tsdb/remote_read.h"

namespace strata::tsdb {
namespace {

const std::vector<std::pair<std::string, std::string>> kFanoutHeaders = {{"X-Strata-Fanout", "1"}};

// A series' samples from one node, as chunks the querier can merge.
void append_chunks(std::vector<ChunkRef>& chunks, const std::vector<wire::Sample>& samples) {
  constexpr std::size_t kMaxChunk = 65535;  // chunk_encoding.h's limit
  for (std::size_t i = 0; i < samples.size(); i += kMaxChunk) {
    const std::span<const wire::Sample> part(samples.data() + i,
                                             std::min(kMaxChunk, samples.size() - i));
    auto bytes = std::make_shared<std::vector<std::uint8_t>>(encode_chunk_xor(part));
    ChunkRef c;
    c.mint = part.front().timestamp_ms;
    c.maxt = part.back().timestamp_ms;
    c.bytes = std::span<const std::uint8_t>(bytes->data(), bytes->size());
    c.owner = std::move(bytes);
    chunks.push_back(std::move(c));
  }
}

std::string selector_text(const std::vector<LabelMatcher>& matchers) {
  std::string out = "{";
  for (std::size_t i = 0; i < matchers.size(); ++i) {
    if (i) out += ',';
    out += matchers[i].to_string();
  }
  return out + "}";
}

// The `data` member of a Prometheus API success envelope.
simdjson::dom::element api_data(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS)
    throw std::runtime_error("the answer is not JSON");
  std::string_view status;
  if (root["status"].get(status) != simdjson::SUCCESS || status != "success")
    throw std::runtime_error("the answer is not a success envelope");
  simdjson::dom::element data;
  if (root["data"].get(data) != simdjson::SUCCESS)
    throw std::runtime_error("the answer has no data");
  return data;
}

std::vector<std::string> decode_string_list(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (api_data(parser, body).get(arr) != simdjson::SUCCESS)
    throw std::runtime_error("data is not a list");
  std::vector<std::string> out;
  for (auto v : arr) {
    std::string_view s;
    if (v.get(s) != simdjson::SUCCESS) throw std::runtime_error("data holds a non-string");
    out.emplace_back(s);
  }
  return out;
}

std::vector<Labels> decode_series_list(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (api_data(parser, body).get(arr) != simdjson::SUCCESS)
    throw std::runtime_error("data is not a list");
  std::vector<Labels> out;
  for (auto v : arr) {
    simdjson::dom::object obj;
    if (v.get(obj) != simdjson::SUCCESS) throw std::runtime_error("a series is not an object");
    std::vector<Label> labels;
    for (auto field : obj) {
      std::string_view value;
      if (field.value.get(value) != simdjson::SUCCESS)
        throw std::runtime_error("a label value is not a string");
      labels.emplace_back(std::string(field.key), std::string(value));
    }
    out.emplace_back(std::move(labels));
  }
  return out;
}

template <class T>
std::vector<T> sorted_union(std::vector<std::vector<T>> answers) {
  std::set<T> all;
  for (auto& answer : answers)
    for (auto& x : answer) all.insert(std::move(x));
  return {all.begin(), all.end()};
}

}  // namespace

FanoutStore::FanoutStore(FanoutOptions options)
    : options_(std::move(options)), peers_(options_.peers, options_.peer_timeout) {
  if (options_.peers.empty())
    throw std::invalid_argument("a fan-out store needs at least one peer");
}

FanoutStore::~FanoutStore() = default;

template <class T>
std::vector<std::optional<T>> FanoutStore::gather_each(
    const PeerFanout::Call& call, const std::function<T(const std::string&)>& decode,
    std::vector<std::string>& errors) const {
  auto responses = peers_.call_all(call);
  std::vector<std::optional<T>> out(responses.size());
  errors.assign(responses.size(), std::string());
  for (std::size_t i = 0; i < responses.size(); ++i) {
    const auto& r = responses[i];
    try {
      if (!r.error.empty()) throw std::runtime_error(r.error);
      if (r.status < 200 || r.status >= 300) {
        std::string body = r.body.substr(0, 200);
        while (!body.empty() && body.back() == '\n') body.pop_back();
        throw std::runtime_error(fmt::format("HTTP {}: {}", r.status, body));
      }
      out[i] = decode(r.body);
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  return out;
}

template <class T>
std::vector<T> FanoutStore::gather(const PeerFanout::Call& call,
                                   const std::function<T(const std::string&)>& decode,
                                   std::vector<std::string>* warnings) const {
  const auto& peers = options_.peers;
  std::vector<std::string> errors;
  auto each = gather_each(call, decode, errors);
  std::vector<T> out;
  std::vector<bool> answered(peers.size(), false);
  for (std::size_t i = 0; i < peers.size(); ++i) {
    if (!each[i]) continue;
    answered[i] = true;
    out.push_back(std::move(*each[i]));
  }
  if (out.empty()) {
    std::string why;
    for (std::size_t i = 0; i < peers.size(); ++i)
      why += fmt::format("{}{}: {}", i ? "; " : "", peers[i].name, errors[i]);
    throw promql::ExecutionError(fmt::format(
        "no tsdb node answered ({}): check that the nodes in tsdb.query.peers are up", why));
  }
  auto partial = partial_warnings(peers, answered, errors, "that node's series");
  if (warnings) warnings->insert(warnings->end(), partial.begin(), partial.end());
  return out;
}

std::vector<Series> FanoutStore::select(const std::vector<LabelMatcher>& matchers,
                                        std::int64_t mint, std::int64_t maxt,
                                        const SelectHints& hints) const {
  ReadQuery q;
  q.start_ms = mint;
  q.end_ms = maxt;
  q.matchers = matchers;
  q.hints = hints;
  q.hints.warnings = nullptr;
  const std::string body = encode_read_request({q});
  const std::size_t max_bytes = options_.max_response_bytes;
  using Result = std::vector<wire::Series>;
  auto answers = gather<Result>(
      [&](http::HttpClient& c, const std::string& base) {
        return c.post(base + "/api/v1/read", body,
                      {{"Content-Type", "application/x-protobuf"},
                       {"Content-Encoding", "snappy"},
                       {"Accept-Encoding", "snappy"},
                       {"X-Prometheus-Remote-Read-Version", "0.1.0"}});
      },
      [max_bytes](const std::string& response) {
        auto results = decode_read_response(response, max_bytes);
        if (results.size() != 1)
          throw std::runtime_error(
              fmt::format("remote read answered {} results for 1 query", results.size()));
        return std::move(results.front());
      },
      hints.warnings);
  // Every copy of a series (replicas, rebalance leftovers) becomes chunks of
  // one Series; the querier's merge yields each timestamp once.
  std::map<Labels, Series> merged;
  for (auto& answer : answers) {
    for (auto& s : answer) {
      if (s.samples.empty()) continue;
      auto [it, inserted] = merged.try_emplace(s.labels);
      if (inserted) {
        it->second.labels = s.labels;
        it->second.mint = mint;
        it->second.maxt = maxt;
      }
      append_chunks(it->second.chunks, s.samples);
    }
  }
  std::vector<Series> out;
  out.reserve(merged.size());
  for (auto& [labels, series] : merged) out.push_back(std::move(series));
  return out;
}

std::vector<Labels> FanoutStore::series_labels(const std::vector<LabelMatcher>& matchers,
                                               std::int64_t mint, std::int64_t maxt,
                                               std::vector<std::string>* warnings) const {
  std::string query = "?match[]=" + http::HttpClient::url_encode(selector_text(matchers));
  if (mint != kMinTime) query += "&start=" + format_timestamp(mint);
  if (maxt != kMaxTime) query += "&end=" + format_timestamp(maxt);
  return sorted_union(gather<std::vector<Labels>>(
      [&](http::HttpClient& c, const std::string& base) {
        return c.get(base + "/api/v1/series" + query, kFanoutHeaders);
      },
      decode_series_list, warnings));
}

std::vector<std::string> FanoutStore::label_names(std::vector<std::string>* warnings) const {
  return sorted_union(gather<std::vector<std::string>>(
      [&](http::HttpClient& c, const std::string& base) {
        return c.get(base + "/api/v1/labels", kFanoutHeaders);
      },
      decode_string_list, warnings));
}

std::vector<std::string> FanoutStore::label_values(std::string_view name,
                                                   std::vector<std::string>* warnings) const {
  const std::string path = "/api/v1/label/" + std::string(name) + "/values";
  return sorted_union(gather<std::vector<std::string>>(
      [&](http::HttpClient& c, const std::string& base) {
        return c.get(base + path, kFanoutHeaders);
      },
      decode_string_list, warnings));
}

namespace {

// A Prometheus API query answer (vector or matrix) as a Matrix.
promql::Matrix decode_query_result(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element data = api_data(parser, body);
  std::string_view type;
  simdjson::dom::array result;
  if (data["resultType"].get(type) != simdjson::SUCCESS ||
      data["result"].get(result) != simdjson::SUCCESS)
    throw std::runtime_error("the answer has no resultType/result");
  if (type != "vector" && type != "matrix")
    throw std::runtime_error("unexpected resultType " + std::string(type));
  auto point = [](simdjson::dom::element p) {
    double t = 0;
    std::string_view v;
    if (p.at(0).get(t) != simdjson::SUCCESS || p.at(1).get(v) != simdjson::SUCCESS)
      throw std::runtime_error("a sample is not [time, \"value\"]");
    return promql::Point{std::llround(t * 1000), wire::parse_value(v)};
  };
  promql::Matrix out;
  for (auto item : result) {
    promql::Series s;
    std::vector<Label> labels;
    simdjson::dom::object metric;
    if (item["metric"].get(metric) != simdjson::SUCCESS)
      throw std::runtime_error("a result has no metric");
    for (auto field : metric) {
      std::string_view value;
      if (field.value.get(value) != simdjson::SUCCESS)
        throw std::runtime_error("a label value is not a string");
      labels.emplace_back(std::string(field.key), std::string(value));
    }
    s.labels = Labels(std::move(labels));
    if (type == "vector") {
      s.points.push_back(point(item["value"]));
    } else {
      simdjson::dom::array values;
      if (item["values"].get(values) != simdjson::SUCCESS)
        throw std::runtime_error("a matrix series has no values");
      for (auto p : values) s.points.push_back(point(p));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string resolution_param(std::int64_t ms) {
  return ms == 0 ? "raw" : ms == kRes5m ? "5m" : "1h";
}

}  // namespace

std::optional<std::vector<promql::Matrix>> FanoutStore::evaluate_on_parts(
    const PartsQuery& q, std::vector<std::string>*) const {
  if (!options_.pushdown) return std::nullopt;
  std::string form = "query=" + http::HttpClient::url_encode(q.expr);
  if (q.instant) {
    form += "&time=" + format_timestamp(q.start);
  } else {
    form += "&start=" + format_timestamp(q.start) + "&end=" + format_timestamp(q.end) +
            "&step=" + format_timestamp(q.step);
  }
  if (q.resolution) form += "&max_source_resolution=" + resolution_param(*q.resolution);
  const std::string path = q.instant ? "/api/v1/query" : "/api/v1/query_range";
  std::vector<std::string> errors;
  auto each = gather_each<promql::Matrix>(
      [&](http::HttpClient& c, const std::string& base) {
        return c.post(
            base + path, form,
            {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Strata-Fanout", "1"}});
      },
      decode_query_result, errors);
  // One whole group's answers: each series once. Otherwise the raw path.
  const auto& peers = options_.peers;
  std::vector<bool> answered(peers.size());
  for (std::size_t i = 0; i < peers.size(); ++i) answered[i] = each[i].has_value();
  const std::string* group = first_complete_group(peers, answered);
  if (group == nullptr) return std::nullopt;
  std::vector<promql::Matrix> parts;
  for (std::size_t i = 0; i < peers.size(); ++i)
    if (peers[i].group == *group) parts.push_back(std::move(*each[i]));
  pushdowns_.fetch_add(1);
  return parts;
}

}  // namespace strata::tsdb

#include "tsdb/remote_read.h"

#include <algorithm>

#include <fmt/format.h>
#include <google/protobuf/arena.h>

#include "common/snappy_codec.h"
#include "remote.pb.h"

namespace strata::tsdb {
namespace {

prometheus::LabelMatcher::Type to_proto(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual:
      return prometheus::LabelMatcher::EQ;
    case MatchOp::kNotEqual:
      return prometheus::LabelMatcher::NEQ;
    case MatchOp::kRegexMatch:
      return prometheus::LabelMatcher::RE;
    case MatchOp::kRegexNoMatch:
      return prometheus::LabelMatcher::NRE;
  }
  return prometheus::LabelMatcher::EQ;
}

MatchOp from_proto(int type) {
  switch (type) {
    case prometheus::LabelMatcher::EQ:
      return MatchOp::kEqual;
    case prometheus::LabelMatcher::NEQ:
      return MatchOp::kNotEqual;
    case prometheus::LabelMatcher::RE:
      return MatchOp::kRegexMatch;
    case prometheus::LabelMatcher::NRE:
      return MatchOp::kRegexNoMatch;
  }
  throw RemoteReadError(fmt::format("unknown label matcher type {}", type));
}

std::string uncompress(std::string_view body, std::size_t max_bytes, std::string_view limit) {
  try {
    return snappy_codec::uncompress(body, max_bytes, limit);
  } catch (const snappy_codec::SnappyError& e) {
    throw RemoteReadError(e.what());
  }
}

template <class Message>
void parse(Message& m, std::string_view bytes, std::string_view what) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw RemoteReadError(fmt::format("the body is not a valid protobuf {}", what));
}

std::string serialize_compressed(const google::protobuf::MessageLite& m) {
  std::string raw;
  m.SerializeToString(&raw);
  return snappy_codec::compress(raw);
}

}  // namespace

std::string encode_read_request(const std::vector<ReadQuery>& queries) {
  prometheus::ReadRequest req;
  req.add_accepted_response_types(prometheus::ReadRequest::SAMPLES);
  for (const auto& q : queries) {
    auto* pq = req.add_queries();
    pq->set_start_timestamp_ms(q.start_ms);
    pq->set_end_timestamp_ms(q.end_ms);
    for (const auto& m : q.matchers) {
      auto* pm = pq->add_matchers();
      pm->set_type(to_proto(m.op()));
      pm->set_name(m.name());
      pm->set_value(m.value());
    }
    auto* h = pq->mutable_hints();
    h->set_step_ms(q.hints.step_ms);
    h->set_func(q.hints.func);
    h->set_start_ms(q.start_ms);
    h->set_end_ms(q.end_ms);
    if (q.hints.resolution) h->set_strata_resolution_ms(*q.hints.resolution);
  }
  return serialize_compressed(req);
}

std::vector<ReadQuery> decode_read_request(std::string_view body, std::size_t max_decoded_bytes) {
  const std::string raw = uncompress(body, max_decoded_bytes, "tsdb.remote_read.max_request_bytes");
  prometheus::ReadRequest req;
  parse(req, raw, "prometheus.ReadRequest");
  if (req.accepted_response_types_size() > 0) {
    bool samples = false;
    for (int t : req.accepted_response_types())
      samples = samples || t == prometheus::ReadRequest::SAMPLES;
    if (!samples)
      throw RemoteReadError(
          "none of the accepted response types is served: Strata answers remote read with "
          "SAMPLES only (STREAMED_XOR_CHUNKS is not implemented)");
  }
  std::vector<ReadQuery> out;
  out.reserve(static_cast<std::size_t>(req.queries_size()));
  for (int i = 0; i < req.queries_size(); ++i) {
    const auto& pq = req.queries(i);
    ReadQuery q;
    q.start_ms = pq.start_timestamp_ms();
    q.end_ms = pq.end_timestamp_ms();
    if (q.end_ms < q.start_ms)
      throw RemoteReadError(
          fmt::format("queries[{}]: end {} is before start {}", i, q.end_ms, q.start_ms));
    for (const auto& pm : pq.matchers()) {
      try {
        q.matchers.emplace_back(from_proto(pm.type()), pm.name(), pm.value());
      } catch (const std::invalid_argument& e) {
        throw RemoteReadError(fmt::format("queries[{}]: matcher {}: {}", i, pm.name(), e.what()));
      }
    }
    if (q.matchers.empty())
      throw RemoteReadError(
          fmt::format("queries[{}]: no matchers: a query must select by at "
                      "least one label matcher",
                      i));
    if (pq.has_hints()) {
      q.hints.step_ms = pq.hints().step_ms();
      q.hints.func = pq.hints().func();
      if (pq.hints().has_strata_resolution_ms()) {
        const std::int64_t r = pq.hints().strata_resolution_ms();
        if (r != 0 && r != kRes5m && r != kRes1h)
          throw RemoteReadError(fmt::format(
              "queries[{}]: strata_resolution_ms {} is not 0, 300000 or 3600000", i, r));
        q.hints.resolution = r;
      }
    }
    out.push_back(std::move(q));
  }
  return out;
}

std::string encode_read_response(const std::vector<std::vector<wire::Series>>& results) {
  // Millions of small messages that die together: one arena instead of a
  // malloc/free per sample.
  std::size_t samples = 0;
  for (const auto& series : results)
    for (const auto& s : series) samples += s.samples.size();
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = std::clamp<std::size_t>(samples * 24, 4096, 64 << 20);
  arena_options.max_block_size = std::max<std::size_t>(arena_options.start_block_size, 8 << 20);
  google::protobuf::Arena arena(arena_options);
  auto& resp = *google::protobuf::Arena::CreateMessage<prometheus::ReadResponse>(&arena);
  for (const auto& series : results) {
    auto* qr = resp.add_results();
    for (const auto& s : series) {
      auto* ts = qr->add_timeseries();
      for (const auto& [n, v] : s.labels.items()) {
        auto* l = ts->add_labels();
        l->set_name(n);
        l->set_value(v);
      }
      ts->mutable_samples()->Reserve(static_cast<int>(s.samples.size()));
      for (const auto& smp : s.samples) {
        auto* p = ts->add_samples();
        p->set_timestamp(smp.timestamp_ms);
        p->set_value(smp.value);
      }
    }
  }
  return serialize_compressed(resp);
}

std::vector<std::vector<wire::Series>> decode_read_response(std::string_view body,
                                                            std::size_t max_decoded_bytes) {
  const std::string raw = uncompress(body, max_decoded_bytes, "the reader's response limit");
  // Thousands of small messages that die together: one arena.
  google::protobuf::Arena arena;
  auto& resp = *google::protobuf::Arena::CreateMessage<prometheus::ReadResponse>(&arena);
  parse(resp, raw, "prometheus.ReadResponse");
  std::vector<std::vector<wire::Series>> out(static_cast<std::size_t>(resp.results_size()));
  for (int i = 0; i < resp.results_size(); ++i) {
    const auto& qr = resp.results(i);
    auto& series = out[static_cast<std::size_t>(i)];
    series.reserve(static_cast<std::size_t>(qr.timeseries_size()));
    for (const auto& ts : qr.timeseries()) {
      std::vector<Label> labels;
      labels.reserve(static_cast<std::size_t>(ts.labels_size()));
      for (const auto& l : ts.labels()) labels.emplace_back(l.name(), l.value());
      wire::Series s;
      try {
        s.labels = Labels(std::move(labels));
      } catch (const std::invalid_argument& e) {
        throw RemoteReadError(fmt::format("results[{}]: bad labels: {}", i, e.what()));
      }
      s.samples.reserve(static_cast<std::size_t>(ts.samples_size()));
      for (const auto& p : ts.samples()) s.samples.push_back({p.timestamp(), p.value()});
      series.push_back(std::move(s));
    }
  }
  return out;
}

RemoteReadApi::RemoteReadApi(const promql::Queryable& store, RemoteReadOptions options,
                             metrics::Registry& registry)
    : store_(store),
      options_(options),
      requests_(registry.counter("strata_tsdb_remote_read_requests_total",
                                 "Remote-read requests received (POST /api/v1/read).")),
      bad_requests_(registry.counter("strata_tsdb_remote_read_bad_requests_total",
                                     "Remote-read requests refused with 400.")),
      samples_sent_(registry.counter("strata_tsdb_remote_read_samples_total",
                                     "Samples returned by remote read.")) {}

void RemoteReadApi::register_routes(http::HttpServer& server) {
  server.add_route("POST", "/api/v1/read", [this](const http::Request& r) { return read(r); });
}

http::Response RemoteReadApi::read(const http::Request& req) const {
  requests_.inc();
  try {
    const auto queries = decode_read_request(req.body, options_.max_request_bytes);
    std::vector<std::vector<wire::Series>> results;
    results.reserve(queries.size());
    std::size_t samples = 0;
    for (const auto& q : queries) {
      auto& out = results.emplace_back();
      for (const auto& s : store_.select(q.matchers, q.start_ms, q.end_ms, q.hints)) {
        auto data = s.samples();
        if (data.empty()) continue;
        samples += data.size();
        if (samples > options_.max_samples)
          throw RemoteReadError(fmt::format(
              "the response would hold more than {} samples (tsdb.remote_read.max_samples): "
              "narrow the matchers or the time range",
              options_.max_samples));
        out.push_back({s.labels, std::move(data)});
      }
    }
    samples_sent_.inc(static_cast<double>(samples));
    http::Response resp;
    resp.status = 200;
    resp.content_type = "application/x-protobuf";
    resp.headers.emplace_back("Content-Encoding", "snappy");
    resp.body = encode_read_response(results);
    return resp;
  } catch (const RemoteReadError& e) {
    bad_requests_.inc();
    return http::Response::text(400, std::string("remote read: ") + e.what() + "\n");
  }
}

}  // namespace strata::tsdb

#include "logindex/loki_api.h"

#include <set>
#include <string>
#include <tuple>

#include "common/api_error.h"
#include "logindex/api_answer.h"
#include "logindex/loki_api_format.h"
#include "logindex/memory_index.h"
#include "logindex/segment.h"

namespace strata::logindex {
namespace {

// The label dictionary walk of /labels and /label/<name>/values.
constexpr std::size_t kMaxLabelTerms = 1'000'000;

// Does the part hold lines in [start, end)?
bool overlaps(const SearchPart& p, std::int64_t start, std::int64_t end) {
  std::int64_t lo, hi;
  if (p.head) {
    std::tie(lo, hi) = p.head->time_range();
  } else {
    lo = p.segment->summary().min_ts;
    hi = p.segment->summary().max_ts;
  }
  return lo <= hi && lo < end && hi >= start;
}

std::vector<std::string> label_terms(const SearchPart& p, std::string_view prefix) {
  return p.head ? p.head->terms_with_prefix(TermKind::kLabel, prefix, kMaxLabelTerms)
                : p.segment->terms_with_prefix(TermKind::kLabel, prefix, kMaxLabelTerms);
}

// The stream selector of a query (of its first range function when it is a
// metric query), for index stats.
const StreamSelector* first_selector(const logql::MetricExpr& e) {
  if (e.kind == logql::MetricExpr::Kind::kRange) return &e.log.selector;
  for (const auto* c : {e.lhs.get(), e.rhs.get()})
    if (c)
      if (const auto* s = first_selector(*c)) return s;
  return nullptr;
}

}  // namespace

LokiApi::LokiApi(const Searcher& index, LokiApiOptions options, metrics::Registry& registry)
    : index_(index),
      options_(std::move(options)),
      queries_(registry.counter("strata_logindex_loki_requests_total",
                                "Requests to the Loki-compatible API (/loki/api/v1/...).")),
      bad_requests_(registry.counter("strata_logindex_loki_bad_requests_total",
                                     "Loki API requests rejected with 400 bad_data.")),
      duration_(registry.histogram("strata_logindex_loki_request_duration_seconds",
                                   "Time to answer a valid Loki API request.")) {
  if (!options_.now_ns)
    options_.now_ns = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
}

void LokiApi::register_routes(const std::shared_ptr<LokiApi>& api, http::HttpServer& server) {
  auto bind = [&api](http::Response (LokiApi::*fn)(const http::Request&) const) {
    return [api, fn](const http::Request& r) { return ((*api).*fn)(r); };
  };
  add_loki_routes(server, {bind(&LokiApi::query_range), bind(&LokiApi::query),
                           bind(&LokiApi::labels), bind(&LokiApi::label_values_route),
                           bind(&LokiApi::series), bind(&LokiApi::index_stats)});
}

http::Response LokiApi::query_range(const http::Request& req) const {
  return json_answer(req, queries_, bad_requests_, duration_, [&] {
    return answer(
        query_range_request(req, options_.now_ns(), options_.default_limit, options_.max_limit));
  });
}

http::Response LokiApi::query(const http::Request& req) const {
  return json_answer(req, queries_, bad_requests_, duration_, [&] {
    return answer(
        instant_query_request(req, options_.now_ns(), options_.default_limit, options_.max_limit));
  });
}

std::string LokiApi::answer(const LokiQueryRequest& q) const {
  if (q.query.is_metric())
    return query_json(
        q, logql::evaluate_metric(index_.parts(), *q.query.metric, q.metric, options_.limits));
  return streams_json(logql::evaluate_log(index_.parts(), *q.query.log, q.log, options_.limits));
}

http::Response LokiApi::labels(const http::Request& req) const {
  return json_answer(req, queries_, bad_requests_, duration_, [&] {
    auto [start, end] = meta_range(req, options_.now_ns());
    std::set<std::string> names;
    for (const auto& p : index_.parts()) {
      if (!overlaps(p, start, end)) continue;
      for (const auto& t : label_terms(p, "")) names.insert(t.substr(0, t.find('=')));
    }
    return strings_json(names);
  });
}

http::Response LokiApi::label_values(const http::Request& req, const std::string& name) const {
  return json_answer(req, queries_, bad_requests_, duration_, [&] {
    check_label_name(name);
    auto [start, end] = meta_range(req, options_.now_ns());
    std::set<std::string> values;
    const std::string prefix = name + "=";
    for (const auto& p : index_.parts()) {
      if (!overlaps(p, start, end)) continue;
      for (const auto& t : label_terms(p, prefix)) values.insert(t.substr(prefix.size()));
    }
    return strings_json(values);
  });
}

http::Response LokiApi::label_values_route(const http::Request& req) const {
  auto name = label_name_from_path(req.path);
  if (!name)
    return http::Response::json(
        404, http::api_error_json("not_found",
                                  "expected /loki/api/v1/label/<name>/values, got " + req.path));
  return label_values(req, *name);
}

http::Response LokiApi::series(const http::Request& req) const {
  return json_answer(req, queries_, bad_requests_, duration_, [&] {
    auto [start, end] = meta_range(req, options_.now_ns());
    std::vector<StreamSelector> selectors = series_selectors(req);
    std::set<Labels> found;
    const auto parts = index_.parts();
    for (const auto& p : parts) {
      if (!overlaps(p, start, end)) continue;
      if (p.segment) {
        // A segment's stream table is enough: Loki answers series at chunk
        // granularity too.
        for (const auto& s : p.segment->streams())
          for (const auto& sel : selectors)
            if (sel.matches(s)) found.insert(s);
        continue;
      }
      logql::EvalStats stats;
      for (const auto& sel : selectors)
        logql::scan_selector({p}, sel, start, end, options_.limits, stats,
                             [&](const logql::SelectedEntry& e) { found.insert(e.stream); });
    }
    return series_json(found);
  });
}

http::Response LokiApi::index_stats(const http::Request& req) const {
  return json_answer(req, queries_, bad_requests_, duration_, [&] {
    logql::Query q = query_param(req);
    auto [start, end] = meta_range(req, options_.now_ns());
    const StreamSelector* sel = q.is_metric() ? first_selector(*q.metric) : &q.log->selector;
    std::set<Labels> streams;
    std::set<std::size_t> chunks;
    std::uint64_t entries = 0, bytes = 0;
    if (sel) {
      logql::EvalStats stats;
      logql::scan_selector(index_.parts(), *sel, start, end, options_.limits, stats,
                           [&](const logql::SelectedEntry& e) {
                             streams.insert(e.stream);  // copies only a new one
                             chunks.insert(e.part);
                             ++entries;
                             bytes += e.line.size();
                           });
    }
    return index_stats_json(streams.size(), chunks.size(), entries, bytes);
  });
}

}  // namespace strata::logindex

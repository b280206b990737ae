#include "logindex/fanout.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "common/api_error.h"
#include "common/logging.h"
#include "logindex/api_answer.h"
#include "logindex/query_options.h"

namespace strata::logindex {
namespace {

namespace sj = simdjson::ondemand;
using Params = std::vector<std::pair<std::string, std::string>>;

// ---- reading the shards' JSON (the formats loki_api_format.h and
// search_api_format.h write) ----

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == ','))
    s.remove_suffix(1);
  return s;
}

Labels read_labels(sj::object obj) {
  std::vector<Label> out;
  for (auto field : obj) {
    std::string key(std::string_view(field.unescaped_key()));
    std::string value(std::string_view(field.value().get_string()));
    out.emplace_back(std::move(key), std::move(value));
  }
  return Labels(std::move(out));
}

std::int64_t read_int(std::string_view s, std::string_view what) {
  s = trimmed(s);
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size())
    throw std::invalid_argument("expected an integer " + std::string(what) + ", got \"" +
                                std::string(s) + "\"");
  return n;
}

// A count: a value, or a simdjson_result<value> (errors throw).
template <typename V>
std::uint64_t read_count(V&& v) {
  std::uint64_t n = v.get_uint64();
  return n;
}

// A sample time as format_seconds() writes it ("1700000001.5"), read back
// to the nanosecond: a double would lose the last digits.
std::int64_t read_seconds(std::string_view token) {
  token = trimmed(token);
  const auto dot = token.find('.');
  std::int64_t ns = read_int(token.substr(0, dot), "sample time") * kLokiSecond;
  if (dot == std::string_view::npos) return ns;
  std::string digits(token.substr(dot + 1));
  if (digits.empty() || digits.size() > 9)
    throw std::invalid_argument("bad sample time \"" + std::string(token) + "\"");
  digits.append(9 - digits.size(), '0');
  const std::int64_t frac = read_int(digits, "sample time fraction");
  return token.front() == '-' ? ns - frac : ns + frac;
}

// A sample value as format_value() writes it; the shortest round-trip
// spelling, so the double is exactly the shard's.
double read_value(std::string_view s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    throw std::invalid_argument("bad sample value \"" + std::string(s) + "\"");
  return v;
}

// stats.summary of a Loki answer: lines and bytes the shard read.
void read_summary(sj::object stats, logql::EvalStats& out) {
  for (auto field : stats) {
    if (std::string_view(field.unescaped_key()) != "summary") continue;
    for (auto f : field.value().get_object()) {
      std::string_view k = f.unescaped_key();
      if (k == "totalLinesProcessed") out.entries_scanned += read_count(f.value());
      if (k == "totalBytesProcessed") out.bytes_scanned += read_count(f.value());
    }
  }
}

// One entry of a search hit or a log stream, with where it came from.
struct Entry {
  Labels labels;
  std::int64_t ts = 0;
  std::string line;
  std::size_t shard = 0;
  std::size_t order = 0;  // position in its shard's answer
};

// Sorts newest (or oldest) first -- ties by shard, then by the shard's own
// order -- keeps an entry identical (labels, ts, line) to an earlier one
// once, and cuts at `limit`. Identical entries share their timestamp, so
// only a run of equal times is checked.
void merge_entries(std::vector<Entry>& entries, bool newest_first, std::size_t limit) {
  std::sort(entries.begin(), entries.end(), [newest_first](const Entry& a, const Entry& b) {
    if (a.ts != b.ts) return newest_first ? a.ts > b.ts : a.ts < b.ts;
    return std::tie(a.shard, a.order) < std::tie(b.shard, b.order);
  });
  std::vector<Entry> kept;
  kept.reserve(std::min(limit, entries.size()));
  // Indexes into `kept` of the entries at the current time.
  auto same = [&kept](std::size_t a, std::size_t b) {
    return std::tie(kept[a].labels, kept[a].line) < std::tie(kept[b].labels, kept[b].line);
  };
  std::set<std::size_t, decltype(same)> run(same);
  for (auto& e : entries) {
    if (kept.size() == limit) break;
    if (!kept.empty() && e.ts != kept.back().ts) run.clear();
    kept.push_back(std::move(e));
    if (!run.insert(kept.size() - 1).second) kept.pop_back();  // a copy
  }
  entries = std::move(kept);
}

std::string with_warnings(std::string body, const std::vector<std::string>& warnings) {
  // Every answer is a JSON object: add the key before its closing brace.
  body.pop_back();
  body += R"(,"warnings":[)";
  for (std::size_t k = 0; k < warnings.size(); ++k) {
    if (k) body += ',';
    logging::append_json_string(body, warnings[k]);
  }
  body += "]}";
  return body;
}

// A time as a shard's time_param() reads it back exactly: nanoseconds when
// the integer has more than 10 digits (it would be read as seconds
// otherwise), else seconds with a fraction (exact to the millisecond: only
// times within 10 s of 1970 are affected).
std::string peer_time(std::int64_t ns) {
  if (ns >= 10'000'000'000 || ns <= -10'000'000'000) return std::to_string(ns);
  std::string s = format_seconds(ns);
  return s.find('.') == std::string::npos ? s + ".0" : s;
}

Params all_params(const http::Request& req) {
  Params out;
  for (const auto& [k, v] : req.params)
    if (k != kDetectLevelParam) out.emplace_back(k, v);
  return out;
}

}  // namespace

struct LogFanout::Gathered {
  std::vector<std::string> warnings;
};

namespace {

// Asks the shards and parses each answer with `read(shard, document)`; a
// shard whose answer does not read is a failed shard (a warning). No
// readable answer at all: 503.
template <typename Read>
void gather(const PeerClient& peers, const PeerRequest& request, std::vector<std::string>& warnings,
            Read&& read) {
  FanoutReply reply = peers.fetch(request);
  warnings.insert(warnings.end(), reply.warnings.begin(), reply.warnings.end());
  std::size_t readable = 0;
  std::string reasons;
  for (const auto& a : reply.answers) {
    try {
      thread_local sj::parser parser;
      simdjson::padded_string json(a.body);
      sj::document doc = parser.iterate(json);
      read(a.shard, doc);
      ++readable;
    } catch (const std::exception& e) {
      std::string w = "shard " + peers.peers()[a.shard].name + ": unreadable answer to " +
                      request.path + ": " + e.what();
      if (!reasons.empty()) reasons += "; ";
      reasons += w;
      warnings.push_back(std::move(w));
    }
  }
  if (readable == 0 && !reply.answers.empty())
    throw ApiFailure(http::Response::json(
        503, http::api_error_json("unavailable", "no shard gave a readable answer: " + reasons)));
}

// The entries of a search answer.
void read_search(sj::document& doc, std::size_t shard, std::vector<Entry>& entries,
                 std::map<std::int64_t, std::uint64_t>& histogram, std::size_t& matched) {
  std::vector<Entry> mine;
  std::vector<std::pair<std::int64_t, std::uint64_t>> buckets;
  std::size_t found = 0;
  for (auto field : doc["data"].get_object()) {
    std::string_view key = field.unescaped_key();
    if (key == "result") {
      for (auto hit : field.value().get_array()) {
        Entry e;
        e.shard = shard;
        e.order = mine.size();
        for (auto f : hit.get_object()) {
          std::string_view k = f.unescaped_key();
          if (k == "stream")
            e.labels = read_labels(f.value().get_object());
          else if (k == "ts")
            e.ts = read_int(std::string_view(f.value().get_string()), "ts");
          else if (k == "line")
            e.line = std::string(std::string_view(f.value().get_string()));
        }
        mine.push_back(std::move(e));
      }
    } else if (key == "histogram") {
      for (auto bucket : field.value().get_array()) {
        std::int64_t start = 0;
        std::uint64_t count = 0;
        std::size_t k = 0;
        for (auto v : bucket.get_array()) {
          if (k == 0) start = read_int(std::string_view(v.get_string()), "bucket start");
          if (k == 1) count = read_count(v);
          ++k;
        }
        buckets.emplace_back(start, count);
      }
    } else if (key == "stats") {
      for (auto f : field.value().get_object())
        if (std::string_view(f.unescaped_key()) == "matched") found = read_count(f.value());
    }
  }
  std::move(mine.begin(), mine.end(), std::back_inserter(entries));
  for (const auto& [start, count] : buckets) histogram[start] += count;
  matched += found;
}

}  // namespace

LogFanoutOptions fanout_options(const config::Config& cfg) {
  LogFanoutOptions o;
  o.peers = parse_peers(cfg.list("logindex.query.peers"), "logindex.query.peers");
  o.peer_timeout = cfg.positive_duration("logindex.query.peer_timeout");
  o.search = search_options(cfg);
  return o;
}

LogFanout::LogFanout(LogFanoutOptions options, metrics::Registry& registry)
    : options_(std::move(options)),
      peers_(options_.peers, options_.peer_timeout, registry),
      requests_(registry.counter("strata_logindex_fanout_requests_total",
                                 "Log API requests answered by fanning out to the shards.")),
      bad_requests_(registry.counter("strata_logindex_fanout_bad_requests_total",
                                     "Fan-out requests answered 400 (here or by a shard).")),
      partial_(registry.counter("strata_logindex_fanout_partial_total",
                                "Fan-out answers missing at least one shard (200 with warnings).")),
      duration_(registry.histogram("strata_logindex_fanout_duration_seconds",
                                   "Time to answer a fan-out request.")) {
  if (!options_.now_ns)
    options_.now_ns = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
}

void LogFanout::register_routes(const std::shared_ptr<LogFanout>& fanout, http::HttpServer& server,
                                LocalApis local) {
  using Method = http::Response (LogFanout::*)(const http::Request&) const;
  // A request from a peer's fan-out goes to the local store, never out again.
  auto route = [&fanout](Method fn, http::Handler local_fn) -> http::Handler {
    return [fanout, fn, local_fn](const http::Request& r) {
      if (r.header(http::kFanoutHeader)) {
        if (local_fn) return local_fn(r);
        return http::Response::json(
            508, http::api_error_json(
                     "loop_detected",
                     "this node has no local log store to answer a fan-out request (header "
                     "X-Strata-Fanout); list strata-logindex store nodes in "
                     "logindex.query.peers"));
      }
      return ((*fanout).*fn)(r);
    };
  };
  auto loki = [&local](http::Response (LokiApi::*fn)(const http::Request&) const) {
    http::Handler h;
    if (local.loki) h = [api = local.loki, fn](const http::Request& r) { return ((*api).*fn)(r); };
    return h;
  };
  http::Handler search_local;
  if (local.search)
    search_local = [api = local.search](const http::Request& r) { return api->search(r); };
  add_search_routes(server, route(&LogFanout::search, search_local));
  add_loki_routes(server,
                  {route(&LogFanout::query_range, loki(&LokiApi::query_range)),
                   route(&LogFanout::query, loki(&LokiApi::query)),
                   route(&LogFanout::labels, loki(&LokiApi::labels)),
                   route(&LogFanout::label_values_route, loki(&LokiApi::label_values_route)),
                   route(&LogFanout::series, loki(&LokiApi::series)),
                   route(&LogFanout::index_stats, loki(&LokiApi::index_stats))});
}

template <typename Fn>
http::Response LogFanout::answer(const http::Request& req, Fn&& fn) const {
  return json_answer(req, requests_, bad_requests_, duration_, [&] {
    Gathered g;
    std::string body = fn(g);
    if (g.warnings.empty()) return body;
    partial_.inc();
    return with_warnings(std::move(body), g.warnings);
  });
}

http::Response LogFanout::search(const http::Request& req) const {
  return answer(req, [&](Gathered& g) {
    // Validated here: a bad search never reaches the shards.
    const LogSearch q = search_request(req, options_.search);
    std::vector<Entry> entries;
    std::map<std::int64_t, std::uint64_t> histogram;
    std::size_t matched = 0;
    gather(peers_, {"/api/v1/logs/search", all_params(req)}, g.warnings,
           [&](std::size_t shard, sj::document& doc) {
             read_search(doc, shard, entries, histogram, matched);
           });
    merge_entries(entries, true, q.limit);
    LogSearchResult found;
    for (auto& e : entries)
      found.result.hits.push_back(SearchHit{std::move(e.labels), e.ts, std::move(e.line)});
    found.result.matched = matched;
    found.histogram.assign(histogram.begin(), histogram.end());
    return search_json(found, q.step_ns > 0);
  });
}

http::Response LogFanout::query_range(const http::Request& req) const {
  return answer(req, [&](Gathered& g) {
    return loki_answer(req,
                       query_range_request(req, options_.now_ns(), options_.search.default_limit,
                                           options_.search.max_limit),
                       g);
  });
}

http::Response LogFanout::query(const http::Request& req) const {
  return answer(req, [&](Gathered& g) {
    return loki_answer(req,
                       instant_query_request(req, options_.now_ns(), options_.search.default_limit,
                                             options_.search.max_limit),
                       g);
  });
}

std::string LogFanout::loki_answer(const http::Request& req, const LokiQueryRequest& q,
                                   Gathered& g) const {
  const std::string text = *req.param("query");  // query_param() parsed it
  if (q.query.is_metric()) {
    logql::MetricResult r = logql::evaluate_metric(
        *q.query.metric, q.metric,
        [&](const logql::MetricExpr& range, bool detect_level, logql::EvalStats& stats) {
          return range_series(text, range, q.metric, detect_level, stats, g);
        });
    return query_json(q, r);
  }
  // A log query: each shard answers the same [start, end) with the global
  // limit; the newest (oldest) `limit` of the union are among those.
  const bool backward = q.log.direction == logql::Direction::kBackward;
  Params params = {{"query", text},
                   {"start", peer_time(q.log.start_ns)},
                   {"end", peer_time(q.log.end_ns)},
                   {"limit", std::to_string(q.log.limit)},
                   {"direction", backward ? "backward" : "forward"}};
  std::vector<Entry> entries;
  logql::LogResult result;
  gather(peers_, {"/loki/api/v1/query_range", std::move(params)}, g.warnings,
         [&](std::size_t shard, sj::document& doc) {
           std::vector<Entry> mine;
           logql::EvalStats stats;
           for (auto field : doc["data"].get_object()) {
             std::string_view key = field.unescaped_key();
             if (key == "stats") read_summary(field.value().get_object(), stats);
             if (key != "result") continue;
             for (auto stream : field.value().get_array()) {
               Labels labels;
               std::vector<std::pair<std::int64_t, std::string>> values;
               for (auto f : stream.get_object()) {
                 std::string_view k = f.unescaped_key();
                 if (k == "stream") labels = read_labels(f.value().get_object());
                 if (k != "values") continue;
                 for (auto pair : f.value().get_array()) {
                   std::pair<std::int64_t, std::string> v;
                   std::size_t n = 0;
                   for (auto x : pair.get_array()) {
                     std::string_view s = x.get_string();
                     if (n == 0) v.first = read_int(s, "entry time");
                     if (n == 1) v.second = std::string(s);
                     ++n;
                   }
                   values.push_back(std::move(v));
                 }
               }
               for (auto& [ts, line] : values)
                 mine.push_back(Entry{labels, ts, std::move(line), shard, mine.size()});
             }
           }
           std::move(mine.begin(), mine.end(), std::back_inserter(entries));
           result.stats.entries_scanned += stats.entries_scanned;
           result.stats.bytes_scanned += stats.bytes_scanned;
         });
  merge_entries(entries, backward, q.log.limit);
  std::map<Labels, std::size_t> index;
  for (auto& e : entries) {
    auto [it, added] = index.try_emplace(e.labels, result.streams.size());
    if (added) result.streams.push_back(logql::StreamEntries{e.labels, {}});
    result.streams[it->second].entries.emplace_back(e.ts, std::move(e.line));
  }
  std::sort(result.streams.begin(), result.streams.end(),
            [](const auto& a, const auto& b) { return a.labels < b.labels; });
  return streams_json(result);
}

std::vector<logql::Series> LogFanout::range_series(const std::string& text,
                                                   const logql::MetricExpr& range,
                                                   const logql::MetricRequest& request,
                                                   bool detect_level, logql::EvalStats& stats,
                                                   Gathered& g) const {
  // The range function's own text, evaluated by each shard at the same
  // steps: count_over_time({job="x"} |= "y" [5m]).
  Params params = {{"query", text.substr(range.position, range.end_position - range.position)},
                   {"start", peer_time(request.start_ns)},
                   {"end", peer_time(request.end_ns)},
                   {"step", format_seconds(request.step_ns)}};
  if (detect_level) params.emplace_back(kDetectLevelParam, "1");
  std::map<Labels, logql::Series> series;
  gather(peers_, {"/loki/api/v1/query_range", std::move(params)}, g.warnings,
         [&](std::size_t, sj::document& doc) {
           std::vector<logql::Series> mine;
           logql::EvalStats read;
           for (auto field : doc["data"].get_object()) {
             std::string_view key = field.unescaped_key();
             if (key == "stats") read_summary(field.value().get_object(), read);
             if (key != "result") continue;
             for (auto s : field.value().get_array()) {
               logql::Series one;
               for (auto f : s.get_object()) {
                 std::string_view k = f.unescaped_key();
                 if (k == "metric") one.labels = read_labels(f.value().get_object());
                 if (k != "values") continue;
                 for (auto pair : f.value().get_array()) {
                   std::pair<std::int64_t, double> p;
                   std::size_t n = 0;
                   for (auto x : pair.get_array()) {
                     if (n == 0) p.first = read_seconds(x.raw_json_token());
                     if (n == 1) p.second = read_value(x.get_string());
                     ++n;
                   }
                   one.points.push_back(p);
                 }
               }
               mine.push_back(std::move(one));
             }
           }
           // A label set a previous shard sent is a copy (a replica's, or a
           // stream both shards held across a rebalance): keep the first.
           for (auto& s : mine) series.try_emplace(s.labels, std::move(s));
           stats.entries_scanned += read.entries_scanned;
           stats.bytes_scanned += read.bytes_scanned;
         });
  // The store's limits, over what the shards sent together.
  logql::check_series_limit(series.size(), options_.limits);
  logql::check_scan_limit(stats.entries_scanned, options_.limits);
  std::vector<logql::Series> out;
  out.reserve(series.size());
  for (auto& [labels, s] : series) out.push_back(std::move(s));
  return out;
}

http::Response LogFanout::labels(const http::Request& req) const {
  return answer(req, [&](Gathered& g) {
    auto [start, end] = meta_range(req, options_.now_ns());
    std::set<std::string> names;
    gather(peers_,
           {"/loki/api/v1/labels", {{"start", peer_time(start)}, {"end", peer_time(end - 1)}}},
           g.warnings, [&](std::size_t, sj::document& doc) {
             std::vector<std::string> mine;
             for (auto v : doc["data"].get_array())
               mine.emplace_back(std::string_view(v.get_string()));
             names.insert(mine.begin(), mine.end());
           });
    return strings_json(names);
  });
}

http::Response LogFanout::label_values_route(const http::Request& req) const {
  auto name = label_name_from_path(req.path);
  if (!name)
    return http::Response::json(
        404, http::api_error_json("not_found",
                                  "expected /loki/api/v1/label/<name>/values, got " + req.path));
  return answer(req, [&](Gathered& g) {
    check_label_name(*name);
    auto [start, end] = meta_range(req, options_.now_ns());
    std::set<std::string> values;
    gather(peers_,
           {"/loki/api/v1/label/" + *name + "/values",
            {{"start", peer_time(start)}, {"end", peer_time(end - 1)}}},
           g.warnings, [&](std::size_t, sj::document& doc) {
             std::vector<std::string> mine;
             for (auto v : doc["data"].get_array())
               mine.emplace_back(std::string_view(v.get_string()));
             values.insert(mine.begin(), mine.end());
           });
    return strings_json(values);
  });
}

http::Response LogFanout::series(const http::Request& req) const {
  return answer(req, [&](Gathered& g) {
    auto [start, end] = meta_range(req, options_.now_ns());
    series_selectors(req);  // validated here: a bad selector never reaches the shards
    Params params = {{"start", peer_time(start)}, {"end", peer_time(end - 1)}};
    for (const char* key : {"match[]", "match"})
      for (auto& m : req.params_all(key)) params.emplace_back(key, std::move(m));
    std::set<Labels> found;
    gather(peers_, {"/loki/api/v1/series", std::move(params)}, g.warnings,
           [&](std::size_t, sj::document& doc) {
             std::vector<Labels> mine;
             for (auto v : doc["data"].get_array()) mine.push_back(read_labels(v.get_object()));
             found.insert(mine.begin(), mine.end());
           });
    return series_json(found);
  });
}

http::Response LogFanout::index_stats(const http::Request& req) const {
  return answer(req, [&](Gathered& g) {
    query_param(req);  // validated here
    auto [start, end] = meta_range(req, options_.now_ns());
    std::uint64_t totals[4] = {0, 0, 0, 0};  // streams, chunks, entries, bytes
    gather(peers_,
           {"/loki/api/v1/index/stats",
            {{"query", *req.param("query")},
             {"start", peer_time(start)},
             {"end", peer_time(end - 1)}}},
           g.warnings, [&](std::size_t, sj::document& doc) {
             std::uint64_t mine[4] = {0, 0, 0, 0};
             for (auto f : doc.get_object()) {
               std::string_view k = f.unescaped_key();
               const std::size_t i = k == "streams"   ? 0
                                     : k == "chunks"  ? 1
                                     : k == "entries" ? 2
                                     : k == "bytes"   ? 3
                                                      : 4;
               if (i < 4) mine[i] = read_count(f.value());
             }
             for (std::size_t i = 0; i < 4; ++i) totals[i] += mine[i];
           });
    return index_stats_json(totals[0], totals[1], totals[2], totals[3]);
  });
}

}  // namespace strata::logindex

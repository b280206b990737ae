#include "tsdb/memory_store.h"

#include <algorithm>
#include <bit>
#include <iterator>
#include <limits>
#include <mutex>
#include <stdexcept>

namespace strata::tsdb {

struct MemoryStore::Series {
  explicit Series(Labels l) : labels(std::move(l)) {}
  const Labels labels;
  mutable std::mutex mu;
  std::vector<wire::Sample> samples;  // sorted by timestamp_ms, unique timestamps
};

AppendResult& AppendResult::operator+=(const AppendResult& o) {
  if (conflicts == 0 && o.conflicts > 0) first_conflict_ms = o.first_conflict_ms;
  appended += o.appended;
  duplicates += o.duplicates;
  conflicts += o.conflicts;
  return *this;
}

MemoryStore::MemoryStore() = default;
MemoryStore::~MemoryStore() = default;

Labels MemoryStore::normalize(const Labels& labels) {
  bool has_empty = false;
  for (const auto& [n, v] : labels.items()) has_empty = has_empty || v.empty();
  if (!has_empty) return labels;
  std::vector<Label> kept;
  for (const auto& l : labels.items())
    if (!l.second.empty()) kept.push_back(l);
  return Labels(std::move(kept));
}

std::shared_ptr<MemoryStore::Series> MemoryStore::get_or_create(const Labels& labels) {
  const std::uint64_t fp = labels.fingerprint();
  {
    std::shared_lock lock(mu_);
    if (auto it = by_fingerprint_.find(fp); it != by_fingerprint_.end())
      for (SeriesId id : it->second)
        if (series_[id]->labels == labels) return series_[id];
  }
  std::unique_lock lock(mu_);
  auto& ids = by_fingerprint_[fp];
  // Re-check: another writer may have created it between the two locks.
  for (SeriesId id : ids)
    if (series_[id]->labels == labels) return series_[id];
  if (series_.size() >= std::numeric_limits<SeriesId>::max())
    throw std::length_error("tsdb memory store: too many series");
  auto id = static_cast<SeriesId>(series_.size());
  series_.push_back(std::make_shared<Series>(labels));
  ids.push_back(id);
  for (const auto& [n, v] : labels.items()) postings_[n][v].push_back(id);
  return series_.back();
}

AppendResult MemoryStore::append(const Labels& raw, std::span<const wire::Sample> samples) {
  Labels labels = normalize(raw);
  if (labels.empty())
    throw std::invalid_argument("series has no labels with a non-empty value: " + raw.to_string());
  AppendResult r;
  if (samples.empty()) return r;
  auto series = get_or_create(labels);
  std::lock_guard lock(series->mu);
  auto& v = series->samples;
  for (const auto& s : samples) {
    if (v.empty() || v.back().timestamp_ms < s.timestamp_ms) {
      v.push_back(s);  // the common, in-order case
      ++r.appended;
      continue;
    }
    auto it =
        std::lower_bound(v.begin(), v.end(), s.timestamp_ms,
                         [](const wire::Sample& a, std::int64_t t) { return a.timestamp_ms < t; });
    if (it != v.end() && it->timestamp_ms == s.timestamp_ms) {
      if (std::bit_cast<std::uint64_t>(it->value) == std::bit_cast<std::uint64_t>(s.value)) {
        ++r.duplicates;
      } else {
        if (r.conflicts == 0) r.first_conflict_ms = s.timestamp_ms;
        ++r.conflicts;
      }
      continue;
    }
    v.insert(it, s);
    ++r.appended;
  }
  samples_.fetch_add(r.appended, std::memory_order_relaxed);
  return r;
}

std::vector<std::shared_ptr<MemoryStore::Series>> MemoryStore::candidates(
    const std::vector<LabelMatcher>& matchers) const {
  std::shared_lock lock(mu_);
  // Narrow with the index: intersect the postings of the equality matchers;
  // failing those, use the values of the first matcher that rejects "" (a
  // series lacking its label cannot match it). Only then scan everything.
  std::vector<SeriesId> ids;
  bool narrowed = false;
  for (const auto& m : matchers) {
    if (m.op() != MatchOp::kEqual || m.matches_empty()) continue;
    auto name_it = postings_.find(m.name());
    if (name_it == postings_.end()) return {};
    auto value_it = name_it->second.find(m.value());
    if (value_it == name_it->second.end()) return {};
    const auto& list = value_it->second;
    if (!narrowed) {
      ids = list;
      narrowed = true;
    } else {
      std::vector<SeriesId> out;
      std::set_intersection(ids.begin(), ids.end(), list.begin(), list.end(),
                            std::back_inserter(out));
      ids.swap(out);
    }
    if (ids.empty()) return {};
  }
  if (!narrowed) {
    for (const auto& m : matchers) {
      if (m.matches_empty()) continue;
      auto name_it = postings_.find(m.name());
      if (name_it == postings_.end()) return {};
      for (const auto& [value, list] : name_it->second)
        if (m.matches(value)) ids.insert(ids.end(), list.begin(), list.end());
      std::sort(ids.begin(), ids.end());
      narrowed = true;
      break;
    }
  }
  std::vector<std::shared_ptr<Series>> out;
  if (!narrowed) {
    for (const auto& s : series_)
      if (matches_all(matchers, s->labels)) out.push_back(s);
    return out;
  }
  for (SeriesId id : ids)
    if (matches_all(matchers, series_[id]->labels)) out.push_back(series_[id]);
  return out;
}

std::vector<Labels> MemoryStore::select(const std::vector<LabelMatcher>& matchers,
                                        std::int64_t mint, std::int64_t maxt) const {
  std::vector<Labels> out;
  for (const auto& s : candidates(matchers)) {
    std::lock_guard lock(s->mu);
    auto it =
        std::lower_bound(s->samples.begin(), s->samples.end(), mint,
                         [](const wire::Sample& a, std::int64_t t) { return a.timestamp_ms < t; });
    if (it != s->samples.end() && it->timestamp_ms <= maxt) out.push_back(s->labels);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<InstantSample> MemoryStore::instant(const std::vector<LabelMatcher>& matchers,
                                                std::int64_t t_ms,
                                                std::chrono::milliseconds lookback) const {
  std::vector<InstantSample> out;
  // Left-open window (t - lookback, t], as in Prometheus 3.
  const std::int64_t lookback_ms = lookback.count();
  const std::int64_t oldest = t_ms < kMinTime + lookback_ms ? kMinTime : t_ms - lookback_ms;
  for (const auto& s : candidates(matchers)) {
    std::lock_guard lock(s->mu);
    auto it =
        std::upper_bound(s->samples.begin(), s->samples.end(), t_ms,
                         [](std::int64_t t, const wire::Sample& a) { return t < a.timestamp_ms; });
    if (it == s->samples.begin()) continue;
    --it;
    if (it->timestamp_ms <= oldest || wire::is_stale_nan(it->value)) continue;
    out.push_back({s->labels, it->timestamp_ms, it->value});
  }
  std::sort(out.begin(), out.end(),
            [](const InstantSample& a, const InstantSample& b) { return a.labels < b.labels; });
  return out;
}

std::vector<wire::Sample> MemoryStore::samples(const Labels& raw) const {
  Labels labels = normalize(raw);
  std::shared_ptr<Series> series;
  {
    std::shared_lock lock(mu_);
    auto it = by_fingerprint_.find(labels.fingerprint());
    if (it == by_fingerprint_.end()) return {};
    for (SeriesId id : it->second)
      if (series_[id]->labels == labels) series = series_[id];
  }
  if (!series) return {};
  std::lock_guard lock(series->mu);
  return series->samples;
}

std::vector<std::string> MemoryStore::label_names() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(postings_.size());
  for (const auto& [name, values] : postings_) out.push_back(name);
  return out;
}

std::vector<std::string> MemoryStore::label_values(std::string_view name) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  auto it = postings_.find(name);
  if (it == postings_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [value, ids] : it->second) out.push_back(value);
  return out;
}

std::size_t MemoryStore::series_count() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

std::uint64_t MemoryStore::sample_count() const { return samples_.load(std::memory_order_relaxed); }

}  // namespace strata::tsdb

#include "tsdb/head.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "tsdb/chunk_encoding.h"

namespace strata::tsdb {

namespace {

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

void atomic_min(std::atomic<std::int64_t>& a, std::int64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
void atomic_max(std::atomic<std::int64_t>& a, std::int64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

bool ts_less(const wire::Sample& a, std::int64_t t) { return a.timestamp_ms < t; }

}  // namespace

AppendResult& AppendResult::operator+=(const AppendResult& o) {
  if (conflicts == 0 && o.conflicts > 0) first_conflict_ms = o.first_conflict_ms;
  appended += o.appended;
  duplicates += o.duplicates;
  conflicts += o.conflicts;
  too_old += o.too_old;
  return *this;
}

struct Head::Series {
  SeriesRef ref = 0;
  std::uint64_t fingerprint = 0;
  // Interned views, sorted by name (the order of Labels).
  std::vector<std::pair<std::string_view, std::string_view>> labels;

  mutable std::mutex mu;
  struct Closed {
    std::int64_t mint, maxt;
    std::uint32_t samples;
    std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  };
  std::vector<Closed> closed;         // in append order; out-of-order chunks may overlap
  std::unique_ptr<XorAppender> open;  // null when no in-order chunk is open
  std::vector<wire::Sample> ooo;      // sorted, unique timestamps
  std::int64_t max_t = kMinTime;      // newest sample stored
  bool dead = false;                  // removed by truncate(); appenders must retry

  Labels to_labels() const {
    std::vector<Label> v;
    v.reserve(labels.size());
    for (auto [n, val] : labels) v.emplace_back(std::string(n), std::string(val));
    return Labels(std::move(v));
  }
  bool equals(const Labels& l) const {
    if (l.size() != labels.size()) return false;
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i].first != l.items()[i].first || labels[i].second != l.items()[i].second)
        return false;
    return true;
  }
  bool empty() const { return closed.empty() && !open && ooo.empty(); }

  // The stored value at t, if any.
  std::optional<double> find(std::int64_t t) const {
    auto it = std::lower_bound(ooo.begin(), ooo.end(), t, ts_less);
    if (it != ooo.end() && it->timestamp_ms == t) return it->value;
    auto scan = [t](std::span<const std::uint8_t> bytes) -> std::optional<double> {
      ChunkIterator c(bytes);
      while (c.next()) {
        if (c.t() == t) return c.v();
        if (c.t() > t) break;
      }
      return std::nullopt;
    };
    for (const auto& c : closed)
      if (c.mint <= t && t <= c.maxt)
        if (auto v = scan(*c.bytes)) return v;
    if (open && open->min_time() <= t && t <= open->max_time()) return scan(open->bytes());
    return std::nullopt;
  }
};

struct Head::Stripe {
  std::mutex mu;
  std::unordered_map<std::uint64_t, std::vector<std::shared_ptr<Series>>> by_fingerprint;
  std::unordered_map<SeriesRef, std::shared_ptr<Series>> by_ref;
};

Head::Head(HeadOptions options) : options_(options), stripes_(new Stripe[kStripes]) {
  if (options_.chunk_samples < 2 || options_.chunk_samples > 65535)
    throw std::invalid_argument("tsdb head: chunk_samples must be 2..65535");
}
Head::~Head() = default;

Labels Head::normalize(const Labels& labels) {
  bool has_empty = false;
  for (const auto& [n, v] : labels.items()) has_empty = has_empty || v.empty();
  if (!has_empty) return labels;
  std::vector<Label> kept;
  for (const auto& l : labels.items())
    if (!l.second.empty()) kept.push_back(l);
  return Labels(std::move(kept));
}

std::shared_ptr<Head::Series> Head::get_or_create(const Labels& labels,
                                                  std::optional<SeriesRef> want_ref) {
  const std::uint64_t fp = labels.fingerprint();
  Stripe& stripe = stripes_[fp % kStripes];
  std::shared_ptr<Series> s;
  {
    std::lock_guard lock(stripe.mu);
    auto& list = stripe.by_fingerprint[fp];
    for (const auto& e : list)
      if (e->equals(labels)) return e;
    s = std::make_shared<Series>();
    if (want_ref) {
      if (*want_ref % kStripes != fp % kStripes)
        throw std::invalid_argument("tsdb head: series ref " + std::to_string(*want_ref) +
                                    " does not belong to " + labels.to_string());
      s->ref = *want_ref;
      // Never hand out a logged ref again.
      auto counter = *want_ref / kStripes + 1;
      auto cur = next_counter_.load();
      while (cur < counter && !next_counter_.compare_exchange_weak(cur, counter)) {
      }
    } else {
      s->ref = next_counter_.fetch_add(1) * kStripes + fp % kStripes;
    }
    s->fingerprint = fp;
    s->labels.reserve(labels.size());
    for (const auto& [n, v] : labels.items())
      s->labels.emplace_back(symbols_.intern(n), symbols_.intern(v));
    list.push_back(s);
    stripe.by_ref.emplace(s->ref, s);
    // Under the stripe lock: no sample of this series can be logged before
    // its series record.
    if (new_series_hook_ && !want_ref) new_series_hook_(s->ref, labels);
  }
  {
    std::unique_lock lock(postings_mu_);
    for (auto [n, v] : s->labels) {
      auto& refs = postings_[n][v];
      refs.insert(std::upper_bound(refs.begin(), refs.end(), s->ref), s->ref);
    }
  }
  series_count_.fetch_add(1);
  return s;
}

std::shared_ptr<Head::Series> Head::by_ref(SeriesRef ref) const {
  Stripe& stripe = stripes_[ref % kStripes];
  std::lock_guard lock(stripe.mu);
  auto it = stripe.by_ref.find(ref);
  return it == stripe.by_ref.end() ? nullptr : it->second;
}

void Head::note_time(std::int64_t t) {
  atomic_min(min_time_, t);
  atomic_max(max_time_, t);
}

AppendResult Head::append_locked(Series& s, std::span<const wire::Sample> samples,
                                 std::vector<wire::Sample>* accepted) {
  AppendResult r;
  const std::int64_t min_valid = min_valid_time_.load();
  std::uint64_t bytes_before = s.open ? s.open->memory_bytes() : 0;
  std::int64_t added_bytes = 0;
  for (const auto& smp : samples) {
    const std::int64_t t = smp.timestamp_ms;
    if (t < min_valid) {
      ++r.too_old;
      continue;
    }
    if (t > s.max_t) {  // the common, in-order case
      if (s.open && s.open->num_samples() >= options_.chunk_samples) {
        // Close: re-encode with the value encoding that suits this data best.
        auto enc = std::make_shared<std::vector<std::uint8_t>>(
            encode_chunk(decode_chunk(s.open->bytes())));
        added_bytes += static_cast<std::int64_t>(enc->capacity());
        added_bytes -= static_cast<std::int64_t>(s.open->memory_bytes());
        s.closed.push_back(
            {s.open->min_time(), s.open->max_time(), s.open->num_samples(), std::move(enc)});
        s.open.reset();
        bytes_before = 0;
      }
      if (!s.open) s.open = std::make_unique<XorAppender>();
      s.open->append(t, smp.value);
      s.max_t = t;
    } else {
      if (auto v = s.find(t)) {
        if (same_bits(*v, smp.value)) {
          ++r.duplicates;
        } else {
          if (r.conflicts == 0) r.first_conflict_ms = t;
          ++r.conflicts;
        }
        continue;
      }
      if (t < s.max_t - options_.ooo_window_ms) {
        ++r.too_old;
        continue;
      }
      s.ooo.insert(std::lower_bound(s.ooo.begin(), s.ooo.end(), t, ts_less), smp);
      if (s.ooo.size() >= options_.chunk_samples) {
        auto enc = std::make_shared<std::vector<std::uint8_t>>(encode_chunk(s.ooo));
        added_bytes += static_cast<std::int64_t>(enc->capacity());
        s.closed.push_back({s.ooo.front().timestamp_ms, s.ooo.back().timestamp_ms,
                            static_cast<std::uint32_t>(s.ooo.size()), std::move(enc)});
        s.ooo.clear();
      }
    }
    note_time(t);
    ++r.appended;
    if (accepted) accepted->push_back(smp);
  }
  if (s.open)
    added_bytes +=
        static_cast<std::int64_t>(s.open->memory_bytes()) - static_cast<std::int64_t>(bytes_before);
  chunk_bytes_.fetch_add(static_cast<std::uint64_t>(added_bytes));
  sample_count_.fetch_add(r.appended);
  return r;
}

AppendResult Head::append(const Labels& raw, std::span<const wire::Sample> samples,
                          std::vector<wire::Sample>* accepted, SeriesRef* ref) {
  Labels labels = normalize(raw);
  if (labels.empty())
    throw std::invalid_argument("series has no labels with a non-empty value: " + raw.to_string());
  if (samples.empty()) return {};  // nothing to store: do not create the series
  for (;;) {
    auto s = get_or_create(labels, std::nullopt);
    std::lock_guard lock(s->mu);
    if (s->dead) continue;  // truncate() removed it between lookup and lock
    if (ref) *ref = s->ref;
    return append_locked(*s, samples, accepted);
  }
}

void Head::replay_series(SeriesRef ref, const Labels& labels) {
  Labels l = normalize(labels);
  if (l.empty())
    throw std::invalid_argument("tsdb head: empty label set for series " + std::to_string(ref));
  auto s = get_or_create(l, ref);
  if (s->ref != ref) {
    // The same labels were logged under two refs (a series dropped by a
    // truncation and recreated): alias the new ref to the live series.
    Stripe& stripe = stripes_[ref % kStripes];
    std::lock_guard lock(stripe.mu);
    stripe.by_ref.emplace(ref, s);
  }
}

AppendResult Head::replay_samples(SeriesRef ref, std::span<const wire::Sample> samples) {
  auto s = by_ref(ref);
  if (!s) {
    AppendResult r;
    r.too_old = samples.size();
    return r;
  }
  std::lock_guard lock(s->mu);
  return append_locked(*s, samples, nullptr);
}

HeadSeriesData Head::snapshot(const Series& s, std::int64_t mint, std::int64_t maxt) const {
  HeadSeriesData d;
  d.ref = s.ref;
  for (const auto& c : s.closed)
    if (c.maxt >= mint && c.mint <= maxt)
      d.chunks.push_back({c.mint, c.maxt, Aggr::kRaw, *c.bytes, {}, c.bytes});
  if (s.open && s.open->max_time() >= mint && s.open->min_time() <= maxt) {
    auto b = s.open->bytes();
    auto copy = std::make_shared<const std::vector<std::uint8_t>>(b.begin(), b.end());
    d.chunks.push_back({s.open->min_time(), s.open->max_time(), Aggr::kRaw, *copy, {}, copy});
  }
  if (!s.ooo.empty() && s.ooo.back().timestamp_ms >= mint && s.ooo.front().timestamp_ms <= maxt) {
    auto enc = std::make_shared<const std::vector<std::uint8_t>>(encode_chunk(s.ooo));
    d.chunks.push_back(
        {s.ooo.front().timestamp_ms, s.ooo.back().timestamp_ms, Aggr::kRaw, *enc, {}, enc});
  }
  return d;
}

std::vector<HeadSeriesData> Head::select(const std::vector<LabelMatcher>& matchers,
                                         std::int64_t mint, std::int64_t maxt) const {
  std::vector<HeadSeriesData> out;
  for (auto ref : select_postings(*this, matchers)) {
    auto s = by_ref(ref);
    if (!s) continue;
    Labels labels = s->to_labels();
    if (!matches_all(matchers, labels)) continue;
    std::lock_guard lock(s->mu);
    auto d = snapshot(*s, mint, maxt);
    if (d.chunks.empty()) continue;
    d.labels = std::move(labels);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<HeadSeriesData> Head::all_series(std::int64_t mint, std::int64_t maxt) const {
  return select({}, mint, maxt);
}

std::vector<std::string> Head::label_names() const {
  std::shared_lock lock(postings_mu_);
  std::vector<std::string> out;
  out.reserve(postings_.size());
  for (const auto& [name, values] : postings_) out.emplace_back(name);
  return out;
}

std::vector<std::string> Head::label_values(std::string_view name) const {
  std::shared_lock lock(postings_mu_);
  std::vector<std::string> out;
  auto it = postings_.find(name);
  if (it == postings_.end()) return out;
  for (const auto& [value, refs] : it->second) out.emplace_back(value);
  return out;
}

std::vector<std::uint64_t> Head::postings(std::string_view name, std::string_view value) const {
  std::shared_lock lock(postings_mu_);
  auto it = postings_.find(name);
  if (it == postings_.end()) return {};
  auto vit = it->second.find(value);
  return vit == it->second.end() ? std::vector<std::uint64_t>{} : vit->second;
}

bool Head::for_each_value(
    std::string_view name,
    const std::function<void(std::string_view, const std::vector<std::uint64_t>&)>& fn) const {
  std::shared_lock lock(postings_mu_);
  auto it = postings_.find(name);
  if (it == postings_.end()) return false;
  for (const auto& [value, refs] : it->second) fn(value, refs);
  return true;
}

std::vector<std::uint64_t> Head::all_postings() const {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < kStripes; ++i) {
    std::lock_guard lock(stripes_[i].mu);
    for (const auto& [ref, s] : stripes_[i].by_ref)
      if (s->ref == ref) out.push_back(ref);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Head::truncate(std::int64_t t) {
  atomic_max(min_valid_time_, t);
  std::int64_t new_min = kMaxTime;
  for (std::size_t i = 0; i < kStripes; ++i) {
    Stripe& stripe = stripes_[i];
    std::vector<std::shared_ptr<Series>> removed;
    {
      std::lock_guard lock(stripe.mu);
      for (auto it = stripe.by_ref.begin(); it != stripe.by_ref.end();) {
        auto& s = *it->second;
        if (s.ref != it->first) {  // a replay alias
          ++it;
          continue;
        }
        std::lock_guard slock(s.mu);
        std::uint64_t dropped = 0;
        std::vector<Series::Closed> keep;
        for (auto& c : s.closed) {
          if (c.maxt < t) {
            dropped += c.samples;
            chunk_bytes_.fetch_sub(
                std::min<std::uint64_t>(chunk_bytes_.load(), c.bytes->capacity()));
            continue;
          }
          if (c.mint < t) {  // straddles the cut: keep only the part not in the block
            auto all = decode_chunk(*c.bytes);
            auto first = std::lower_bound(all.begin(), all.end(), t, ts_less);
            dropped += static_cast<std::uint64_t>(first - all.begin());
            std::vector<wire::Sample> rest(first, all.end());
            c = {rest.front().timestamp_ms, rest.back().timestamp_ms,
                 static_cast<std::uint32_t>(rest.size()),
                 std::make_shared<std::vector<std::uint8_t>>(encode_chunk(rest))};
          }
          keep.push_back(std::move(c));
        }
        s.closed.swap(keep);
        if (s.open && s.open->min_time() < t) {
          auto all = decode_chunk(s.open->bytes());
          auto first = std::lower_bound(all.begin(), all.end(), t, ts_less);
          dropped += static_cast<std::uint64_t>(first - all.begin());
          s.open.reset();
          for (auto p = first; p != all.end(); ++p) {
            if (!s.open) s.open = std::make_unique<XorAppender>();
            s.open->append(p->timestamp_ms, p->value);
          }
        }
        auto first = std::lower_bound(s.ooo.begin(), s.ooo.end(), t, ts_less);
        dropped += static_cast<std::uint64_t>(first - s.ooo.begin());
        s.ooo.erase(s.ooo.begin(), first);
        sample_count_.fetch_sub(std::min<std::uint64_t>(sample_count_.load(), dropped));
        for (const auto& c : s.closed) new_min = std::min(new_min, c.mint);
        if (s.open) new_min = std::min(new_min, s.open->min_time());
        if (!s.ooo.empty()) new_min = std::min(new_min, s.ooo.front().timestamp_ms);
        if (s.empty()) {
          s.dead = true;
          removed.push_back(it->second);
          auto& list = stripe.by_fingerprint[s.fingerprint];
          std::erase_if(list, [&](const auto& e) { return e.get() == &s; });
          if (list.empty()) stripe.by_fingerprint.erase(s.fingerprint);
          it = stripe.by_ref.erase(it);
          continue;
        }
        ++it;
      }
      // Drop replay aliases of removed series.
      for (auto it = stripe.by_ref.begin(); it != stripe.by_ref.end();)
        it = it->second->dead ? stripe.by_ref.erase(it) : std::next(it);
    }
    if (removed.empty()) continue;
    std::unique_lock lock(postings_mu_);
    for (const auto& s : removed) {
      for (auto [n, v] : s->labels) {
        auto nit = postings_.find(n);
        if (nit == postings_.end()) continue;
        auto vit = nit->second.find(v);
        if (vit == nit->second.end()) continue;
        std::erase(vit->second, s->ref);
        if (vit->second.empty()) nit->second.erase(vit);
        if (nit->second.empty()) postings_.erase(nit);
      }
    }
    series_count_.fetch_sub(removed.size());
  }
  min_time_.store(new_min);
  if (new_min == kMaxTime) max_time_.store(kMinTime);
}

}  // namespace strata::tsdb

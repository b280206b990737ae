#include "tsdb/querier.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <limits>

namespace strata::tsdb {

std::optional<Aggr> aggregate_for(std::string_view f) {
  if (f == "rate" || f == "increase" || f == "irate" || f == "resets") return Aggr::kCounter;
  if (f == "min_over_time") return Aggr::kMin;
  if (f == "max_over_time") return Aggr::kMax;
  if (f == "count_over_time") return Aggr::kCount;
  if (f == "sum_over_time") return Aggr::kSum;
  return std::nullopt;
}

std::int64_t pick_resolution(const SelectHints& h) {
  if (h.resolution) return *h.resolution;
  if (h.step_ms >= 5 * kRes1h) return kRes1h;
  if (h.step_ms >= 5 * kRes5m) return kRes5m;
  return 0;
}

// One source of samples: the chunks of one kind, merged in time order. For
// the sum/count average, `pair` holds the count chunks zipped with the sum
// chunks in `chunks`.
struct SeriesIterator::Stream {
  std::vector<ChunkRef> chunks;  // sorted by mint
  TimestampColumnCache* columns = nullptr;
  std::vector<ChunkIterator> open;
  std::vector<bool> open_valid;
  std::size_t next_chunk = 0;
  std::int64_t last_t = std::numeric_limits<std::int64_t>::min();
  bool have = false;
  std::int64_t t = 0;
  double v = 0;

  // Advances to the next timestamp > last emitted; false when exhausted.
  bool advance() {
    for (;;) {
      // Open every chunk that could hold the next-smallest timestamp.
      while (next_chunk < chunks.size() &&
             (open.empty() || chunks[next_chunk].mint <= min_open_t())) {
        open_chunk(chunks[next_chunk++]);
      }
      if (open.empty()) {
        have = false;
        return false;
      }
      // Smallest current sample across the open iterators.
      std::size_t best = 0;
      for (std::size_t i = 1; i < open.size(); ++i)
        if (open[i].t() < open[best].t()) best = i;
      std::int64_t bt = open[best].t();
      double bv = open[best].v();
      step(best);
      if (bt <= last_t) continue;  // a copy of a timestamp already yielded
      last_t = t = bt;
      v = bv;
      have = true;
      return true;
    }
  }
  std::int64_t min_open_t() const {
    std::int64_t m = std::numeric_limits<std::int64_t>::max();
    for (const auto& it : open) m = std::min(m, it.t());
    return m;
  }
  void open_chunk(const ChunkRef& c) {
    try {
      ChunkIterator it = columns != nullptr && !c.timestamps.empty()
                             ? ChunkIterator(c.bytes, columns->get(c.timestamps))
                             : ChunkIterator(c.bytes, c.timestamps);
      if (it.next()) open.push_back(std::move(it));
    } catch (const ChunkFormatError& e) {
      spdlog::error("tsdb query: skipping undecodable chunk [{}, {}]: {}", c.mint, c.maxt,
                    e.what());
    }
  }
  void step(std::size_t i) {
    bool more = false;
    try {
      more = open[i].next();
    } catch (const ChunkFormatError& e) {
      spdlog::error("tsdb query: chunk stops decoding: {}", e.what());
    }
    if (!more) open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
  }
};

namespace {
std::vector<ChunkRef> of_aggr(const std::vector<ChunkRef>& all, Aggr a) {
  std::vector<ChunkRef> out;
  for (const auto& c : all)
    if (c.aggr == a) out.push_back(c);
  std::stable_sort(out.begin(), out.end(),
                   [](const ChunkRef& x, const ChunkRef& y) { return x.mint < y.mint; });
  return out;
}
}  // namespace

// streams_[0]: raw; [1]: the chosen aggregate, or sum; [2]: count (average).
std::span<const std::int64_t> TimestampColumnCache::get(std::span<const std::uint8_t> column) {
  auto key = std::make_pair(column.data(), column.size());
  auto it = columns_.find(key);
  if (it == columns_.end()) it = columns_.emplace(key, decode_timestamps(column)).first;
  return it->second;
}

SeriesIterator::SeriesIterator(std::vector<ChunkRef> chunks, std::int64_t mint, std::int64_t maxt,
                               std::optional<Aggr> aggr, TimestampColumnCache* columns)
    : mint_(mint), maxt_(maxt) {
  streams_.resize(3);
  for (auto& s : streams_) s.columns = columns;
  streams_[0].chunks = of_aggr(chunks, Aggr::kRaw);
  if (aggr) {
    streams_[1].chunks = of_aggr(chunks, *aggr);
  } else {
    streams_[1].chunks = of_aggr(chunks, Aggr::kSum);
    streams_[2].chunks = of_aggr(chunks, Aggr::kCount);
  }
  const auto& raw = streams_[0].chunks;
  sequential_ = streams_[1].chunks.empty() && streams_[2].chunks.empty();
  for (std::size_t i = 1; i < raw.size() && sequential_; ++i)
    sequential_ = raw[i].mint > raw[i - 1].maxt;
}
SeriesIterator::SeriesIterator(SeriesIterator&&) noexcept = default;
SeriesIterator& SeriesIterator::operator=(SeriesIterator&&) noexcept = default;
SeriesIterator::~SeriesIterator() = default;

bool SeriesIterator::next_raw(std::int64_t* t, double* v) {
  auto& raw = streams_[0];
  auto& agg = streams_[1];
  auto& cnt = streams_[2];
  if (!started_) {
    raw.advance();
    agg.advance();
    if (!cnt.chunks.empty()) cnt.advance();
    started_ = true;
  }
  for (;;) {
    bool use_raw = raw.have && (!agg.have || raw.t <= agg.t);
    if (use_raw) {
      *t = raw.t;
      *v = raw.v;
      if (agg.have && agg.t == raw.t) agg.advance();
      raw.advance();
      return true;
    }
    if (!agg.have) return false;
    *t = agg.t;
    *v = agg.v;
    if (!cnt.chunks.empty() || cnt.have) {
      // Average: sum / count at the same window timestamp.
      while (cnt.have && cnt.t < agg.t) cnt.advance();
      bool ok = cnt.have && cnt.t == agg.t && cnt.v > 0;
      if (ok) *v = agg.v / cnt.v;
      agg.advance();
      if (!ok) continue;
      return true;
    }
    agg.advance();
    return true;
  }
}

bool SeriesIterator::next_sequential() {
  auto& raw = streams_[0];
  for (;;) {
    if (!raw.open.empty()) {
      // A chunk just opened is already on its first sample.
      if (!fresh_) raw.step(0);
      fresh_ = false;
      if (!raw.open.empty()) {
        const std::int64_t t = raw.open[0].t();
        if (t < mint_) continue;
        if (t > maxt_) {
          raw.open.clear();
          raw.next_chunk = raw.chunks.size();
          return false;
        }
        t_ = t;
        v_ = raw.open[0].v();
        return true;
      }
    }
    // Chunks wholly before the range are not decoded at all.
    while (raw.next_chunk < raw.chunks.size() && raw.chunks[raw.next_chunk].maxt < mint_)
      ++raw.next_chunk;
    if (raw.next_chunk >= raw.chunks.size() || raw.chunks[raw.next_chunk].mint > maxt_)
      return false;
    raw.open_chunk(raw.chunks[raw.next_chunk++]);
    fresh_ = true;
  }
}

bool SeriesIterator::next() {
  if (sequential_) return next_sequential();
  std::int64_t t;
  double v;
  while (next_raw(&t, &v)) {
    if (t < mint_) continue;
    if (t > maxt_) return false;
    t_ = t;
    v_ = v;
    return true;
  }
  return false;
}

std::vector<wire::Sample> Series::samples() const {
  std::vector<wire::Sample> out;
  auto it = iterator();
  while (it.next()) out.push_back({it.t(), it.v()});
  return out;
}

}  // namespace strata::tsdb

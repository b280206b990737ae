#include "tsdb/downsample.h"

#include <algorithm>
#include <cmath>

namespace strata::tsdb {

namespace {

std::int64_t window_of(std::int64_t t, std::int64_t res) {
  std::int64_t w = t / res;
  if (t % res < 0) --w;  // floor for negative times
  return w;
}

void emit(AggrSamples& out, std::int64_t t, double count, double sum, double mn, double mx,
          double counter) {
  out[static_cast<int>(Aggr::kCount)].push_back({t, count});
  out[static_cast<int>(Aggr::kSum)].push_back({t, sum});
  out[static_cast<int>(Aggr::kMin)].push_back({t, mn});
  out[static_cast<int>(Aggr::kMax)].push_back({t, mx});
  out[static_cast<int>(Aggr::kCounter)].push_back({t, counter});
}

// Reset-corrected running counter over a value stream.
struct CounterState {
  bool have = false;
  double prev = 0;
  double offset = 0;
  double add(double v) {
    if (have && v < prev) offset += prev;  // a reset: keep what was counted before it
    prev = v;
    have = true;
    return v + offset;
  }
};

}  // namespace

AggrSamples downsample_raw(std::span<const wire::Sample> raw, std::int64_t res) {
  AggrSamples out;
  CounterState counter;
  bool open = false;
  std::int64_t win = 0, last_t = 0;
  double count = 0, sum = 0, mn = 0, mx = 0, ctr = 0;
  for (const auto& s : raw) {
    if (std::isnan(s.value)) continue;  // stale markers and NaN carry no aggregate
    auto w = window_of(s.timestamp_ms, res);
    if (open && w != win) {
      emit(out, last_t, count, sum, mn, mx, ctr);
      open = false;
    }
    if (!open) {
      open = true;
      win = w;
      count = sum = 0;
      mn = mx = s.value;
    }
    ++count;
    sum += s.value;
    mn = std::min(mn, s.value);
    mx = std::max(mx, s.value);
    ctr = counter.add(s.value);
    last_t = s.timestamp_ms;
  }
  if (open) emit(out, last_t, count, sum, mn, mx, ctr);
  return out;
}

AggrSamples downsample_aggregates(const AggrSamples& in, std::int64_t res) {
  AggrSamples out;
  const auto& cnt = in[static_cast<int>(Aggr::kCount)];
  const auto& sm = in[static_cast<int>(Aggr::kSum)];
  const auto& mnv = in[static_cast<int>(Aggr::kMin)];
  const auto& mxv = in[static_cast<int>(Aggr::kMax)];
  const auto& ctrv = in[static_cast<int>(Aggr::kCounter)];
  const std::size_t n = std::min({cnt.size(), sm.size(), mnv.size(), mxv.size(), ctrv.size()});
  CounterState counter;
  bool open = false;
  std::int64_t win = 0, last_t = 0;
  double count = 0, sum = 0, mn = 0, mx = 0, ctr = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto t = cnt[i].timestamp_ms;
    auto w = window_of(t, res);
    if (open && w != win) {
      emit(out, last_t, count, sum, mn, mx, ctr);
      open = false;
    }
    if (!open) {
      open = true;
      win = w;
      count = sum = 0;
      mn = mnv[i].value;
      mx = mxv[i].value;
    }
    count += cnt[i].value;
    sum += sm[i].value;
    mn = std::min(mn, mnv[i].value);
    mx = std::max(mx, mxv[i].value);
    ctr = counter.add(ctrv[i].value);
    last_t = t;
  }
  if (open) emit(out, last_t, count, sum, mn, mx, ctr);
  return out;
}

}  // namespace strata::tsdb

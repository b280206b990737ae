// Downsampling: rolls a series up into fixed windows (5 m, 1 h) keeping, per
// window, the aggregates a query needs to answer without the raw samples:
// count, sum, min, max, and a counter value with resets removed -- the
// scheme Thanos uses, so that rate()/increase() over downsampled data stay
// correct across counter resets.
//
// Each aggregate sample is stamped with the time of the last raw sample of
// its window (so rate() sees real spacing). The counter aggregate is the
// running, reset-corrected counter at that sample: a drop v_i < v_{i-1} is a
// reset, and v_{i-1} is added to an offset carried forward. NaN samples,
// stale markers included, are skipped: they carry no aggregate, and a window
// holding only NaN yields no point at all.
//
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/wire_format.h"
#include "tsdb/chunk_ref.h"

namespace strata::tsdb {

// One series' aggregates, indexed by Aggr (index kRaw unused). All vectors
// share the same timestamps.
using AggrSamples = std::array<std::vector<wire::Sample>, kNumAggr>;

// Raw samples (sorted) -> windows of `resolution` ms.
AggrSamples downsample_raw(std::span<const wire::Sample> raw, std::int64_t resolution);
// Aggregates at a finer resolution (sorted, same timestamps) -> coarser windows.
AggrSamples downsample_aggregates(const AggrSamples& fine, std::int64_t resolution);

}  // namespace strata::tsdb

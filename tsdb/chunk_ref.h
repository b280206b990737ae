// ChunkRef: one encoded chunk handed from a storage layer (head, block) to
// a query, plus what keeps its bytes alive.
//
// Ownership: `bytes` points into memory owned by `owner` (a head chunk's
// buffer, a block's memory map); holding the ChunkRef keeps that memory
// valid even if the head truncates or a compaction deletes the block while
// the query runs. Immutable once built; safe to share across threads.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string_view>

namespace strata::tsdb {

// Open time bounds for queries ("from the beginning", "until the end").
inline constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

// What a chunk's values are. Raw blocks and the head hold kRaw only; a
// downsampled block holds, per series and time window, one chunk for each
// aggregate (see docs/format/block.md and downsample.h).
enum class Aggr : std::uint8_t {
  kRaw = 0,
  kCount = 1,    // samples in the window
  kSum = 2,      // their sum
  kMin = 3,      // smallest
  kMax = 4,      // largest
  kCounter = 5,  // counter value with resets removed (what rate() needs)
};
inline constexpr int kNumAggr = 6;
std::string_view to_string(Aggr a);

struct ChunkRef {
  std::int64_t mint = 0;
  std::int64_t maxt = 0;
  Aggr aggr = Aggr::kRaw;
  std::span<const std::uint8_t> bytes;
  // The timestamp column of a kSharedTimestamps chunk (same owner), else empty.
  std::span<const std::uint8_t> timestamps;
  std::shared_ptr<const void> owner;
};

}  // namespace strata::tsdb

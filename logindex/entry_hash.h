// entry_hash: the 64-bit identity of a log entry (stream, timestamp, line)
// used for deduplication, in memory (the head) and on disk (a segment's
// dedup table). Because segments store it, the function is part of the
// segment format (docs/format/segment.md) and must never change:
//
//   XXH3_64bits_withSeed(line, seed = stream_fp XOR (ts * 0x9E3779B97F4A7C15))
//
// where stream_fp is Labels::fingerprint() (XXH64 of name 0xFF value 0xFF
// ... , seed 0) and ts the signed nanosecond timestamp taken as u64
// (multiplication modulo 2^64). Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::logindex {

std::uint64_t entry_hash(std::uint64_t stream_fp, std::int64_t timestamp_ns, std::string_view line);

}  // namespace strata::logindex

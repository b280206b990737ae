#include "logindex/entry_hash.h"

#include <xxhash.h>

namespace strata::logindex {

std::uint64_t entry_hash(std::uint64_t stream_fp, std::int64_t ts, std::string_view line) {
  std::uint64_t seed = stream_fp ^ (static_cast<std::uint64_t>(ts) * 0x9E3779B97F4A7C15ULL);
  return XXH3_64bits_withSeed(line.data(), line.size(), seed);
}

}  // namespace strata::logindex

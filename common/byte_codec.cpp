#include "common/byte_codec.h"

#include <zlib.h>

#include <algorithm>

namespace strata {

std::uint32_t crc32(std::span<const std::uint8_t> data, std::uint32_t crc) {
  // zlib's crc32 takes a uInt length: feed large spans in pieces.
  uLong c = crc;
  while (!data.empty()) {
    auto n = std::min<std::size_t>(data.size(), 1u << 30);
    c = ::crc32(c, data.data(), static_cast<uInt>(n));
    data = data.subspan(n);
  }
  return static_cast<std::uint32_t>(c);
}

}  // namespace strata

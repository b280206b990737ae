#include "common/snappy_codec.h"

#include <snappy.h>

#include <fmt/format.h>

namespace strata::snappy_codec {

std::string uncompress(std::string_view compressed, std::size_t max_bytes,
                       std::string_view limit_name) {
  std::size_t length = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &length)) {
    throw SnappyError(
        "corrupt snappy data: cannot read the uncompressed length "
        "(the body must be snappy's block format, not the framed format)",
        false);
  }
  if (length > max_bytes) {
    throw SnappyError(fmt::format("snappy body decompresses to {} bytes; the limit is {} ({})",
                                  length, max_bytes, limit_name),
                      true);
  }
  std::string out;
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &out)) {
    throw SnappyError("corrupt snappy data: decompression failed", false);
  }
  return out;
}

std::string compress(std::string_view raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

}  // namespace strata::snappy_codec

#include "tsdb/bitstream.h"

#include <algorithm>

namespace strata::tsdb {

std::vector<std::uint8_t> BitWriter::take() {
  std::vector<std::uint8_t> out = std::move(buf_);
  out.resize(byte_size());
  buf_ = {};
  bits_ = 0;
  return out;
}

void BitWriter::grow(std::size_t need) {
  // resize() zero-fills: the slack and every not-yet-written bit must be 0
  // because write_bits ORs into them.
  buf_.resize(std::max(need, buf_.size() * 2));
}

std::uint64_t BitReader::tail_window(std::size_t byte) const {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    w <<= 8;
    if (byte + i < size_) w |= data_[byte + i];
  }
  return w;
}

}  // namespace strata::tsdb

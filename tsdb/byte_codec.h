// Byte-level encoding shared by the WAL, the block index and the chunks
// file: little-endian fixed-width integers, LEB128 varints, zigzag for
// signed values, length-prefixed strings, and CRC-32 (zlib's IEEE
// polynomial, hardware-agnostic and already linked).
//
// ByteReader never reads past its span: every get reports running out or a
// malformed varint by throwing FormatError with the byte offset, which the
// callers turn into "file X, offset Y" reports. Neither type is
// thread-safe; both are cheap values.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace strata::tsdb {

class FormatError : public std::runtime_error {
 public:
  FormatError(const std::string& what, std::size_t offset)
      : std::runtime_error(what + " at byte offset " + std::to_string(offset)), offset_(offset) {}
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

std::uint32_t crc32(std::span<const std::uint8_t> data, std::uint32_t crc = 0);
inline std::uint32_t crc32(std::string_view s, std::uint32_t crc = 0) {
  return crc32({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, crc);
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

class ByteWriter {
 public:
  void u8(std::uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    buf_.append(b, 4);
  }
  void u64(std::uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    buf_.append(b, 8);
  }
  void uvarint(std::uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  void varint(std::int64_t v) { uvarint(zigzag(v)); }
  void str(std::string_view s) {
    uvarint(s.size());
    buf_.append(s);
  }
  void bytes(std::span<const std::uint8_t> b) {
    buf_.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  void raw(std::string_view s) { buf_.append(s); }
  // Overwrites 4 bytes at `pos` (for lengths known only afterwards).
  void put_u32_at(std::size_t pos, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) buf_[pos + i] = static_cast<char>(v >> (8 * i));
  }

  std::size_t size() const { return buf_.size(); }
  const std::string& data() const { return buf_; }
  std::string& data() { return buf_; }
  void clear() { buf_.clear(); }

 private:
  std::string buf_;
};

class ByteReader {
 public:
  // `base` is the offset of data[0] within its file, so errors name file offsets.
  explicit ByteReader(std::span<const std::uint8_t> data, std::size_t base = 0)
      : data_(data), base_(base) {}
  explicit ByteReader(std::string_view s, std::size_t base = 0)
      : ByteReader({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, base) {}

  std::uint8_t u8() {
    need(1, "u8");
    return data_[pos_++];
  }
  std::uint32_t u32() {
    need(4, "u32");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() {
    need(8, "u64");
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }
  std::uint64_t uvarint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1, "varint");
      std::uint8_t b = data_[pos_++];
      if (shift == 63 && b > 1) throw FormatError("varint overflows 64 bits", offset() - 1);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw FormatError("varint longer than 10 bytes", offset());
  }
  std::int64_t varint() { return unzigzag(uvarint()); }
  std::string_view str() {
    auto n = uvarint();
    need(n, "string");
    std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    need(n, "bytes");
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  void seek(std::size_t pos) {
    if (pos > data_.size()) throw FormatError("seek past the end", base_ + pos);
    pos_ = pos;
  }

  bool done() const { return pos_ == data_.size(); }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  std::size_t offset() const { return base_ + pos_; }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > data_.size() - pos_)
      throw FormatError(std::string("truncated ") + what + " (need " + std::to_string(n) +
                            " bytes, " + std::to_string(data_.size() - pos_) + " left)",
                        offset());
  }
  std::span<const std::uint8_t> data_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

}  // namespace strata::tsdb

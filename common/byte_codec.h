// Byte-level encoding shared by every on-disk format (the tsdb's WAL, block
// index and chunks; the log store's WAL and segments): little-endian
// fixed-width integers, LEB128 varints, zigzag for signed values,
// length-prefixed strings, and CRC-32 (zlib's IEEE polynomial).
//
// ByteReader never reads past its span: running out, or a malformed varint,
// throws FormatError carrying the byte offset (relative to `base`, so callers
// can report "file X at offset Y"). Neither type is thread-safe; both are
// cheap values.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata {

class FormatError : public std::runtime_error {
 public:
  FormatError(const std::string& what, std::uint64_t offset)
      : std::runtime_error(what + " at byte offset " + std::to_string(offset)), offset_(offset) {}
  std::uint64_t offset() const { return offset_; }

 private:
  std::uint64_t offset_;
};

std::uint32_t crc32(std::span<const std::uint8_t> data, std::uint32_t crc = 0);
inline std::uint32_t crc32(std::string_view s, std::uint32_t crc = 0) {
  return crc32({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, crc);
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Fixed-width little-endian loads from unaligned memory (mmapped tables).
inline std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}
inline std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
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
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
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
  void raw(std::string_view s) { buf_.append(s); }
  void bytes(std::span<const std::uint8_t> b) {
    buf_.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
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
  explicit ByteReader(std::span<const std::uint8_t> data, std::uint64_t base = 0)
      : data_(data), base_(base) {}
  explicit ByteReader(std::string_view s, std::uint64_t base = 0) : ByteReader(as_bytes(s), base) {}

  std::uint8_t u8() {
    need(1, "u8");
    return data_[pos_++];
  }
  std::uint32_t u32() {
    need(4, "u32");
    auto v = load_u32(data_.data() + pos_);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64() {
    need(8, "u64");
    auto v = load_u64(data_.data() + pos_);
    pos_ += 8;
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
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
  std::span<const std::uint8_t> bytes(std::uint64_t n) {
    need(n, "bytes");
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  bool done() const { return pos_ == data_.size(); }
  void seek(std::size_t pos) {
    if (pos > data_.size()) throw FormatError("seek past the end", base_ + pos);
    pos_ = pos;
  }
  std::size_t pos() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  std::uint64_t offset() const { return base_ + pos_; }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > data_.size() - pos_)
      throw FormatError(std::string("truncated ") + what + " (need " + std::to_string(n) +
                            " bytes, " + std::to_string(data_.size() - pos_) + " left)",
                        offset());
  }
  std::span<const std::uint8_t> data_;
  std::uint64_t base_ = 0;
  std::size_t pos_ = 0;
};

}  // namespace strata

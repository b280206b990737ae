// Bit-granular writer and reader for the chunk codecs (tsdb/chunk_encoding.h).
//
// Bits are packed MSB-first: the first bit written is the most significant
// bit of byte 0. That is the order Gorilla/Prometheus chunks use, and it lets
// a reader decode a variable-length prefix code with a single
// count-leading-ones on a left-aligned 64-bit window.
//
// Speed. Both sides move whole 64-bit big-endian words instead of looping
// over bytes: a write is one load/OR/store at the current byte, a read one
// load and shift. The writer keeps 8 zero bytes of slack past its logical
// end so the word store never needs a bounds check; the reader takes a
// byte-by-byte path only for the last 8 bytes of its input.
//
// Safety. The reader never touches memory outside its span. Reading past the
// end does not throw (the hot decode loops would pay for the unwinding
// set-up and the checks in every call): it yields zero bits, parks the
// position at the end and sets a sticky failed() flag, which the caller
// checks once per decoded sample and turns into its own error type with the
// byte offset. Malformed varints set the same flag.
//
// Thread-safety: none; each writer/reader belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace strata::tsdb {

namespace bits_detail {
inline std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return __builtin_bswap64(w);
}
inline void store_be64(std::uint8_t* p, std::uint64_t w) {
  w = __builtin_bswap64(w);
  std::memcpy(p, &w, 8);
}
}  // namespace bits_detail

class BitWriter {
 public:
  BitWriter() = default;
  // Pre-sizes the buffer for about `bytes` bytes of output.
  explicit BitWriter(std::size_t bytes) { buf_.reserve(bytes + kSlack); }

  // Appends the low `n` bits of `v` (0 <= n <= 64), most significant first.
  // Bits of `v` above `n` are ignored.
  void write_bits(std::uint64_t v, unsigned n) {
    if (n == 0) return;
    if (n > 56) {  // one word store covers at most 57 bits at an odd offset
      write_bits(v >> 32, n - 32);
      write_bits(v, 32);
      return;
    }
    v &= (std::uint64_t{1} << n) - 1;
    ensure(n);
    std::size_t byte = bits_ >> 3;
    unsigned off = static_cast<unsigned>(bits_ & 7);
    std::uint8_t* p = buf_.data() + byte;
    bits_detail::store_be64(p, bits_detail::load_be64(p) | (v << (64 - off - n)));
    bits_ += n;
  }
  void write_bit(bool b) { write_bits(b ? 1 : 0, 1); }
  // LEB128 (7 bits per group, low group first, high bit = more), each group
  // written as 8 bits at the current bit position: at most 10 groups.
  void write_uvarint(std::uint64_t v) {
    while (v >= 0x80) {
      write_bits((v & 0x7f) | 0x80, 8);
      v >>= 7;
    }
    write_bits(v, 8);
  }
  // Removes the last `n` bits written (n <= bit_size()), zeroing them so they
  // can be written again: lets an appender keep a trailing end marker.
  void unwrite_bits(unsigned n) {
    for (; n > 0; --n) {
      --bits_;
      buf_[bits_ >> 3] &= static_cast<std::uint8_t>(~(0x80u >> (bits_ & 7)));
    }
  }
  // Overwrites a whole byte already written (e.g. a header count field).
  void overwrite_byte(std::size_t index, std::uint8_t value) { buf_[index] = value; }

  std::size_t bit_size() const { return bits_; }
  std::size_t byte_size() const { return (bits_ + 7) >> 3; }
  // The bytes written so far; the last byte is zero-padded.
  std::span<const std::uint8_t> bytes() const { return {buf_.data(), byte_size()}; }
  // Moves the bytes out (trimmed, no slack); the writer is empty afterwards.
  std::vector<std::uint8_t> take();
  // Heap bytes held.
  std::size_t capacity_bytes() const { return buf_.capacity(); }

 private:
  static constexpr std::size_t kSlack = 8;
  void ensure(unsigned n) {
    std::size_t need = ((bits_ + n + 7) >> 3) + kSlack;
    if (need > buf_.size()) grow(need);
  }
  void grow(std::size_t need);

  std::vector<std::uint8_t> buf_;  // logical bytes + >= kSlack zero bytes
  std::size_t bits_ = 0;
};

class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::span<const std::uint8_t> data)
      : data_(data.data()), size_(data.size()), nbits_(data.size() * 8) {}

  // Reads `n` bits (0 <= n <= 64) as an unsigned number. Past the end: 0 and
  // failed() becomes true.
  std::uint64_t read_bits(unsigned n) {
    if (n == 0) return 0;
    if (n > nbits_ - pos_) return overrun();
    if (n > 56) {
      std::uint64_t hi = read_bits(n - 32);
      return (hi << 32) | read_bits(32);
    }
    std::uint64_t w = window();
    pos_ += n;
    return w >> (64 - n);
  }
  bool read_bit() { return read_bits(1) != 0; }
  // The next bits left-aligned in a word, without consuming them. At least
  // the first 57 bits are meaningful; bits past the end of input read as 0.
  std::uint64_t peek() const { return window(); }
  void skip(unsigned n) {
    if (n > nbits_ - pos_) {
      overrun();
      return;
    }
    pos_ += n;
  }
  // Reads what BitWriter::write_uvarint wrote. A group count above 10 or a
  // value above 2^64-1 sets failed().
  std::uint64_t read_uvarint() {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      std::uint64_t g = read_bits(8);
      if (shift == 63 && g > 1) {
        failed_ = true;
        return 0;
      }
      v |= (g & 0x7f) << shift;
      if (!(g & 0x80)) return v;
    }
    failed_ = true;
    return 0;
  }

  bool failed() const { return failed_; }
  std::size_t bit_position() const { return pos_; }
  std::size_t bits_left() const { return nbits_ - pos_; }
  // Byte holding the next unread bit (== size at the end): for error offsets.
  std::size_t byte_offset() const { return pos_ >> 3; }

 private:
  std::uint64_t overrun() {
    failed_ = true;
    pos_ = nbits_;
    return 0;
  }
  std::uint64_t window() const {
    std::size_t byte = pos_ >> 3;
    unsigned off = static_cast<unsigned>(pos_ & 7);
    if (byte + 8 <= size_) return bits_detail::load_be64(data_ + byte) << off;
    return tail_window(byte) << off;
  }
  std::uint64_t tail_window(std::size_t byte) const;

  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t nbits_ = 0;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace strata::tsdb

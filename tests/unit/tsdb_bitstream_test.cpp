#include "tsdb/bitstream.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

using strata::tsdb::BitReader;
using strata::tsdb::BitWriter;

TEST_CASE("BitWriter packs bits MSB-first", "[tsdb][bitstream]") {
  BitWriter w;
  w.write_bit(true);
  CHECK(w.bit_size() == 1);
  REQUIRE(w.bytes().size() == 1);
  CHECK(w.bytes()[0] == 0x80);
  w.write_bits(0b0101, 4);
  w.write_bits(0b111, 3);
  w.write_bits(0xABC, 12);
  auto b = w.bytes();
  REQUIRE(b.size() == 3);
  CHECK(b[0] == 0xAF);  // 1 0101 111
  CHECK(b[1] == 0xAB);
  CHECK(b[2] == 0xC0);  // zero padding
  // Bits above n are ignored.
  BitWriter w2;
  w2.write_bits(~std::uint64_t{0}, 3);
  CHECK(w2.bytes()[0] == 0xE0);
}

TEST_CASE("BitWriter/BitReader round-trip random widths 0..64", "[tsdb][bitstream]") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::pair<std::uint64_t, unsigned>> items;
    BitWriter w;
    std::size_t total = 0;
    for (int i = 0; i < 500; ++i) {
      unsigned n = static_cast<unsigned>(rng() % 65);
      std::uint64_t v = rng();
      if (n < 64) v &= (std::uint64_t{1} << n) - 1;
      if (n == 0) v = 0;
      items.emplace_back(v, n);
      w.write_bits(v, n);
      total += n;
    }
    REQUIRE(w.bit_size() == total);
    REQUIRE(w.byte_size() == (total + 7) / 8);
    std::vector<std::uint8_t> bytes(w.bytes().begin(), w.bytes().end());
    BitReader r(bytes);
    for (auto [v, n] : items) {
      if (n > 0) {
        std::uint64_t peeked = r.peek() >> (64 - std::min(n, 57u));
        REQUIRE(peeked == v >> (n - std::min(n, 57u)));
      }
      REQUIRE(r.read_bits(n) == v);
    }
    CHECK_FALSE(r.failed());
    CHECK(r.bits_left() == bytes.size() * 8 - total);
    CHECK(w.take() == bytes);
  }
}

TEST_CASE("uvarint in the bit stream, at odd bit offsets", "[tsdb][bitstream]") {
  std::vector<std::uint64_t> values = {
      0, 1, 127, 128, 300, 16383, 16384, ~std::uint64_t{0}, std::uint64_t{1} << 63};
  BitWriter w;
  w.write_bits(1, 3);
  for (auto v : values) w.write_uvarint(v);
  auto b = w.bytes();
  BitReader r(b);
  CHECK(r.read_bits(3) == 1);
  for (auto v : values) CHECK(r.read_uvarint() == v);
  CHECK_FALSE(r.failed());
}

TEST_CASE("BitReader rejects overlong varints", "[tsdb][bitstream]") {
  std::vector<std::uint8_t> eleven(11, 0x80);
  BitReader r(eleven);
  r.read_uvarint();
  CHECK(r.failed());
  // 10th group carrying more than bit 63.
  std::vector<std::uint8_t> big(9, 0xff);
  big.push_back(0x02);
  BitReader r2(big);
  r2.read_uvarint();
  CHECK(r2.failed());
}

TEST_CASE("BitReader past the end: zeros, sticky failure, no out-of-bounds read",
          "[tsdb][bitstream]") {
  // A heap buffer of exactly 3 bytes: ASan flags any read past it.
  auto* raw = new std::uint8_t[3]{0xFF, 0xFF, 0xFF};
  BitReader r(std::span<const std::uint8_t>(raw, 3));
  CHECK(r.read_bits(20) == 0xFFFFF);
  CHECK(r.peek() == 0xF000000000000000ULL);
  CHECK(r.read_bits(5) == 0);  // only 4 left
  CHECK(r.failed());
  CHECK(r.bits_left() == 0);
  CHECK(r.byte_offset() == 3);
  CHECK(r.read_bits(64) == 0);
  r.skip(1);
  CHECK(r.failed());
  delete[] raw;

  BitReader empty{std::span<const std::uint8_t>()};
  CHECK(empty.read_bits(0) == 0);
  CHECK_FALSE(empty.failed());
  CHECK(empty.peek() == 0);
  CHECK(empty.read_bit() == false);
  CHECK(empty.failed());
}

TEST_CASE("BitWriter overwrite_byte patches a written byte", "[tsdb][bitstream]") {
  BitWriter w;
  w.write_bits(0, 16);
  w.write_bits(0x5, 3);
  w.overwrite_byte(1, 0x42);
  auto b = w.bytes();
  REQUIRE(b.size() == 3);
  CHECK(b[1] == 0x42);
  CHECK(b[2] == 0xA0);
  CHECK(w.capacity_bytes() >= 3);
}

TEST_CASE("BitWriter unwrite_bits removes and zeroes trailing bits", "[tsdb][bitstream]") {
  BitWriter w;
  w.write_bits(0x1FF, 9);
  w.unwrite_bits(3);
  CHECK(w.bit_size() == 6);
  REQUIRE(w.bytes().size() == 1);
  CHECK(w.bytes()[0] == 0xFC);
  w.write_bits(0, 4);  // the removed bits read back as what is written now
  auto b = w.bytes();
  REQUIRE(b.size() == 2);
  CHECK(b[0] == 0xFC);
  CHECK(b[1] == 0x00);
}

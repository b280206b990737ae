#include "tsdb/chunk_encoding.h"

#include <catch2/catch.hpp>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using strata::tsdb::ChunkEncoding;
using strata::tsdb::ChunkFormatError;
using strata::tsdb::ChunkIterator;
using strata::tsdb::XorAppender;
using strata::wire::Sample;
namespace tsdb = strata::tsdb;

namespace {

std::uint64_t bits(double v) { return std::bit_cast<std::uint64_t>(v); }

const std::vector<double>& specials() {
  static const std::vector<double> v = {
      std::bit_cast<double>(std::uint64_t{0x7ff0000000000002}),  // stale marker
      std::bit_cast<double>(std::uint64_t{0x7ff8000000000001}),  // Prometheus NaN
      std::bit_cast<double>(std::uint64_t{0xfff8000000000000}),  // negative quiet NaN
      std::bit_cast<double>(std::uint64_t{0x7ff0000000000001}),  // signalling payload
      std::bit_cast<double>(std::uint64_t{0x7fffffffffffffff}),
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      -0.0,
      0.0,
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      DBL_MIN,
      DBL_MAX,
      -DBL_MAX,
      std::bit_cast<double>(std::uint64_t{0x000fffffffffffff}),  // largest denormal
  };
  return v;
}

enum class Ts { kRegular, kJitter, kRandomGaps, kHuge, kNegative };
enum class Val {
  kRandomWalk,
  kIntegers,
  kCounterResets,
  kConstant,
  kFewDecimals,
  kRandomDoubles,
  kSpecialsMixed,
  kBigIntegers,
  kTinyDecimals,
  kSteadyCounter,
};
constexpr int kTsKinds = 5;
constexpr int kValKinds = 10;

std::vector<std::int64_t> make_timestamps(std::mt19937_64& rng, Ts kind, std::size_t n) {
  std::vector<std::int64_t> t(n);
  std::int64_t cur = 1'700'000'000'000 + static_cast<std::int64_t>(rng() % 1'000'000);
  switch (kind) {
    case Ts::kRegular:
      for (auto& x : t) x = cur += 15'000;
      break;
    case Ts::kJitter:
      for (auto& x : t) x = cur += 15'000 + static_cast<std::int64_t>(rng() % 21) - 10;
      break;
    case Ts::kRandomGaps:
      for (auto& x : t)
        x = cur += 1 + static_cast<std::int64_t>(rng() % (rng() % 2 ? 100 : 1u << 30));
      break;
    case Ts::kHuge: {
      // Sorted distinct random int64s spanning the full range.
      std::uniform_int_distribution<std::int64_t> d(std::numeric_limits<std::int64_t>::min(),
                                                    std::numeric_limits<std::int64_t>::max());
      for (auto& x : t) x = d(rng);
      std::sort(t.begin(), t.end());
      for (std::size_t i = 1; i < n; ++i) {
        if (t[i] <= t[i - 1]) t[i] = t[i - 1] + 1;  // overflow impossible in practice
      }
      break;
    }
    case Ts::kNegative:
      cur = -5'000'000 - static_cast<std::int64_t>(rng() % 1000) * static_cast<std::int64_t>(n);
      for (auto& x : t) x = cur += 1 + static_cast<std::int64_t>(rng() % 2000);
      break;
  }
  return t;
}

std::vector<double> make_values(std::mt19937_64& rng, Val kind, std::size_t n) {
  std::vector<double> v(n);
  std::normal_distribution<double> normal(0, 1);
  switch (kind) {
    case Val::kRandomWalk: {
      double x = normal(rng) * 100;
      for (auto& y : v) y = x += normal(rng);
      break;
    }
    case Val::kIntegers:
      for (auto& y : v) y = static_cast<double>(static_cast<std::int64_t>(rng() % 2001) - 1000);
      break;
    case Val::kCounterResets: {
      double c = 0;
      for (auto& y : v) {
        c = rng() % 50 == 0 ? static_cast<double>(rng() % 10)
                            : c + static_cast<double>(rng() % 1000);
        y = c;
      }
      break;
    }
    case Val::kConstant: {
      std::vector<double> pick = {0.0, 1.0, 42.5, 3.141592653589793, specials()[0], -0.0};
      double c = pick[rng() % pick.size()];
      for (auto& y : v) y = c;
      break;
    }
    case Val::kFewDecimals: {
      static const double steps[] = {0.25, 0.5, 0.1, 0.01, 12.5};
      double step = steps[rng() % 5];
      std::int64_t k = static_cast<std::int64_t>(rng() % 1000);
      for (auto& y : v) {
        k += static_cast<std::int64_t>(rng() % 7) - 3;
        // Values as a parser would produce them from "12.25" etc.
        y = step == 0.1    ? static_cast<double>(k) / 10
            : step == 0.01 ? static_cast<double>(k) / 100
                           : static_cast<double>(k) * step;
      }
      break;
    }
    case Val::kRandomDoubles:
      for (auto& y : v) y = std::bit_cast<double>(rng());
      break;
    case Val::kSpecialsMixed: {
      double x = 0;
      for (auto& y : v) {
        x += static_cast<double>(rng() % 10);
        y = rng() % 4 == 0 ? specials()[rng() % specials().size()] : x;
      }
      break;
    }
    case Val::kBigIntegers:
      for (auto& y : v) {
        std::int64_t m = static_cast<std::int64_t>(rng() % (std::uint64_t{1} << 53));
        y = rng() % 2 ? static_cast<double>(m) : static_cast<double>(m % 1000) * 1e18;
      }
      break;
    case Val::kTinyDecimals:
      for (auto& y : v) y = static_cast<double>(rng() % 100000) / 1e20;
      break;
    case Val::kSteadyCounter: {
      double c = 1e6;
      for (auto& y : v) y = c += 100 + static_cast<double>(rng() % 3);
      break;
    }
  }
  return v;
}

std::vector<Sample> zip(const std::vector<std::int64_t>& t, const std::vector<double>& v) {
  std::vector<Sample> s(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) s[i] = {t[i], v[i]};
  return s;
}

// Decodes with ChunkIterator and compares bit-exactly.
void require_decodes_to(std::span<const std::uint8_t> chunk, std::span<const Sample> want,
                        std::span<const std::uint8_t> timestamps = {}) {
  REQUIRE(tsdb::chunk_num_samples(chunk) == want.size());
  ChunkIterator it(chunk, timestamps);
  std::size_t i = 0;
  while (it.next()) {
    REQUIRE(i < want.size());
    INFO("sample " << i);
    REQUIRE(it.t() == want[i].timestamp_ms);
    REQUIRE(bits(it.v()) == bits(want[i].value));
    ++i;
  }
  REQUIRE(i == want.size());
  CHECK_FALSE(it.next());
}

void check_round_trip(std::span<const Sample> s, bool every_appender_step) {
  auto chunk = tsdb::encode_chunk(s);
  INFO("encoding " << static_cast<int>(tsdb::chunk_encoding(chunk)) << ", " << s.size()
                   << " samples");
  require_decodes_to(chunk, s);
  auto decoded = tsdb::decode_chunk(chunk);
  REQUIRE(decoded.size() == s.size());

  auto plain = tsdb::encode_chunk_xor(s);
  require_decodes_to(plain, s);
  CHECK(chunk.size() <= plain.size());  // the chooser never loses to kXor

  // The shared-timestamps form: values alone plus a timestamp column.
  auto values = tsdb::encode_values_chunk(s);
  auto column = tsdb::encode_timestamps_chunk(s);
  CHECK(tsdb::chunk_encoding(values) == ChunkEncoding::kSharedTimestamps);
  require_decodes_to(values, s, column);
  // Never bigger than the values part of the best standalone chunk: a
  // standalone chunk costs at least the 4-byte header plus t0 more.
  CHECK(values.size() <= chunk.size());

  XorAppender a;
  for (std::size_t i = 0; i < s.size(); ++i) {
    a.append(s[i].timestamp_ms, s[i].value);
    if (every_appender_step || i + 1 == s.size() || i % 997 == 0) {
      require_decodes_to(a.bytes(), s.first(i + 1));
    }
  }
  REQUIRE(a.num_samples() == s.size());
  CHECK(a.min_time() == s.front().timestamp_ms);
  CHECK(a.max_time() == s.back().timestamp_ms);
  CHECK(std::equal(a.bytes().begin(), a.bytes().end(), plain.begin(), plain.end()));
}

}  // namespace

TEST_CASE("chunk codec: random series round-trip bit-exactly", "[tsdb][chunk]") {
  std::mt19937_64 rng(20240601);
  const std::size_t sizes[] = {1, 2, 3, 4, 7, 120, 121, 240, 1000};
  for (int ts = 0; ts < kTsKinds; ++ts) {
    for (int val = 0; val < kValKinds; ++val) {
      for (std::size_t n : sizes) {
        for (int rep = 0; rep < 2; ++rep) {
          auto s = zip(make_timestamps(rng, static_cast<Ts>(ts), n),
                       make_values(rng, static_cast<Val>(val), n));
          INFO("ts kind " << ts << ", value kind " << val << ", n " << n << ", rep " << rep);
          check_round_trip(s, n <= 240);
        }
      }
    }
  }
}

TEST_CASE("chunk codec: 65535 samples, the maximum", "[tsdb][chunk]") {
  std::mt19937_64 rng(99);
  for (Val val : {Val::kCounterResets, Val::kRandomWalk, Val::kSpecialsMixed}) {
    auto s = zip(make_timestamps(rng, Ts::kJitter, 65535), make_values(rng, val, 65535));
    check_round_trip(s, false);
  }
  auto s = zip(make_timestamps(rng, Ts::kRegular, 65536), make_values(rng, Val::kIntegers, 65536));
  CHECK_THROWS_AS(tsdb::encode_chunk(s), std::invalid_argument);
  XorAppender a;
  for (std::size_t i = 0; i < 65535; ++i) a.append(s[i].timestamp_ms, s[i].value);
  CHECK_THROWS_AS(a.append(s[65535].timestamp_ms, 1), std::length_error);
}

TEST_CASE("chunk codec: every special float in every position", "[tsdb][chunk]") {
  const auto& sp = specials();
  for (std::size_t a = 0; a < sp.size(); ++a) {
    for (std::size_t b = 0; b < sp.size(); ++b) {
      std::vector<Sample> s = {{1000, sp[a]}, {2000, 1.5},   {3000, sp[b]},
                               {4000, sp[b]}, {5000, sp[a]}, {6000, 2.0}};
      check_round_trip(s, true);
    }
    // A whole chunk of one special value, and a decimal-looking series with one inside.
    std::vector<Sample> c;
    std::vector<Sample> d;
    for (int i = 0; i < 50; ++i) {
      c.push_back({i * 15'000, sp[a]});
      d.push_back({i * 15'000, i == 25 ? sp[a] : i * 0.25});
    }
    check_round_trip(c, true);
    check_round_trip(d, true);
  }
}

TEST_CASE("chunk codec: extreme timestamps", "[tsdb][chunk]") {
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::vector<std::vector<Sample>> cases = {
      {{kMin / 2, 1}, {kMax / 2, 2}},
      {{kMin, 1}, {kMin + 1, 2}, {kMax - 1, 3}, {kMax, 4}},
      {{kMin, 1}, {kMax, 2}},
      {
          {kMin, 1},
          {0, 2},
          {kMax, 3},
      },
      {{kMax, 7}},
      {{kMin, 7}},
      {{-1, 0.5}, {0, 0.25}, {1, 0.125}, {kMax / 2, 1e300}, {kMax / 2 + 1, -1e-300}},
  };
  for (const auto& s : cases) check_round_trip(s, true);
}

TEST_CASE("chunk codec: decimal and constant encodings are chosen and smaller", "[tsdb][chunk]") {
  std::mt19937_64 rng(5);
  auto ts = make_timestamps(rng, Ts::kJitter, 120);

  auto counter = zip(ts, make_values(rng, Val::kCounterResets, 120));
  auto c = tsdb::encode_chunk(counter);
  auto cx = tsdb::encode_chunk_xor(counter);
  CHECK(tsdb::chunk_encoding(c) == ChunkEncoding::kDecimal);
  CHECK(c.size() * 3 < cx.size() * 2);

  auto ints = zip(ts, make_values(rng, Val::kIntegers, 120));
  auto i = tsdb::encode_chunk(ints);
  CHECK(tsdb::chunk_encoding(i) == ChunkEncoding::kDecimal);
  CHECK(i.size() < tsdb::encode_chunk_xor(ints).size());

  auto gauge = zip(ts, make_values(rng, Val::kFewDecimals, 120));
  auto g = tsdb::encode_chunk(gauge);
  CHECK(tsdb::chunk_encoding(g) == ChunkEncoding::kDecimal);
  CHECK(g.size() < tsdb::encode_chunk_xor(gauge).size());

  std::vector<Sample> stale;
  for (auto t : ts) stale.push_back({t, std::bit_cast<double>(strata::wire::kStaleNaNBits)});
  auto k = tsdb::encode_chunk(stale);
  CHECK(tsdb::chunk_encoding(k) == ChunkEncoding::kConstant);
  CHECK(k.size() < tsdb::encode_chunk_xor(stale).size());

  // Regular timestamps + constant: a few header bytes in total.
  std::vector<Sample> flat;
  for (int j = 0; j < 120; ++j) flat.push_back({1'700'000'000'000 + j * 15'000, 3.141592653589793});
  auto f = tsdb::encode_chunk(flat);
  CHECK(tsdb::chunk_encoding(f) == ChunkEncoding::kConstant);
  CHECK(f.size() <= 24);

  // Arbitrary doubles: XOR (packed or not), never decimal.
  auto noise = zip(ts, make_values(rng, Val::kRandomWalk, 120));
  auto x = tsdb::chunk_encoding(tsdb::encode_chunk(noise));
  CHECK((x == ChunkEncoding::kXor || x == ChunkEncoding::kXorPacked));

  // 0.1 + 0.2 has no short decimal form; -0.0 has none at all.
  std::vector<Sample> odd = {{1, 0.1}, {2, 0.1 + 0.2}, {3, 0.5}};
  check_round_trip(odd, true);
  std::vector<Sample> negzero = {{1, 1.0}, {2, -0.0}, {3, 2.0}};
  check_round_trip(negzero, true);
  CHECK(tsdb::chunk_encoding(tsdb::encode_chunk(negzero)) != ChunkEncoding::kDecimal);
}

TEST_CASE("chunk codec: bytes/sample of a 15s-scrape counter with ms jitter", "[tsdb][chunk]") {
  // A request counter: ~50 req/s with Poisson-ish noise, scraped every 15 s,
  // timestamps jittered by a few ms; 120-sample chunks (30 min) as Prometheus cuts them.
  std::mt19937_64 rng(2024);
  std::poisson_distribution<int> reqs(750);
  std::size_t ours = 0, plain = 0, samples = 0;
  double c = 0;
  std::int64_t t = 1'700'000'000'000;
  for (int chunk = 0; chunk < 50; ++chunk) {
    std::vector<Sample> s;
    for (int i = 0; i < 120; ++i) {
      t += 15'000 + static_cast<std::int64_t>(rng() % 7) - 3;
      c += reqs(rng);
      s.push_back({t, c});
    }
    ours += tsdb::encode_chunk(s).size();
    plain += tsdb::encode_chunk_xor(s).size();
    samples += s.size();
  }
  double b_ours = static_cast<double>(ours) / static_cast<double>(samples);
  double b_plain = static_cast<double>(plain) / static_cast<double>(samples);
  WARN("15s counter with ms jitter: " << b_ours << " bytes/sample (plain Gorilla: " << b_plain
                                      << ")");
  CHECK(b_ours < 1.75);
  CHECK(b_ours < b_plain * 0.7);
}

TEST_CASE("chunk codec: truncated, extended and bit-flipped chunks never crash", "[tsdb][chunk]") {
  std::mt19937_64 rng(31337);
  std::size_t threw = 0, decoded = 0;
  for (int ts = 0; ts < kTsKinds; ++ts) {
    for (int val = 0; val < kValKinds; ++val) {
      auto s = zip(make_timestamps(rng, static_cast<Ts>(ts), 40),
                   make_values(rng, static_cast<Val>(val), 40));
      const auto column = tsdb::encode_timestamps_chunk(s);
      for (auto chunk :
           {tsdb::encode_chunk(s), tsdb::encode_chunk_xor(s), tsdb::encode_values_chunk(s)}) {
        // Every strict prefix is detected as truncated.
        for (std::size_t len = 0; len < chunk.size(); ++len) {
          std::vector<std::uint8_t> cut(chunk.begin(),
                                        chunk.begin() + static_cast<std::ptrdiff_t>(len));
          REQUIRE_THROWS_AS(tsdb::decode_chunk(cut, column), ChunkFormatError);
        }
        // Trailing garbage is detected.
        auto longer = chunk;
        longer.push_back(static_cast<std::uint8_t>(rng()));
        REQUIRE_THROWS_AS(tsdb::decode_chunk(longer, column), ChunkFormatError);
        // Any single bit flip: an error or some decoded samples, never UB.
        for (std::size_t bit = 0; bit < chunk.size() * 8; ++bit) {
          auto bad = chunk;
          bad[bit / 8] ^= static_cast<std::uint8_t>(0x80 >> (bit % 8));
          try {
            auto out = tsdb::decode_chunk(bad, column);
            REQUIRE(out.size() == tsdb::chunk_num_samples(bad));
            for (std::size_t i = 1; i < out.size(); ++i) {
              REQUIRE(out[i].timestamp_ms > out[i - 1].timestamp_ms);
            }
            ++decoded;
          } catch (const ChunkFormatError& e) {
            REQUIRE(e.offset() <= bad.size());
            ++threw;
          }
        }
      }
    }
  }
  INFO(threw << " flips rejected, " << decoded << " decoded to other samples");
  CHECK(threw > 0);
  CHECK(decoded > 0);
}

TEST_CASE("chunk codec: header validation", "[tsdb][chunk]") {
  std::vector<Sample> s = {{1000, 1.0}, {2000, 2.0}, {3000, 4.0}};
  auto chunk = tsdb::encode_chunk(s);
  CHECK(tsdb::chunk_num_samples(chunk) == 3);

  auto v2 = chunk;
  v2[0] = 2;
  try {
    tsdb::decode_chunk(v2);
    FAIL("accepted version 2");
  } catch (const ChunkFormatError& e) {
    CHECK(e.offset() == 0);
    CHECK(std::string(e.what()).find("version") != std::string::npos);
  }
  for (std::uint8_t enc : {0, 6, 255}) {
    auto bad = chunk;
    bad[1] = enc;
    try {
      tsdb::chunk_encoding(bad);
      FAIL("accepted encoding " << int(enc));
    } catch (const ChunkFormatError& e) {
      CHECK(e.offset() == 1);
    }
  }
  auto more = chunk;
  more[3] = 4;  // count says 4, stream holds 3
  CHECK_THROWS_AS(tsdb::decode_chunk(more), ChunkFormatError);
  auto fewer = chunk;
  fewer[3] = 2;  // count says 2: the rest is trailing data
  CHECK_THROWS_AS(tsdb::decode_chunk(fewer), ChunkFormatError);

  CHECK_THROWS_AS(tsdb::chunk_num_samples(std::vector<std::uint8_t>{1, 1, 0}), ChunkFormatError);
  CHECK_THROWS_AS(ChunkIterator(std::vector<std::uint8_t>{}), ChunkFormatError);

  // An empty appender is a valid empty kXor chunk; count 0 is invalid elsewhere.
  XorAppender empty;
  CHECK(tsdb::decode_chunk(empty.bytes()).empty());
  CHECK(empty.num_samples() == 0);
  CHECK(empty.memory_bytes() > 0);
  CHECK_THROWS_AS(tsdb::decode_chunk(std::vector<std::uint8_t>{1, 2, 0, 0}), ChunkFormatError);
  CHECK_THROWS_AS(tsdb::decode_chunk(std::vector<std::uint8_t>{1, 1, 0, 0}), ChunkFormatError);
  CHECK_THROWS_AS(tsdb::decode_chunk(std::vector<std::uint8_t>{1, 1, 0, 0, 0x80, 0}),
                  ChunkFormatError);
  CHECK_THROWS_AS(tsdb::decode_chunk(std::vector<std::uint8_t>{1, 1, 0, 0, 0xC0}),
                  ChunkFormatError);
}

TEST_CASE("chunk codec: non-increasing timestamps are rejected on both sides", "[tsdb][chunk]") {
  std::vector<Sample> dup = {{1000, 1}, {1000, 2}};
  std::vector<Sample> back = {{1000, 1}, {2000, 2}, {1500, 3}};
  CHECK_THROWS_AS(tsdb::encode_chunk(dup), std::invalid_argument);
  CHECK_THROWS_AS(tsdb::encode_chunk(back), std::invalid_argument);
  CHECK_THROWS_AS(tsdb::encode_chunk(std::vector<Sample>{}), std::invalid_argument);
  XorAppender a;
  a.append(1000, 1);
  CHECK_THROWS_AS(a.append(1000, 2), std::logic_error);
  CHECK_THROWS_AS(a.append(999, 2), std::logic_error);
  CHECK(a.num_samples() == 1);
  require_decodes_to(a.bytes(), std::vector<Sample>{{1000, 1}});

  // A hand-made kXor chunk whose second delta is 0.
  strata::tsdb::BitWriter w;
  w.write_bits(1, 8);
  w.write_bits(1, 8);
  w.write_bits(2, 16);
  w.write_uvarint(2000);  // zigzag(1000)
  w.write_bits(0, 64);
  w.write_uvarint(0);  // delta 0
  w.write_bits(0, 1);
  w.write_bit(true);
  try {
    tsdb::decode_chunk(w.bytes());
    FAIL("accepted equal timestamps");
  } catch (const ChunkFormatError& e) {
    CHECK(std::string(e.what()).find("increasing") != std::string::npos);
  }
}

TEST_CASE("chunk codec: shared timestamps are checked against their column", "[tsdb][chunk]") {
  std::vector<Sample> s, other;
  for (int i = 0; i < 100; ++i) {
    s.push_back({1'700'000'000'000 + i * 15'000 + (i % 3) * 4, i * 0.5});
    other.push_back({1'700'000'000'000 + i * 15'000, 1.0});
  }
  auto values = tsdb::encode_values_chunk(s);
  auto column = tsdb::encode_timestamps_chunk(s);
  // Without its column, with a column of another length, with a column that
  // is itself a values-only chunk: rejected, never guessed.
  CHECK_THROWS_WITH(tsdb::decode_chunk(values), Catch::Contains("needs its timestamp column"));
  auto shorter = tsdb::encode_timestamps_chunk(std::span<const Sample>(s).first(99));
  CHECK_THROWS_WITH(tsdb::decode_chunk(values, shorter), Catch::Contains("differs from its"));
  CHECK_THROWS_AS(tsdb::decode_chunk(values, tsdb::encode_values_chunk(s)), ChunkFormatError);
  // Any column of the right length gives its timestamps to the values.
  auto with_other = tsdb::decode_chunk(values, tsdb::encode_timestamps_chunk(other));
  REQUIRE(with_other.size() == 100);
  CHECK(with_other[7].timestamp_ms == other[7].timestamp_ms);
  CHECK(with_other[7].value == 3.5);
  // Standalone chunks ignore a column.
  require_decodes_to(tsdb::encode_chunk(s), s, tsdb::encode_timestamps_chunk(other));
  // Jittered timestamps are most of a chunk: the values alone are far smaller.
  auto standalone = tsdb::encode_chunk(s);
  INFO("standalone " << standalone.size() << " B, values " << values.size() << " B, column "
                     << column.size() << " B");
  CHECK(values.size() * 2 < standalone.size());
}

TEST_CASE("chunk codec: a values-only chunk over its column decoded once", "[tsdb][chunk]") {
  std::vector<Sample> s;
  for (int i = 0; i < 300; ++i) s.push_back({1'700'000'000'000 + i * 15'000 + (i % 5), i * 0.25});
  auto values = tsdb::encode_values_chunk(s);
  auto column = tsdb::decode_timestamps(tsdb::encode_timestamps_chunk(s));
  REQUIRE(column.size() == 300);
  ChunkIterator it(values, std::span<const std::int64_t>(column));
  std::size_t i = 0;
  while (it.next()) {
    REQUIRE(it.t() == s[i].timestamp_ms);
    REQUIRE(bits(it.v()) == bits(s[i].value));
    ++i;
  }
  CHECK(i == 300);
  // A column of another length, or a chunk that has its own timestamps.
  std::vector<std::int64_t> shorter(column.begin(), column.end() - 1);
  CHECK_THROWS_WITH(ChunkIterator(values, std::span<const std::int64_t>(shorter)),
                    Catch::Contains("differs from its timestamp column"));
  CHECK_THROWS_AS(ChunkIterator(tsdb::encode_chunk(s), std::span<const std::int64_t>(column)),
                  ChunkFormatError);
  // A column that is itself values-only does not decode.
  CHECK_THROWS_AS(tsdb::decode_timestamps(values), ChunkFormatError);
}

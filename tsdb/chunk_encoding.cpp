#include "tsdb/chunk_encoding.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>

namespace strata::tsdb {

ChunkFormatError::ChunkFormatError(std::string what, std::size_t offset)
    : std::runtime_error("malformed chunk at byte " + std::to_string(offset) + ": " + what),
      offset_(offset) {}

namespace {

// Exactly representable powers of ten: m * 10^e and m / 10^-e are then one
// correctly rounded IEEE operation on exact operands, i.e. the double nearest
// to the decimal m*10^e -- the same double a parser of "m e<e>" yields.
constexpr int kMaxExp = 22;
constexpr double kPow10[kMaxExp + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr double kMantissaLimit = 9007199254740992.0;  // 2^53: exact in a double
constexpr std::int64_t kMantissaLimitI = std::int64_t{1} << 53;

inline std::uint64_t zigzag(std::int64_t x) {
  return (static_cast<std::uint64_t>(x) << 1) ^ static_cast<std::uint64_t>(x >> 63);
}
inline std::uint64_t unzigzag(std::uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }
inline unsigned bit_len(std::uint64_t z) { return 64 - static_cast<unsigned>(std::countl_zero(z)); }
inline unsigned uvarint_bits(std::uint64_t v) {
  unsigned groups = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++groups;
  }
  return 8 * groups;
}

inline double decimal_value(std::int64_t m, int e) {
  return e >= 0 ? static_cast<double>(m) * kPow10[e] : static_cast<double>(m) / kPow10[-e];
}

// Prefix code + payload in one write when it fits a word.
template <class Out>
inline void emit(Out& w, std::uint64_t prefix, unsigned plen, std::uint64_t payload,
                 unsigned width) {
  if (plen + width <= 56) {
    w.write_bits((prefix << width) | payload, plen + width);
  } else {
    w.write_bits(prefix, plen);
    w.write_bits(payload, width);
  }
}

struct BitCounter {
  std::uint64_t bits = 0;
  void write_bits(std::uint64_t, unsigned n) { bits += n; }
};

void write_header(BitWriter& w, ChunkEncoding enc, std::size_t n) {
  w.write_bits(kChunkFormatVersion, 8);
  w.write_bits(static_cast<std::uint8_t>(enc), 8);
  w.write_bits(n, 16);
}

// ---- kXor timestamps: fixed delta-of-delta buckets (zigzag payload) -------
// Millisecond scrape timestamps: dod 0 for a perfectly regular scraper,
// within +-64 ms for jitter, +-8 s for a slow scrape, then bigger gaps; the
// 64-bit bucket makes any int64 jump representable.
struct FixedBucket {
  std::uint8_t prefix;
  std::uint8_t prefix_len;
  std::uint8_t width;
};
constexpr FixedBucket kFixed[6] = {{0b0, 1, 0},     {0b10, 2, 7},     {0b110, 3, 14},
                                   {0b1110, 4, 20}, {0b11110, 5, 32}, {0b11111, 5, 64}};
inline const FixedBucket& fixed_bucket(std::uint64_t zz) {
  if (zz == 0) return kFixed[0];
  if (zz < (std::uint64_t{1} << 7)) return kFixed[1];
  if (zz < (std::uint64_t{1} << 14)) return kFixed[2];
  if (zz < (std::uint64_t{1} << 20)) return kFixed[3];
  if (zz < (std::uint64_t{1} << 32)) return kFixed[4];
  return kFixed[5];
}
template <class Out>
inline void put_fixed_dod(Out& w, std::uint64_t zz) {
  const FixedBucket& b = fixed_bucket(zz);
  emit(w, b.prefix, b.prefix_len, zz, b.width);
}

// ---- XOR values (Gorilla) --------------------------------------------------
// '0': same value; '10': XOR fits the previous leading/trailing-zero window,
// its meaningful bits follow; '11' + 5 bits leading zeros + 6 bits
// meaningful length (0 means 64) + the meaningful bits.
template <class Out>
inline void put_xor(Out& w, std::uint64_t cur, std::uint64_t& prev, std::uint8_t& lead,
                    std::uint8_t& trail) {
  std::uint64_t x = cur ^ prev;
  prev = cur;
  if (x == 0) {
    w.write_bits(0, 1);
    return;
  }
  unsigned l = static_cast<unsigned>(std::countl_zero(x));
  unsigned t = static_cast<unsigned>(std::countr_zero(x));
  if (l > 31) l = 31;  // 5-bit field
  if (lead != 0xff && l >= lead && t >= trail) {
    emit(w, 0b10, 2, x >> trail, 64 - lead - trail);
    return;
  }
  lead = static_cast<std::uint8_t>(l);
  trail = static_cast<std::uint8_t>(t);
  unsigned sig = 64 - l - t;
  w.write_bits((std::uint64_t{0b11} << 11) | (l << 6) | (sig & 63), 13);
  w.write_bits(x >> t, sig);
}

// ---- packed buckets: four prefix codes with per-chunk widths --------------
// '0' w0 bits, '10' w1, '110' w2, '111' w3 (zigzag payload). Widths are 7-bit
// fields (0..64); all four 0 means every value is 0 and no code is written.
struct BucketPlan {
  std::uint8_t w[4] = {};
  std::uint64_t code_bits = 0;  // excluding the 28 width bits
  bool codes = false;
};

// Picks the widths minimising the total size for values whose zigzag bit
// lengths have histogram `hist`. Only lengths that occur (and 0) can be an
// optimal width; w3 must hold the longest. O(k^2) over the k distinct
// lengths: best (w0) per w1 first, then every (w1, w2).
BucketPlan plan_buckets(const std::array<std::uint32_t, 65>& hist, std::uint64_t count) {
  BucketPlan p;
  unsigned maxlen = 64;
  while (maxlen > 0 && hist[maxlen] == 0) --maxlen;
  if (count == 0 || maxlen == 0) return p;
  p.codes = true;
  unsigned len[65];
  std::uint64_t cum[65];
  unsigned k = 0;
  std::uint64_t c = hist[0];
  len[k] = 0;
  cum[k++] = c;
  for (unsigned b = 1; b <= maxlen; ++b) {
    if (hist[b] == 0) continue;
    c += hist[b];
    len[k] = b;
    cum[k++] = c;
  }
  std::uint64_t best0[65];
  unsigned arg0[65];
  for (unsigned j = 0; j < k; ++j) {
    best0[j] = UINT64_MAX;
    for (unsigned i = 0; i <= j; ++i) {
      std::uint64_t cost = cum[i] * (1 + len[i]) + (cum[j] - cum[i]) * (2 + len[j]);
      if (cost < best0[j]) {
        best0[j] = cost;
        arg0[j] = i;
      }
    }
  }
  std::uint64_t best = UINT64_MAX;
  for (unsigned j = 0; j < k; ++j) {
    for (unsigned m = j; m < k; ++m) {
      std::uint64_t cost =
          best0[j] + (cum[m] - cum[j]) * (3 + len[m]) + (count - cum[m]) * (3 + maxlen);
      if (cost < best) {
        best = cost;
        p.w[0] = static_cast<std::uint8_t>(len[arg0[j]]);
        p.w[1] = static_cast<std::uint8_t>(len[j]);
        p.w[2] = static_cast<std::uint8_t>(len[m]);
      }
    }
  }
  p.w[3] = static_cast<std::uint8_t>(maxlen);
  p.code_bits = best;
  return p;
}

inline void put_bucket(BitWriter& w, const BucketPlan& p, std::uint64_t zz) {
  unsigned len = bit_len(zz);
  if (len <= p.w[0]) {
    emit(w, 0b0, 1, zz, p.w[0]);
  } else if (len <= p.w[1]) {
    emit(w, 0b10, 2, zz, p.w[1]);
  } else if (len <= p.w[2]) {
    emit(w, 0b110, 3, zz, p.w[2]);
  } else {
    emit(w, 0b111, 3, zz, p.w[3]);
  }
}
void put_widths(BitWriter& w, const BucketPlan& p) {
  for (std::uint8_t x : p.w) w.write_bits(x, 7);
}
constexpr unsigned kWidthsBits = 28;

// ---- decimal detection -------------------------------------------------------
enum class Fit { kOk, kInexact, kOverflow };

inline Fit to_mantissa(double v, int e, std::int64_t& m) {
  if (e == 0) {  // integers, the common case: no division needed
    if (!(std::fabs(v) < kMantissaLimit)) return Fit::kOverflow;
    m = static_cast<std::int64_t>(v);
    return std::bit_cast<std::uint64_t>(static_cast<double>(m)) == std::bit_cast<std::uint64_t>(v)
               ? Fit::kOk
               : Fit::kInexact;
  }
  double s = e >= 0 ? v / kPow10[e] : v * kPow10[-e];
  if (!(std::fabs(s) < kMantissaLimit)) return Fit::kOverflow;  // NaN and Inf too
  m = static_cast<std::int64_t>(std::nearbyint(s));
  // The decoder's own formula decides: whatever passes is bit-exact.
  if (std::bit_cast<std::uint64_t>(decimal_value(m, e)) != std::bit_cast<std::uint64_t>(v)) {
    return Fit::kInexact;
  }
  return Fit::kOk;
}

// Finds the largest shared exponent e at which every value is m * 10^e.
// Starts optimistic (e = 22) and lowers e whenever a value does not fit,
// rescaling the mantissas found so far (same rational number, so the decoded
// double is unchanged). Gives up as soon as a mantissa would reach 2^53: for
// arbitrary doubles that happens on the first value, so the attempt is cheap.
bool find_decimal(std::span<const wire::Sample> s, int& e_out, std::vector<std::int64_t>& m) {
  m.resize(s.size());
  int e = kMaxExp;
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (;;) {
      Fit f = to_mantissa(s[i].value, e, m[i]);
      if (f == Fit::kOk) break;
      if (f == Fit::kOverflow || e == -kMaxExp) return false;
      --e;
      for (std::size_t j = 0; j < i; ++j) {
        m[j] *= 10;
        if (m[j] >= kMantissaLimitI || m[j] <= -kMantissaLimitI) return false;
      }
    }
  }
  e_out = e;
  return true;
}

void validate_samples(std::span<const wire::Sample> s) {
  if (s.empty()) throw std::invalid_argument("encode_chunk: no samples");
  if (s.size() > kMaxChunkSamples) {
    throw std::invalid_argument("encode_chunk: " + std::to_string(s.size()) +
                                " samples, at most 65535 fit a chunk");
  }
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i].timestamp_ms <= s[i - 1].timestamp_ms) {
      throw std::invalid_argument("encode_chunk: timestamps not strictly increasing at index " +
                                  std::to_string(i));
    }
  }
}

// Delta arithmetic in uint64: t[i] - t[i-1] of increasing int64s is in
// [1, 2^64-1], and the delta-of-delta wraps consistently on both sides.
inline std::uint64_t udiff(std::int64_t a, std::int64_t b) {
  return static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b);
}

}  // namespace

// ---- XorAppender -------------------------------------------------------------

XorAppender::XorAppender() : w_(32) {
  write_header(w_, ChunkEncoding::kXor, 0);
  w_.write_bit(true);  // end marker
}

void XorAppender::append(std::int64_t t, double v) {
  if (n_ >= kMaxChunkSamples) throw std::length_error("XorAppender: chunk holds 65535 samples");
  if (n_ > 0 && t <= t_) throw std::logic_error("XorAppender: timestamps must strictly increase");
  std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
  w_.unwrite_bits(1);  // the end marker moves behind the new sample
  if (n_ == 0) {
    w_.write_uvarint(zigzag(t));
    w_.write_bits(bits, 64);
    vbits_ = bits;
    min_t_ = t;
  } else {
    std::uint64_t d = udiff(t, t_);
    if (n_ == 1) {
      w_.write_uvarint(d);
    } else {
      put_fixed_dod(w_, zigzag(static_cast<std::int64_t>(d - delta_)));
    }
    delta_ = d;
    put_xor(w_, bits, vbits_, lead_, trail_);
  }
  w_.write_bit(true);
  t_ = t;
  ++n_;
  w_.overwrite_byte(2, static_cast<std::uint8_t>(n_ >> 8));
  w_.overwrite_byte(3, static_cast<std::uint8_t>(n_));
}

// ---- encode_chunk --------------------------------------------------------------

std::vector<std::uint8_t> encode_chunk_xor(std::span<const wire::Sample> samples) {
  validate_samples(samples);
  XorAppender a;
  for (const auto& s : samples) a.append(s.timestamp_ms, s.value);
  auto b = a.bytes();
  return {b.begin(), b.end()};
}

namespace {

// Plan for an integer sequence given as its n-1 deltas (wrapping uint64
// arithmetic): base mode codes zigzag(delta - base) for every delta, with base
// the median delta (steady counters, jittered scrape intervals: the residuals
// are the noise itself); dod mode codes the first delta as a varint and then
// zigzag(delta - previous delta) (trends that drift). Both are sized exactly
// with optimal bucket widths and the smaller one is kept.
struct StreamPlan {
  bool dod = false;
  std::uint64_t first = 0;  // base or first delta
  BucketPlan buckets;
  std::uint64_t bits = 0;  // everything the stream writes (header and codes)
  std::span<const std::uint64_t> deltas;
  std::size_t coded() const {
    return dod ? (deltas.empty() ? 0 : deltas.size() - 1) : deltas.size();
  }
};

std::uint64_t first_bits(std::uint64_t first, bool zigzag_first) {
  return uvarint_bits(zigzag_first ? zigzag(static_cast<std::int64_t>(first)) : first);
}

// `scratch`: reused buffer for the median.
StreamPlan plan_stream(std::span<const std::uint64_t> deltas, bool zigzag_first,
                       std::vector<std::int64_t>& scratch) {
  StreamPlan base, dod;
  base.deltas = dod.deltas = deltas;
  if (deltas.empty()) return base;
  // The median of up to 31 evenly spaced deltas: near-optimal as a base and
  // O(1), where a full nth_element was the encoder's biggest cost.
  scratch.clear();
  const std::size_t step = deltas.size() / 31 + 1;
  for (std::size_t i = step / 2; i < deltas.size(); i += step) {
    scratch.push_back(static_cast<std::int64_t>(deltas[i]));
  }
  auto mid = scratch.begin() + static_cast<std::ptrdiff_t>(scratch.size() / 2);
  std::nth_element(scratch.begin(), mid, scratch.end());
  base.first = static_cast<std::uint64_t>(*mid);
  std::array<std::uint32_t, 65> hb{}, hd{};
  ++hb[bit_len(zigzag(static_cast<std::int64_t>(deltas[0] - base.first)))];
  for (std::size_t i = 1; i < deltas.size(); ++i) {
    ++hb[bit_len(zigzag(static_cast<std::int64_t>(deltas[i] - base.first)))];
    ++hd[bit_len(zigzag(static_cast<std::int64_t>(deltas[i] - deltas[i - 1])))];
  }
  base.buckets = plan_buckets(hb, deltas.size());
  base.bits = 1 + first_bits(base.first, zigzag_first) + kWidthsBits + base.buckets.code_bits;
  dod.dod = true;
  dod.first = deltas[0];
  dod.buckets = plan_buckets(hd, deltas.size() - 1);
  dod.bits = 1 + first_bits(dod.first, zigzag_first) +
             (deltas.size() < 2 ? 0 : kWidthsBits + dod.buckets.code_bits);
  return dod.bits < base.bits ? dod : base;
}

void put_stream_header(BitWriter& w, const StreamPlan& p, bool zigzag_first) {
  w.write_bit(p.dod);
  w.write_uvarint(zigzag_first ? zigzag(static_cast<std::int64_t>(p.first)) : p.first);
  if (p.coded() > 0) put_widths(w, p.buckets);
}

// Code of sample i (i >= 1) of a planned stream, if it has one.
inline void put_stream_code(BitWriter& w, const StreamPlan& p, std::size_t i) {
  if (!p.buckets.codes) return;
  if (!p.dod) {
    put_bucket(w, p.buckets, zigzag(static_cast<std::int64_t>(p.deltas[i - 1] - p.first)));
  } else if (i >= 2) {
    put_bucket(w, p.buckets, zigzag(static_cast<std::int64_t>(p.deltas[i - 1] - p.deltas[i - 2])));
  }
}

// The value half of a packed chunk, sized for every applicable kind: XOR
// (always), constant, decimal (when every value is m * 10^e).
enum class ValueKind : std::uint8_t { kXor = 0, kDecimal = 1, kConstant = 2 };
struct ValuePlan {
  std::uint64_t v0 = 0;        // bits of the first value
  std::uint64_t xor_bits = 0;  // XOR codes of samples 1..n-1
  bool constant = true;
  bool decimal = false;
  int exp = 0;
  std::vector<std::int64_t> m;
  std::vector<std::uint64_t> mdeltas;
  StreamPlan mplan;
  // exponent, first mantissa and the mantissa stream
  std::uint64_t decimal_bits() const { return 6 + uvarint_bits(zigzag(m[0])) + mplan.bits; }
};

ValuePlan plan_values(std::span<const wire::Sample> s, std::vector<std::int64_t>& scratch) {
  const std::size_t n = s.size();
  ValuePlan p;
  p.v0 = std::bit_cast<std::uint64_t>(s[0].value);
  BitCounter xor_bits;
  std::uint64_t prev = p.v0;
  std::uint8_t lead = 0xff, trail = 0;
  for (std::size_t i = 1; i < n; ++i) {
    std::uint64_t b = std::bit_cast<std::uint64_t>(s[i].value);
    p.constant &= b == p.v0;
    put_xor(xor_bits, b, prev, lead, trail);
  }
  p.xor_bits = xor_bits.bits;
  if (find_decimal(s, p.exp, p.m)) {
    p.decimal = true;
    p.mdeltas.resize(n - 1);
    for (std::size_t i = 1; i < n; ++i) {
      p.mdeltas[i - 1] =
          static_cast<std::uint64_t>(p.m[i]) - static_cast<std::uint64_t>(p.m[i - 1]);
    }
    p.mplan = plan_stream(p.mdeltas, true, scratch);
  }
  return p;
}

void put_value_header(BitWriter& w, const ValuePlan& p, ValueKind kind) {
  if (kind == ValueKind::kDecimal) {
    w.write_bits(static_cast<std::uint64_t>(p.exp + kMaxExp), 6);
    w.write_uvarint(zigzag(p.m[0]));
    if (p.m.size() >= 2) put_stream_header(w, p.mplan, true);
  } else {
    w.write_bits(p.v0, 64);
  }
}

// Value code of sample i >= 1 (nothing for a constant).
inline void put_value_code(BitWriter& w, const ValuePlan& p, ValueKind kind,
                           std::span<const wire::Sample> s, std::size_t i, std::uint64_t& prev,
                           std::uint8_t& lead, std::uint8_t& trail) {
  if (kind == ValueKind::kXor) {
    put_xor(w, std::bit_cast<std::uint64_t>(s[i].value), prev, lead, trail);
  } else if (kind == ValueKind::kDecimal) {
    put_stream_code(w, p.mplan, i);
  }
}

}  // namespace

std::vector<std::uint8_t> encode_chunk(std::span<const wire::Sample> s) {
  validate_samples(s);
  const std::size_t n = s.size();

  // Timestamps. kXor: fixed buckets; every other encoding: a planned stream.
  const std::uint64_t t0zz = zigzag(s[0].timestamp_ms);
  std::vector<std::uint64_t> deltas(n - 1);
  for (std::size_t i = 1; i < n; ++i)
    deltas[i - 1] = udiff(s[i].timestamp_ms, s[i - 1].timestamp_ms);
  BitCounter fixed_ts;
  fixed_ts.bits = uvarint_bits(t0zz) + (n >= 2 ? uvarint_bits(deltas[0]) : 0);
  for (std::size_t i = 1; i + 1 < n; ++i) {
    put_fixed_dod(fixed_ts, zigzag(static_cast<std::int64_t>(deltas[i] - deltas[i - 1])));
  }
  std::vector<std::int64_t> scratch;
  const StreamPlan tplan = plan_stream(deltas, false, scratch);
  const std::uint64_t ts_packed = uvarint_bits(t0zz) + tplan.bits;

  const ValuePlan vp = plan_values(s, scratch);
  struct Candidate {
    ChunkEncoding enc;
    std::uint64_t bits;  // all of it: 32 header bits, ..., 1 end-marker bit
  };
  Candidate best{ChunkEncoding::kXor, 33 + fixed_ts.bits + 64 + vp.xor_bits};
  auto consider = [&](ChunkEncoding enc, std::uint64_t bits) {
    if ((bits + 7) / 8 <= (best.bits + 7) / 8) best = {enc, bits};
  };
  consider(ChunkEncoding::kXorPacked, 33 + ts_packed + 64 + vp.xor_bits);
  if (vp.constant) consider(ChunkEncoding::kConstant, 33 + ts_packed + 64);
  if (vp.decimal) consider(ChunkEncoding::kDecimal, 33 + ts_packed + vp.decimal_bits());

  if (best.enc == ChunkEncoding::kXor) return encode_chunk_xor(s);

  BitWriter w((best.bits + 7) / 8);
  write_header(w, best.enc, n);
  w.write_uvarint(t0zz);
  if (n >= 2) put_stream_header(w, tplan, false);
  const ValueKind kind = best.enc == ChunkEncoding::kDecimal    ? ValueKind::kDecimal
                         : best.enc == ChunkEncoding::kConstant ? ValueKind::kConstant
                                                                : ValueKind::kXor;
  put_value_header(w, vp, kind);
  std::uint64_t prev = vp.v0;
  std::uint8_t lead = 0xff, trail = 0;
  for (std::size_t i = 1; i < n; ++i) {
    put_stream_code(w, tplan, i);
    put_value_code(w, vp, kind, s, i, prev, lead, trail);
  }
  w.write_bit(true);                             // end marker
  assert(w.byte_size() == (best.bits + 7) / 8);  // the sizing above is exact
  return w.take();
}

std::vector<std::uint8_t> encode_values_chunk(std::span<const wire::Sample> s) {
  validate_samples(s);
  std::vector<std::int64_t> scratch;
  const ValuePlan vp = plan_values(s, scratch);
  ValueKind kind = ValueKind::kXor;
  std::uint64_t bits = 64 + vp.xor_bits;
  if (vp.decimal && vp.decimal_bits() < bits) {
    kind = ValueKind::kDecimal;
    bits = vp.decimal_bits();
  }
  if (vp.constant && 64 < bits) {
    kind = ValueKind::kConstant;
    bits = 64;
  }
  BitWriter w((33 + 2 + bits + 7) / 8);
  write_header(w, ChunkEncoding::kSharedTimestamps, s.size());
  w.write_bits(static_cast<std::uint8_t>(kind), 2);
  put_value_header(w, vp, kind);
  std::uint64_t prev = vp.v0;
  std::uint8_t lead = 0xff, trail = 0;
  for (std::size_t i = 1; i < s.size(); ++i) put_value_code(w, vp, kind, s, i, prev, lead, trail);
  w.write_bit(true);  // end marker
  return w.take();
}

std::vector<std::uint8_t> encode_timestamps_chunk(std::span<const wire::Sample> s) {
  std::vector<wire::Sample> zeros(s.begin(), s.end());
  for (auto& x : zeros) x.value = 0;
  return encode_chunk(zeros);
}

// ---- decoding ----------------------------------------------------------------

namespace {
struct Header {
  ChunkEncoding enc;
  std::uint32_t n;
};
Header parse_header(std::span<const std::uint8_t> c) {
  if (c.size() < kChunkHeaderBytes) {
    throw ChunkFormatError("shorter than the 4-byte header", c.size());
  }
  if (c[0] != kChunkFormatVersion) {
    throw ChunkFormatError("unknown format version " + std::to_string(c[0]), 0);
  }
  if (c[1] < 1 || c[1] > 5) throw ChunkFormatError("unknown encoding " + std::to_string(c[1]), 1);
  Header h{static_cast<ChunkEncoding>(c[1]), static_cast<std::uint32_t>(c[2] << 8 | c[3])};
  if (h.n == 0 && h.enc != ChunkEncoding::kXor) {
    throw ChunkFormatError("sample count 0 is only valid for an empty kXor chunk", 2);
  }
  return h;
}
}  // namespace

std::uint32_t chunk_num_samples(std::span<const std::uint8_t> chunk) {
  return parse_header(chunk).n;
}
ChunkEncoding chunk_encoding(std::span<const std::uint8_t> chunk) {
  return parse_header(chunk).enc;
}

ChunkIterator::ChunkIterator(std::span<const std::uint8_t> chunk,
                             std::span<const std::uint8_t> timestamps)
    : r_(chunk), size_(chunk.size()) {
  Header h = parse_header(chunk);
  enc_ = h.enc;
  n_ = h.n;
  r_.skip(32);
  if (enc_ == ChunkEncoding::kSharedTimestamps) {
    if (timestamps.empty()) {
      throw ChunkFormatError("a shared-timestamps chunk needs its timestamp column", 1);
    }
    if (chunk_encoding(timestamps) == ChunkEncoding::kSharedTimestamps) {
      throw ChunkFormatError("a timestamp column cannot itself share timestamps", 1);
    }
    ts_it_ = std::make_unique<ChunkIterator>(timestamps);
    if (ts_it_->num_samples() != n_) {
      throw ChunkFormatError("sample count " + std::to_string(n_) +
                                 " differs from its timestamp column's " +
                                 std::to_string(ts_it_->num_samples()),
                             2);
    }
  }
  if (n_ == 0) {
    finish();
    return;
  }
  if (enc_ != ChunkEncoding::kXor) read_packed_headers();
}

ChunkIterator::ChunkIterator(std::span<const std::uint8_t> chunk,
                             std::span<const std::int64_t> timestamps)
    : r_(chunk), size_(chunk.size()), ts_decoded_(timestamps) {
  Header h = parse_header(chunk);
  enc_ = h.enc;
  n_ = h.n;
  r_.skip(32);
  if (enc_ != ChunkEncoding::kSharedTimestamps) {
    throw ChunkFormatError("decoded timestamps given for a chunk that has its own", 1);
  }
  if (timestamps.size() != n_) {
    throw ChunkFormatError("sample count " + std::to_string(n_) +
                               " differs from its timestamp column's " +
                               std::to_string(timestamps.size()),
                           2);
  }
  read_packed_headers();
}

void ChunkIterator::fail(const char* what) const {
  throw ChunkFormatError(what, std::min(r_.byte_offset(), size_));
}

void ChunkIterator::read_stream_header(DeltaStream& st, bool zigzag_first) {
  st.dod = r_.read_bit();
  std::uint64_t first = r_.read_uvarint();
  if (zigzag_first) first = unzigzag(first);
  st.delta = st.base = first;
  st.codes = false;
  if (!st.dod || n_ >= 3) {
    for (std::uint8_t& w : st.w) {
      std::uint64_t x = r_.read_bits(7);
      if (x > 64) fail("bucket width above 64");
      w = static_cast<std::uint8_t>(x);
      st.codes |= x != 0;
    }
  }
}

void ChunkIterator::read_packed_headers() {
  if (enc_ == ChunkEncoding::kSharedTimestamps) {
    std::uint64_t k = r_.read_bits(2);
    if (k > 2) fail("unknown value kind 3");
    vkind_ = static_cast<std::uint8_t>(k);
  } else {
    t0_ = static_cast<std::int64_t>(unzigzag(r_.read_uvarint()));
    if (n_ >= 2) read_stream_header(ts_, false);
    vkind_ = enc_ == ChunkEncoding::kDecimal    ? kValueDecimal
             : enc_ == ChunkEncoding::kConstant ? kValueConstant
                                                : kValueXor;
  }
  if (vkind_ == kValueDecimal) {
    std::uint64_t e = r_.read_bits(6);
    if (e > 2 * kMaxExp) fail("decimal exponent out of range");
    exp_ = static_cast<int>(e) - kMaxExp;
    m_ = unzigzag(r_.read_uvarint());
    if (static_cast<std::int64_t>(m_) >= kMantissaLimitI ||
        static_cast<std::int64_t>(m_) <= -kMantissaLimitI) {
      fail("decimal mantissa out of range");
    }
    if (n_ >= 2) read_stream_header(ms_, true);
  } else {
    vbits_ = r_.read_bits(64);
  }
  if (r_.failed()) fail("chunk truncated in its headers");
}

inline std::uint64_t ChunkIterator::read_bucket(const std::uint8_t* widths) {
  // One window load for prefix and payload when they fit its 57 valid bits.
  std::uint64_t word = r_.peek();
  unsigned ones = static_cast<unsigned>(std::countl_one(word));
  if (ones > 3) ones = 3;
  unsigned plen = ones == 3 ? 3 : ones + 1;
  unsigned w = widths[ones];
  if (plen + w <= 57) {
    r_.skip(plen + w);
    return w == 0 ? 0 : (word << plen) >> (64 - w);
  }
  r_.skip(plen);
  return r_.read_bits(w);
}

// Delta of sample i_ (>= 1).
inline std::uint64_t ChunkIterator::next_delta(DeltaStream& st) {
  if (st.dod) {
    if (i_ >= 2 && st.codes) st.delta += unzigzag(read_bucket(st.w));
  } else {
    st.delta = st.codes ? st.base + unzigzag(read_bucket(st.w)) : st.base;
  }
  return st.delta;
}

void ChunkIterator::finish() {
  if (r_.failed()) fail("chunk truncated");
  if (!r_.read_bit()) {
    fail(r_.failed() ? "chunk truncated"
                     : "end marker missing: sample count does not match the data");
  }
  std::size_t left = r_.bits_left();
  if (left >= 8) {
    throw ChunkFormatError("trailing bytes after the last sample", (r_.bit_position() + 7) / 8);
  }
  if (r_.read_bits(static_cast<unsigned>(left)) != 0) fail("non-zero padding bits");
}

inline void ChunkIterator::next_value() {
  if (vkind_ == kValueXor) {
    std::uint64_t w = r_.peek();
    if ((w >> 63) == 0) {
      r_.skip(1);
    } else if ((w >> 62) == 0b10) {
      if (lead_ == 0xff) fail("XOR window reused before one was set");
      if (sig_ <= 55) {
        r_.skip(2 + sig_);
        vbits_ ^= ((w << 2) >> (64 - sig_)) << (64 - lead_ - sig_);
      } else {
        r_.skip(2);
        vbits_ ^= r_.read_bits(sig_) << (64 - lead_ - sig_);
      }
    } else {
      std::uint64_t ctl = r_.read_bits(13);
      unsigned lead = static_cast<unsigned>(ctl >> 6) & 31;
      unsigned sig = static_cast<unsigned>(ctl & 63);
      if (sig == 0) sig = 64;
      if (lead + sig > 64) fail("XOR window wider than 64 bits");
      lead_ = static_cast<std::uint8_t>(lead);
      sig_ = static_cast<std::uint8_t>(sig);
      vbits_ ^= r_.read_bits(sig) << (64 - lead - sig);
    }
  } else if (vkind_ == kValueDecimal) {
    m_ += next_delta(ms_);
    std::int64_t m = static_cast<std::int64_t>(m_);
    if (m >= kMantissaLimitI || m <= -kMantissaLimitI) fail("decimal mantissa out of range");
  }
}

bool ChunkIterator::next() {
  if (i_ >= n_) return false;
  if (i_ == 0) {
    if (enc_ == ChunkEncoding::kXor) {
      t_ = static_cast<std::int64_t>(unzigzag(r_.read_uvarint()));
      vbits_ = r_.read_bits(64);
    } else if (ts_it_) {
      ts_it_->next();
      t_ = ts_it_->t();
    } else if (!ts_decoded_.empty()) {
      t_ = ts_decoded_[0];
    } else {
      t_ = t0_;
    }
  } else if (!ts_decoded_.empty()) {
    t_ = ts_decoded_[i_];
    next_value();
  } else if (ts_it_) {
    ts_it_->next();  // validated by its own iterator: strictly increasing
    t_ = ts_it_->t();
    next_value();
  } else {
    // Timestamp.
    std::uint64_t delta;
    if (enc_ != ChunkEncoding::kXor) {
      delta = next_delta(ts_);
    } else if (i_ == 1) {
      delta = tdelta_ = r_.read_uvarint();
    } else {
      std::uint64_t word = r_.peek();
      unsigned ones = static_cast<unsigned>(std::countl_one(word));
      const FixedBucket& b = kFixed[ones > 5 ? 5 : ones];
      std::uint64_t zz;
      if (b.width == 0) {
        r_.skip(1);
        zz = 0;
      } else if (b.width <= 20) {
        r_.skip(b.prefix_len + b.width);
        zz = (word << b.prefix_len) >> (64 - b.width);
      } else {
        r_.skip(b.prefix_len);
        zz = r_.read_bits(b.width);
      }
      delta = tdelta_ += unzigzag(zz);
    }
    if (r_.failed()) fail("chunk truncated");
    std::int64_t t = static_cast<std::int64_t>(static_cast<std::uint64_t>(t_) + delta);
    if (t <= t_) fail("timestamps not strictly increasing");
    t_ = t;
    next_value();
  }
  if (r_.failed()) fail("chunk truncated");
  v_ = vkind_ == kValueDecimal ? decimal_value(static_cast<std::int64_t>(m_), exp_)
                               : std::bit_cast<double>(vbits_);
  ++i_;
  if (i_ == n_) finish();
  return true;
}

std::vector<std::int64_t> decode_timestamps(std::span<const std::uint8_t> chunk) {
  ChunkIterator it(chunk);
  std::vector<std::int64_t> out;
  out.reserve(it.num_samples());
  while (it.next()) out.push_back(it.t());
  return out;
}

std::vector<wire::Sample> decode_chunk(std::span<const std::uint8_t> chunk,
                                       std::span<const std::uint8_t> timestamps) {
  ChunkIterator it(chunk, timestamps);
  std::vector<wire::Sample> out;
  out.reserve(it.num_samples());
  while (it.next()) out.push_back({it.t(), it.v()});
  return out;
}

}  // namespace strata::tsdb

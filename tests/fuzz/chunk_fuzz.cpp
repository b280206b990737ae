// libFuzzer target for the chunk codec (tsdb/chunk_encoding.h). Chunks are
// read back from disk and from peers, so the decoder must survive any bytes:
//  (a) the input as a chunk: either samples or ChunkFormatError, never a
//      crash, hang, leak or sanitizer report; what decodes must re-encode and
//      decode to the same samples;
//  (b) the input as a recipe for samples (below), encoded with encode_chunk,
//      with the XorAppender and in the shared-timestamps form: all must
//      decode bit-exactly;
//  (c) the input split at its first byte into a values-only chunk and a
//      timestamp column: the same guarantee as (a).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "tsdb/chunk_encoding.h"

namespace {

using strata::wire::Sample;
namespace tsdb = strata::tsdb;

bool same(const std::vector<Sample>& a, const std::vector<Sample>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].timestamp_ms != b[i].timestamp_ms ||
        std::bit_cast<std::uint64_t>(a[i].value) != std::bit_cast<std::uint64_t>(b[i].value)) {
      return false;
    }
  }
  return true;
}

std::uint64_t take(const std::uint8_t*& p, const std::uint8_t* end, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n && p < end; ++i) v = (v << 8) | *p++;
  return v;
}

// Per sample: a control byte, then a timestamp delta of 1/2/4/8 bytes (bits
// 0-1), then the value (bits 2-4): repeat, 8 raw bytes, small integer, two
// decimals, counter step, special value.
std::vector<Sample> samples_from(const std::uint8_t* p, std::size_t size) {
  const std::uint8_t* end = p + size;
  std::vector<Sample> s;
  std::int64_t t = 0;
  double v = 0;
  static const double kSpecial[] = {std::bit_cast<double>(std::uint64_t{0x7ff0000000000002}),
                                    std::numeric_limits<double>::quiet_NaN(),
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    -0.0,
                                    std::numeric_limits<double>::denorm_min(),
                                    std::numeric_limits<double>::max(),
                                    0.0};
  while (p < end && s.size() < tsdb::kMaxChunkSamples) {
    std::uint8_t ctl = *p++;
    std::uint64_t d = take(p, end, std::size_t{1} << (ctl & 3));
    if (s.empty()) {
      t = static_cast<std::int64_t>(d) - (ctl & 0x80 ? std::int64_t{1} << 40 : 0);
    } else {
      if (d == 0) d = 1;
      std::uint64_t room = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) -
                           static_cast<std::uint64_t>(t);
      if (d > room) break;
      t = static_cast<std::int64_t>(static_cast<std::uint64_t>(t) + d);
    }
    switch ((ctl >> 2) & 7) {
      case 0:
        break;
      case 1:
        v = std::bit_cast<double>(take(p, end, 8));
        break;
      case 2:
        v = static_cast<double>(static_cast<std::int8_t>(take(p, end, 1)));
        break;
      case 3:
        v = static_cast<double>(static_cast<std::int16_t>(take(p, end, 2))) / 100;
        break;
      case 4:
        v += static_cast<double>(take(p, end, 1));
        break;
      default:
        v = kSpecial[take(p, end, 1) & 7];
        break;
    }
    s.push_back({t, v});
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::uint8_t> in(data, size);
  try {
    std::vector<Sample> got = tsdb::decode_chunk(in);
    if (got.size() != tsdb::chunk_num_samples(in)) std::abort();
    if (!got.empty() && !same(tsdb::decode_chunk(tsdb::encode_chunk(got)), got)) std::abort();
  } catch (const tsdb::ChunkFormatError& e) {
    if (e.offset() > size) std::abort();
  }

  if (size >= 1) {
    const std::size_t cut = std::min<std::size_t>(data[0], size - 1);
    std::span<const std::uint8_t> column = in.subspan(1, cut), values = in.subspan(1 + cut);
    try {
      std::vector<Sample> got = tsdb::decode_chunk(values, column);
      if (got.size() != tsdb::chunk_num_samples(values)) std::abort();
    } catch (const tsdb::ChunkFormatError& e) {
      if (e.offset() > size) std::abort();
    }
  }

  std::vector<Sample> s = samples_from(data, size);
  if (s.empty()) return 0;
  if (!same(tsdb::decode_chunk(tsdb::encode_chunk(s)), s)) std::abort();
  if (!same(tsdb::decode_chunk(tsdb::encode_values_chunk(s), tsdb::encode_timestamps_chunk(s)), s))
    std::abort();
  tsdb::XorAppender a;
  for (const auto& x : s) a.append(x.timestamp_ms, x.value);
  if (!same(tsdb::decode_chunk(a.bytes()), s)) std::abort();
  return 0;
}

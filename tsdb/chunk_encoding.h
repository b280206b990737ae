// Chunk codec of the time-series store: a run of up to 65535 samples of one
// series, compressed. Format specified byte by byte in docs/format/chunks.md.
//
// Every chunk starts with a 4-byte header -- format version (1), encoding,
// sample count (uint16 big-endian) -- then a bit stream, closed by a '1' end
// marker bit and zero padding to a whole byte. The version byte comes first
// so a future format can change everything after it; a decoder rejects
// versions it does not know rather than misreading them. Chunks are stored
// length-delimited by their caller, so a chunk does not carry its own
// length; the count plus the end marker let the decoder detect truncation,
// trailing bytes and a count that disagrees with the data (except when the
// extra samples would cost zero bits -- a constant, perfectly regular chunk;
// the storage layer's checksum covers that).
//
// Encodings (ChunkEncoding):
//  - kXor: Gorilla (Facebook, VLDB 2015) as Prometheus does it -- timestamps
//    as delta-of-delta in fixed prefix-code buckets, values XORed with their
//    predecessor. The only one that can be written sample by sample, so the
//    head's open chunk (XorAppender) uses it.
//  - kXorPacked, kDecimal, kConstant: written by encode_chunk once all
//    samples are known. They share "packed" timestamps: each delta coded as
//    delta - base (base = the chunk's median delta: jittered scrapes leave
//    just the jitter) or as delta-of-delta, whichever is smaller, in four
//    prefix-code buckets whose widths are chosen per chunk to minimise the
//    size; perfectly regular timestamps cost zero bits per sample.
//    kDecimal stores values that are all exactly m * 10^e (shared e, integer
//    |m| < 2^53) as the integers m, coded the same way (a counter's
//    increments around their median, a gauge's steps); that is what most
//    real Prometheus values are (counters, integer gauges, 0.25, 12.5), and
//    it typically halves the size. kConstant stores one value.
//    encode_chunk computes the exact size of every applicable candidate and
//    writes the smallest, so it never loses to plain Gorilla.
//
// Values round-trip bit-exactly in every encoding: NaN payloads (the stale
// marker 0x7ff0000000000002 included), infinities, -0.0, denormals. Only
// kXor/kXorPacked/kConstant accept non-finite values and -0.0; kDecimal is
// never chosen for a chunk holding one.
//
// Decoding validates everything and throws ChunkFormatError with the byte
// offset of the problem; a malformed chunk never causes an out-of-bounds
// read or undefined behaviour (checked by the fuzz target under ASan/UBSan).
// The inner loops do not allocate.
//
// Thread-safety: free functions are pure and may run concurrently. An
// XorAppender is single-writer: concurrent readers must be synchronised
// externally (the head holds its series lock while copying bytes()). A
// ChunkIterator is a cursor owned by one thread; iterating the same chunk
// from several iterators concurrently is fine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/wire_format.h"
#include "tsdb/bitstream.h"

namespace strata::tsdb {

inline constexpr std::uint8_t kChunkFormatVersion = 1;
inline constexpr std::size_t kChunkHeaderBytes = 4;
inline constexpr std::size_t kMaxChunkSamples = 65535;

// Thrown for any malformed chunk; offset = byte offset in the chunk where
// decoding failed.
class ChunkFormatError : public std::runtime_error {
 public:
  ChunkFormatError(std::string what, std::size_t offset);
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

enum class ChunkEncoding : std::uint8_t {
  kXor = 1,        // streaming Gorilla: fixed dod buckets + XOR values
  kDecimal = 2,    // packed timestamps + decimal mantissas (delta or dod)
  kConstant = 3,   // packed timestamps + one value
  kXorPacked = 4,  // packed timestamps + XOR values
  // Values only (XOR, decimal or constant); the timestamps are those of a
  // separate "timestamp column" chunk the caller supplies (see below).
  kSharedTimestamps = 5,
};

// Streaming Gorilla appender for the head's open chunk. bytes() is a
// complete kXor chunk after every append (the header count is rewritten in
// place), so a reader can snapshot it at any moment.
class XorAppender {
 public:
  XorAppender();
  // t must be > the previous t: std::logic_error otherwise; std::length_error
  // once kMaxChunkSamples samples are held.
  void append(std::int64_t t, double v);
  std::span<const std::uint8_t> bytes() const { return w_.bytes(); }
  std::uint32_t num_samples() const { return n_; }
  // Of the samples held; an empty appender returns 0 for both.
  std::int64_t min_time() const { return min_t_; }
  std::int64_t max_time() const { return t_; }
  std::size_t memory_bytes() const { return w_.capacity_bytes(); }

 private:
  BitWriter w_;
  std::uint32_t n_ = 0;
  std::int64_t min_t_ = 0;
  std::int64_t t_ = 0;
  std::uint64_t delta_ = 0;
  std::uint64_t vbits_ = 0;
  std::uint8_t lead_ = 0xff;  // 0xff: no XOR window yet
  std::uint8_t trail_ = 0;
};

// Encodes sorted samples (strictly increasing timestamps; 1..65535 samples)
// choosing the encoding that gives the fewest bytes. Throws
// std::invalid_argument on unsorted input / empty / too many.
std::vector<std::uint8_t> encode_chunk(std::span<const wire::Sample> samples);
// Same, restricted to kXor (what plain Prometheus would store): baselines.
std::vector<std::uint8_t> encode_chunk_xor(std::span<const wire::Sample> samples);

// Shared timestamps. Every series scraped from one target at once carries
// the same timestamps, and with scrape jitter those timestamps are most of
// a chunk's size. A block therefore stores such a sequence once, as a
// "timestamp column" (any chunk of encodings 1-4 whose values are ignored;
// encode_timestamps_chunk writes one with all values 0), and each series'
// chunk as kSharedTimestamps holding the values alone. encode_values_chunk
// picks the smallest value kind exactly as encode_chunk does.
std::vector<std::uint8_t> encode_values_chunk(std::span<const wire::Sample> samples);
std::vector<std::uint8_t> encode_timestamps_chunk(std::span<const wire::Sample> samples);

// Iterates a chunk, validating as it goes: throws ChunkFormatError on a bad
// header (constructor) or bad data (next()), including trailing garbage,
// count mismatch, non-increasing timestamps. A kSharedTimestamps chunk needs
// `timestamps`, its column (ChunkFormatError without it or when the counts
// differ); other chunks ignore it. Both byte ranges must outlive the
// iterator.
class ChunkIterator {
 public:
  explicit ChunkIterator(std::span<const std::uint8_t> chunk,
                         std::span<const std::uint8_t> timestamps = {});
  // A kSharedTimestamps chunk over its column already decoded (strictly
  // increasing, as decode_timestamps() returns it): what a query uses when
  // many series share one column. ChunkFormatError if `chunk` is not
  // kSharedTimestamps or the counts differ.
  ChunkIterator(std::span<const std::uint8_t> chunk, std::span<const std::int64_t> timestamps);
  // Advances to the next sample; false at the end.
  bool next();
  std::int64_t t() const { return t_; }
  double v() const { return v_; }
  std::uint32_t num_samples() const { return n_; }
  ChunkEncoding encoding() const { return enc_; }

 private:
  // Integer sequence stored as per-sample deltas in packed encodings (the
  // timestamps; the decimal mantissas): either delta - base (base fixed per
  // chunk) or delta-of-delta, with per-chunk bucket widths.
  struct DeltaStream {
    std::uint64_t delta = 0;  // current delta
    std::uint64_t base = 0;   // base mode: the base; dod mode: unused
    std::uint8_t w[4] = {};
    bool codes = false;
    bool dod = false;
  };
  [[noreturn]] void fail(const char* what) const;
  void read_packed_headers();
  void read_stream_header(DeltaStream& s, bool zigzag_first);
  std::uint64_t read_bucket(const std::uint8_t* widths);
  std::uint64_t next_delta(DeltaStream& s);
  void next_value();
  void finish();

  static constexpr std::uint8_t kValueXor = 0, kValueDecimal = 1, kValueConstant = 2;

  BitReader r_;
  std::size_t size_ = 0;
  ChunkEncoding enc_ = ChunkEncoding::kXor;
  std::uint32_t n_ = 0;
  std::uint32_t i_ = 0;
  std::int64_t t_ = 0;
  double v_ = 0;
  std::uint64_t tdelta_ = 0;                  // kXor
  std::int64_t t0_ = 0;                       // packed: from the headers
  DeltaStream ts_;                            // packed timestamps
  std::unique_ptr<ChunkIterator> ts_it_;      // kSharedTimestamps: the column's cursor
  std::span<const std::int64_t> ts_decoded_;  // ... or the column, decoded
  std::uint8_t vkind_ = kValueXor;
  // XOR values
  std::uint64_t vbits_ = 0;
  std::uint8_t lead_ = 0xff;
  std::uint8_t sig_ = 0;
  // decimal values
  int exp_ = 0;
  std::uint64_t m_ = 0;
  DeltaStream ms_;
};

std::vector<wire::Sample> decode_chunk(std::span<const std::uint8_t> chunk,
                                       std::span<const std::uint8_t> timestamps = {});
// The timestamps of any chunk (a timestamp column), validated.
std::vector<std::int64_t> decode_timestamps(std::span<const std::uint8_t> chunk);

// Header-only peeks (throw ChunkFormatError if the header is bad).
std::uint32_t chunk_num_samples(std::span<const std::uint8_t> chunk);
ChunkEncoding chunk_encoding(std::span<const std::uint8_t> chunk);

}  // namespace strata::tsdb

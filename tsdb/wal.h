// Wal: the tsdb's segmented write-ahead log. Every series created and every
// sample accepted by the head is logged here before the Kafka offsets that
// carried it are committed, so a crash at any instant loses nothing: on
// start the head is rebuilt from the last checkpoint plus the segments after
// it, and Kafka redelivers only what was never made durable. Format:
// docs/format/wal.md.
//
// Layout: <dir>/00000001, 00000002, ... (segments, at most `segment_bytes`
// each, cut at record boundaries) and <dir>/checkpoint.NNNNNNNN (the head's
// live state when segments <= NNNNNNNN were dropped).
//
// Records: type (1 byte), payload length (u32 LE), CRC-32 of type+payload
// (u32 LE), payload. Types: series (ref + labels), samples (groups of ref +
// delta-encoded timestamps + raw float64 bits).
//
// Durability (fsync policy): records are buffered in memory until sync().
// sync() writes them and, with FsyncPolicy::kBatch (the default), calls
// fdatasync before returning -- the ingester calls it once per Kafka batch,
// right before committing offsets, so "committed" implies "on disk" even
// across power loss. kNever only write()s: it survives a process crash (the
// page cache outlives us) but not a machine crash; use it only where Kafka's
// retention can replay the gap.
//
// Replay: tolerates a torn last record (a crash mid-write) by truncating the
// segment there; a record with a bad CRC or impossible length anywhere is
// reported with file and offset, the segment is truncated at that point
// (what follows cannot be framed) and replay goes on with the next segment.
//
// Thread-safety: all methods are serialized by one mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/byte_codec.h"
#include "common/labels.h"
#include "common/wire_format.h"

namespace strata::tsdb {

enum class FsyncPolicy { kBatch, kNever };
FsyncPolicy parse_fsync_policy(std::string_view s);  // "batch" | "never"; throws invalid_argument

enum class WalRecordType : std::uint8_t { kSeries = 1, kSamples = 2 };
inline constexpr std::size_t kWalRecordHeader = 9;
inline constexpr std::uint32_t kWalMaxRecord = 64u << 20;

struct WalOptions {
  std::filesystem::path dir;
  std::size_t segment_bytes = 128u << 20;
  FsyncPolicy fsync = FsyncPolicy::kBatch;
};

struct WalCorruption {
  std::string file;
  std::uint64_t offset = 0;
  std::string reason;
  std::string to_string() const;
};

struct WalReplayStats {
  std::uint64_t records = 0;
  std::uint64_t series = 0;
  std::uint64_t samples = 0;
  std::uint64_t segments = 0;
  bool torn_tail = false;                  // a crash left half a record: truncated
  std::vector<WalCorruption> corruptions;  // everything else that was wrong
};

// Encodes records (shared by the log, the checkpoint and the tests).
class WalEncoder {
 public:
  void series(std::uint64_t ref, const Labels& labels);
  // Appended to the pending samples record, finished by finish_samples().
  void samples(std::uint64_t ref, std::span<const wire::Sample> samples);
  void finish_samples();
  std::string& data() { return out_.data(); }
  std::size_t size() const { return out_.size() + pending_.size(); }
  void clear() {
    out_.clear();
    pending_.clear();
  }

 private:
  void record(WalRecordType type, std::string_view payload);
  ByteWriter out_;
  ByteWriter pending_;  // payload of the open samples record
};

// Decodes one record's payload (for replay and the fuzz target). Throws
// FormatError.
using SeriesFn = std::function<void(std::uint64_t ref, const Labels& labels)>;
using SamplesFn = std::function<void(std::uint64_t ref, std::span<const wire::Sample> samples)>;
void decode_wal_record(WalRecordType type, std::span<const std::uint8_t> payload,
                       std::size_t base_offset, const SeriesFn& on_series,
                       const SamplesFn& on_samples);
// Walks every record of an in-memory segment; returns the offset of the
// first byte not consumed (== size when all was valid) and fills `error`.
std::size_t scan_wal_segment(std::span<const std::uint8_t> data, const SeriesFn& on_series,
                             const SamplesFn& on_samples, std::string* error, bool* torn,
                             std::uint64_t* records);

class Wal {
 public:
  explicit Wal(WalOptions options);  // creates the directory; throws std::system_error
  ~Wal();                            // sync()s what is buffered
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Replays the last checkpoint and the segments after it, then opens a
  // fresh segment for writing. Call once, before any log_*.
  WalReplayStats replay(const SeriesFn& on_series, const SamplesFn& on_samples);

  void log_series(std::uint64_t ref, const Labels& labels);
  void log_samples(std::uint64_t ref, std::span<const wire::Sample> samples);
  // Writes what is buffered and (FsyncPolicy::kBatch) fdatasyncs it. Throws
  // std::system_error: the caller must then NOT commit its Kafka offsets.
  void sync();

  // Checkpointing: cut_segment() closes the current segment and returns its
  // index; every record logged later goes to a newer segment. Then
  // write_checkpoint(n, fill) writes the live state `fill` encodes as
  // checkpoint.n (atomically: temp file, fsync, rename) and deletes segments
  // <= n and older checkpoints.
  std::uint32_t cut_segment();
  void write_checkpoint(std::uint32_t upto, const std::function<void(WalEncoder&)>& fill);

  std::uint64_t bytes_written() const;
  std::uint64_t syncs() const;
  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  void open_segment(std::uint32_t index);
  void write_locked();

  WalOptions options_;
  mutable std::mutex mu_;
  WalEncoder enc_;
  int fd_ = -1;
  std::uint32_t segment_ = 0;
  std::uint64_t segment_size_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t syncs_ = 0;
};

}  // namespace strata::tsdb

// Wal: the log store's write-ahead log. Every entry the head accepts is
// logged here, and the ingester makes the log durable (sync()) before it
// commits the Kafka offsets that carried the entries -- so a committed offset
// always means the lines are on disk, and a crash at any instant loses
// nothing: on start the head is rebuilt by replay(), and Kafka redelivers
// only what was never made durable (the head's deduplication absorbs it).
// Format: docs/format/log_wal.md.
//
// Layout: <dir>/00000001, 00000002, ... Each file starts with an 8-byte
// header (magic "LWAL", format version u32) followed by records:
// type (1 byte), payload length (u32 LE), CRC-32 of type+payload (u32 LE),
// payload. One record holds one stream's labels and a run of its entries.
// A file is closed when it would exceed `segment_bytes`, at every start (a
// replayed file is never appended to) and at every head flush (cut()).
//
// Durability: log() only buffers. sync() writes the buffer and, with
// `fsync` (the default), fdatasync()s the file -- and before a file is
// closed for a newer one it is fdatasync()ed too, so a sync covers every
// record logged before it. Without `fsync`, data survives a process crash
// (the page cache outlives the process) but not a power loss.
//
// Repair on replay: a torn record at the end of the last file (a crash
// mid-write) is truncated away with a warning. Anything else wrong (bad CRC,
// unknown type or version, impossible length, a payload that does not
// parse) is reported as "<file> at offset <n>: <reason>" and the rest of
// that file is skipped; replay continues with the next file.
//
// Thread-safety: every method is serialized by one mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_codec.h"
#include "common/labels.h"
#include "common/wire_format.h"

namespace strata::logindex {

inline constexpr std::uint32_t kWalVersion = 1;
inline constexpr std::size_t kWalFileHeader = 8;  // "LWAL" + u32 version
inline constexpr std::size_t kWalRecordHeader = 9;
inline constexpr std::uint32_t kWalMaxRecord = 64u << 20;
enum class WalRecordType : std::uint8_t { kEntries = 1 };

struct WalOptions {
  std::filesystem::path dir;
  std::size_t segment_bytes = 64u << 20;
  bool fsync = true;
};

struct WalCorruption {
  std::string file;
  std::uint64_t offset = 0;
  std::string reason;
  std::string to_string() const {
    return file + " at offset " + std::to_string(offset) + ": " + reason;
  }
};

struct WalReplayStats {
  std::uint64_t files = 0;
  std::uint64_t records = 0;
  std::uint64_t entries = 0;
  bool torn_tail = false;                  // a crash left half a record: truncated
  std::vector<WalCorruption> corruptions;  // everything else that was wrong
};

// One entry as logged: the line is only viewed (it must outlive log()).
struct WalEntry {
  std::int64_t timestamp_ns = 0;
  std::string_view line;
};

using WalEntriesFn =
    std::function<void(const Labels& stream, std::vector<wire::LogEntry>& entries)>;

// Encodes one entries record (the log, the tests and fuzzers share it).
void encode_wal_record(const Labels& stream, std::span<const WalEntry> entries, std::string& out);
// Walks the records of one file's bytes (header included). Returns the
// offset of the first byte not consumed (== size when all was valid); on
// failure fills `error` and sets `torn` when the data simply ends early.
std::size_t scan_wal_file(std::span<const std::uint8_t> data, const WalEntriesFn& fn,
                          std::string* error, bool* torn, std::uint64_t* records,
                          std::uint64_t* entries);

class Wal {
 public:
  explicit Wal(WalOptions options);  // creates the directory; throws std::system_error
  ~Wal();                            // sync()s what is buffered (errors are logged)
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Replays every file in order, then opens a fresh file for writing. Call
  // once, before log().
  WalReplayStats replay(const WalEntriesFn& fn);

  void log(const Labels& stream, std::span<const WalEntry> entries);
  // Writes what is buffered and (with fsync) fdatasyncs it. Throws
  // std::system_error: the caller must then NOT commit its Kafka offsets.
  void sync();
  // sync()s, closes the current file and opens the next; returns the index
  // of the closed file. Everything logged before cut() is in files <= it.
  std::uint32_t cut();
  // Deletes the files <= `index` (their entries are safe in a segment).
  void remove_upto(std::uint32_t index);

  std::uint64_t bytes_written() const;
  std::uint64_t syncs() const;
  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  void open_file(std::uint32_t index);
  void write_locked();
  void sync_locked();

  WalOptions options_;
  mutable std::mutex mu_;
  std::string buf_;
  int fd_ = -1;
  std::uint32_t file_ = 0;
  std::uint64_t file_size_ = 0;
  bool dirty_ = false;  // written but not yet fdatasync()ed
  std::uint64_t bytes_written_ = 0;
  std::uint64_t syncs_ = 0;
};

}  // namespace strata::logindex

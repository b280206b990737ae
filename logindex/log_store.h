// LogStore: the durable log store -- a write-ahead log, the head (an
// in-memory segment, memory_index.h) and a list of immutable on-disk
// segments (segment.h), with flush, merge and retention. Layout of
// <dir>: `lock`, `wal/` (wal.h, docs/format/log_wal.md) and `segments/`
// (NNNNNNNN.seg, docs/format/segment.md; damaged ones renamed *.corrupt).
//
// Durability. append() puts new entries in the head and logs them to the
// WAL's buffer; sync() makes the WAL durable. Callers that acknowledge data
// (the Kafka ingester) call sync() before acknowledging, so acknowledged
// entries survive a crash at any instant: open replays the WAL into the head.
// When the head passes `head_max_bytes` or `head_max_age` it is frozen (new
// entries go to a new head and a new WAL file), written as a segment
// (temp file, fsync, rename, directory fsync) and only then the WAL files
// that covered it are deleted.
//
// Idempotency. An entry identical to a stored one (same stream, nanosecond
// timestamp and line) -- in the head, in a head being flushed, or in any
// segment (found through the segment's dedup table) -- is ignored, so Kafka
// replays and WAL replays after a crash between "segment written" and "WAL
// deleted" never duplicate a line.
//
// Damage. A segment that fails verification on open is renamed *.corrupt,
// logged with its name and the reason, counted, and the rest is served; a
// block found damaged by a later read is reported the same way, left out of
// that answer and quarantined by the next maintenance run.
//
// Maintenance (one background thread when maintenance_interval > 0, or
// maintain() called directly): flush when due, merge runs of small
// segments into one (the merged segment lists its parents, so a crash
// between writing it and deleting them is repaired on open), and retention:
// whole segments whose newest line is older than `retention_age` before the
// newest stored line are deleted, then the oldest segments until the
// segments total at most `retention_max_bytes`.
//
// Thread-safety: every public method may be called from any thread. Appends
// are serialized; searches run concurrently with appends and maintenance on
// a snapshot of the parts (segments stay mapped while a search uses them).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/labels.h"
#include "common/wire_format.h"
#include "logindex/line_parser.h"
#include "logindex/memory_index.h"
#include "logindex/query.h"
#include "logindex/segment.h"
#include "logindex/segment_writer.h"
#include "logindex/wal.h"

namespace strata::logindex {

struct LogStoreOptions {
  std::filesystem::path dir;
  // Extracts the fields indexed as kField terms (line_parser.h field_terms);
  // null: no fields. Must stay the same for the life of a data directory's
  // segments to be consistent (a changed rule applies to lines stored after).
  std::shared_ptr<const LineParser> parser;
  bool fsync = true;  // fdatasync the WAL in sync()
  std::size_t wal_file_bytes = 64u << 20;
  std::uint64_t head_max_bytes = 128u << 20;  // approx_bytes() of the head
  std::chrono::milliseconds head_max_age{std::chrono::hours(1)};
  SegmentWriterOptions segment;
  // Segments smaller than this are merged, merge_min_segments of a size
  // tier at a time (tiered merging, see merge_segments()), into segments of
  // at most this size.
  std::uint64_t merge_max_bytes = 512u << 20;
  std::size_t merge_min_segments = 4;
  std::chrono::milliseconds retention_age{std::chrono::hours(24 * 30)};      // 0: keep forever
  std::uint64_t retention_max_bytes = 0;                                     // 0: no size limit
  std::chrono::milliseconds maintenance_interval{std::chrono::seconds(30)};  // 0: no thread
};

struct LogStoreStats {
  std::uint64_t head_entries = 0;
  std::uint64_t segment_entries = 0;
  std::uint64_t segments = 0;
  std::uint64_t segment_bytes = 0;
  std::uint64_t flushes = 0;
  std::uint64_t merges = 0;
  std::uint64_t retention_deleted = 0;
  std::uint64_t corrupt_segments = 0;  // found at open or by a read
  std::uint64_t wal_syncs = 0;
  std::uint64_t wal_replayed_entries = 0;
  std::uint64_t wal_corruptions = 0;
};

class LogStore final : public Searcher {
 public:
  // Opens (creating) the directory: takes its lock, opens and verifies the
  // segments (quarantining damaged ones), replays the WAL, and starts the
  // maintenance thread. Throws std::runtime_error / std::system_error
  // naming the path when the directory cannot be used.
  explicit LogStore(LogStoreOptions options);
  ~LogStore();  // stops maintenance, syncs the WAL (errors are logged)
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  AddResult append(const Labels& stream, std::span<const wire::LogEntry> entries);
  // Makes every appended entry durable. Throws std::system_error: the
  // caller must then not acknowledge (commit) what it appended.
  void sync();

  SearchResult search(const SearchQuery& query) const override;

  // ---- postings-level access, for a query evaluator ----
  // One searchable part: exactly one of `head` / `segment` is set. Parts
  // come newest first (head, a head being flushed, segments by sequence
  // number descending). Doc ids are per part (postings.h).
  using Part = SearchPart;
  std::vector<Part> parts() const override;

  // ---- maintenance (also run by the background thread) ----
  bool flush_head();              // writes the head out now; false when empty
  std::size_t merge_segments();   // one merge; returns how many segments it replaced
  std::size_t apply_retention();  // returns how many segments it deleted
  void maintain();                // flush when due, merge, retention, quarantine

  LogStoreStats stats() const;
  std::size_t entry_count() const;  // head + flushing head + segments
  const LogStoreOptions& options() const { return options_; }

 private:
  struct SegmentRef {
    std::uint64_t seq;
    std::shared_ptr<const Segment> segment;
  };
  void open_segments();
  AddResult append_locked(const Labels& stream, std::span<const wire::LogEntry> entries, bool log);
  bool flush_due() const;
  void quarantine(const std::filesystem::path& path, const std::string& why);
  void quarantine_reported();
  void report_damage(const SegmentError& e) const;
  void run_maintenance();
  std::filesystem::path segment_path(std::uint64_t seq) const;

  LogStoreOptions options_;
  std::filesystem::path segments_dir_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<Wal> wal_;

  std::mutex append_mu_;          // serializes appends, and the head swap of a flush
  std::mutex maintenance_mu_;     // one flush/merge/retention at a time
  mutable std::shared_mutex mu_;  // guards the members below
  std::shared_ptr<MemoryIndex> head_;
  std::shared_ptr<MemoryIndex> flushing_;  // frozen head being written out
  std::uint32_t flushing_wal_upto_ = 0;
  std::vector<SegmentRef> segments_;  // ascending seq
  std::uint64_t next_seq_ = 1;

  mutable std::mutex damaged_mu_;
  mutable std::vector<std::pair<std::filesystem::path, std::string>> damaged_;

  // steady_clock ns of the head's first entry (written under append_mu_).
  std::atomic<std::int64_t> head_started_ns_{0};
  std::atomic<std::uint64_t> flushes_{0}, merges_{0}, retention_deleted_{0};
  mutable std::atomic<std::uint64_t> corrupt_segments_{0};
  std::uint64_t wal_replayed_entries_ = 0, wal_corruptions_ = 0;

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strata::logindex

// DB: the time-series store of one strata-tsdb node -- a Head (recent data,
// in memory, logged to the WAL) over a directory of immutable Blocks, with
// the background work that keeps it in shape:
//
//   <dir>/wal/       segments + checkpoint (wal.h)
//   <dir>/blocks/    one directory per block (block.h)
//   <dir>/lock       held while open: two processes never share a directory
//
// Lifecycle of data: appends go to the head and are logged; sync() makes
// them durable (the ingester calls it before committing Kafka offsets).
// Once the head spans 1.5 block ranges, its oldest full range is cut into
// a level-1 block, the head is truncated there and the WAL checkpointed.
// Compaction merges blocks of the same resolution that fall into one range
// of the next level (6 h, then 24 h). Raw blocks older than
// `downsample_5m_after` (relative to the newest data) are rolled up into
// 5 m blocks, 5 m blocks older than `downsample_1h_after` into 1 h ones.
// Retention deletes whole blocks whose end is older than the newest data
// minus the retention of their resolution.
//
// Opening: blocks are opened (a corrupt one is reported with file and
// offset, renamed to <id>.corrupt and skipped; corrupt chunks are reported
// and skipped), leftovers of interrupted writes (*.tmp, blocks replaced by
// a compaction) are removed, and the WAL is replayed into the head.
//
// Thread-safety: append(), sync(), the query methods and maintain() may be
// called from any thread. maintain() runs one pass at a time (its own
// mutex); the block list is swapped under a shared_mutex so queries never
// wait for a compaction.
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

#include "common/labels.h"
#include "common/wire_format.h"
#include "tsdb/block.h"
#include "tsdb/head.h"
#include "tsdb/querier.h"
#include "tsdb/wal.h"

namespace strata::tsdb {

struct DBOptions {
  std::filesystem::path dir = "data/tsdb";
  HeadOptions head;
  std::int64_t block_range_ms = 2 * 3600 * 1000;
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  std::size_t wal_segment_bytes = 128u << 20;
  // Samples per chunk in blocks (the head's chunks are re-cut when a block
  // is written: longer chunks compress better, shorter ones decode less for
  // a narrow query; 1440 made an instant `increase(x[1h])` decode 6 h per
  // series, 240 grew the index by a quarter).
  std::uint32_t block_chunk_samples = 480;
  std::int64_t retention_raw_ms = 15LL * 86400 * 1000;
  std::int64_t retention_5m_ms = 90LL * 86400 * 1000;
  std::int64_t retention_1h_ms = 365LL * 86400 * 1000;
  std::int64_t downsample_5m_after_ms = 40LL * 3600 * 1000;
  std::int64_t downsample_1h_after_ms = 10LL * 86400 * 1000;
  // Background maintenance period; zero disables the thread (tests call
  // maintain() themselves).
  std::chrono::milliseconds maintenance_interval{std::chrono::minutes(1)};
};

// One series' value at an evaluation time.
struct InstantSample {
  Labels labels;
  std::int64_t timestamp_ms = 0;  // the sample's own timestamp (not the eval time)
  double value = 0;
};

struct OpenReport {
  WalReplayStats wal;
  std::size_t blocks = 0;
  std::vector<std::string> corruptions;  // "file at offset N: reason"
};

class DB {
 public:
  // Opens (creating) the directory, loads blocks, replays the WAL and starts
  // the maintenance thread. Throws std::runtime_error naming the directory
  // when it cannot be used (locked by another process, unwritable).
  explicit DB(DBOptions options);
  ~DB();  // stops maintenance, syncs the WAL
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;

  // Appends to the head and logs what was accepted; durable after sync().
  // Throws std::invalid_argument for an empty label set.
  AppendResult append(const Labels& labels, std::span<const wire::Sample> samples);
  void sync();

  // Series matching every matcher with data in [mint, maxt], merged over the
  // head and the blocks of the resolution the hints pick (falling back to
  // other resolutions where it has no data), sorted by labels.
  std::vector<Series> select(const std::vector<LabelMatcher>& matchers, std::int64_t mint,
                             std::int64_t maxt, const SelectHints& hints = {}) const;
  // Conveniences over select() for the HTTP API.
  std::vector<Labels> series_labels(const std::vector<LabelMatcher>& matchers,
                                    std::int64_t mint = kMinTime,
                                    std::int64_t maxt = kMaxTime) const;
  // Newest sample in (t - lookback, t] per series, unless it is a stale marker.
  std::vector<InstantSample> instant(const std::vector<LabelMatcher>& matchers, std::int64_t t_ms,
                                     std::chrono::milliseconds lookback) const;
  std::vector<wire::Sample> samples(const Labels& labels, std::int64_t mint = kMinTime,
                                    std::int64_t maxt = kMaxTime) const;
  std::vector<std::string> label_names() const;
  std::vector<std::string> label_values(std::string_view name) const;

  // One maintenance pass: cut the head, compact, downsample, apply
  // retention. `flush_head` cuts the whole head into blocks, however young
  // (the admin API's "compact now"); the head then rejects samples older
  // than what was cut.
  void maintain(bool flush_head = false);

  const OpenReport& open_report() const { return open_report_; }
  const DBOptions& options() const { return options_; }
  std::vector<std::shared_ptr<Block>> blocks() const;
  const Head& head() const { return head_; }
  std::size_t series_count() const { return head_.series_count(); }
  std::uint64_t sample_count() const { return head_.sample_count(); }
  std::uint64_t compactions() const { return compactions_.load(); }
  const Wal& wal() const { return *wal_; }

 private:
  void load_blocks();
  void maintenance_loop();
  std::int64_t newest_time() const;
  bool cut_head(bool flush_all);
  bool compact_once(bool flush);
  bool downsample_once();
  bool apply_retention();
  void write_checkpoint(std::uint32_t upto);
  void install(std::shared_ptr<Block> added, const std::vector<std::string>& removed_ids);
  std::vector<std::shared_ptr<Block>> blocks_for(std::int64_t mint, std::int64_t maxt,
                                                 std::int64_t resolution) const;

  DBOptions options_;
  std::filesystem::path blocks_dir_;
  int lock_fd_ = -1;
  Head head_;
  std::unique_ptr<Wal> wal_;
  OpenReport open_report_;

  mutable std::shared_mutex blocks_mu_;
  std::vector<std::shared_ptr<Block>> blocks_;  // sorted by (resolution, min_time)

  std::mutex maintain_mu_;
  std::atomic<std::uint64_t> compactions_{0};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread maintenance_;
};

}  // namespace strata::tsdb

// DiskBatchQueue: the agent's on-disk buffer -- a BatchQueue whose batches
// survive a crash or restart of the agent, so what the collector has not
// acknowledged yet is delivered after the agent comes back, and a long
// collector outage costs disk, not memory. Format: docs/format/agent_buffer.md.
//
// Layout: segment files <dir>/<first seq, 20 digits>.seg, appended to in
// order (a new one every `segment_bytes`), each record carrying a CRC-32;
// <dir>/acked holds the sequence number of the last batch removed (delivered,
// rejected or evicted) in two CRC-checked slots written alternately, so a
// torn write leaves the previous value readable.
//
// Durability: push() returns once the record is written and fdatasync'ed;
// pop() once the `acked` slot is written and fdatasync'ed (one small pwrite,
// so the window in which a crash resends a delivered batch is ~1 ms). A crash between the
// collector's acknowledgement and that write means the batch is sent again (at-least- once, as
// everywhere in the agent). On open, records are read back and checked; a torn or corrupt tail (a
// crash in the middle of an append) is cut off at the last good record and logged, never delivered.
//
// Memory: only an index entry per batch (a few dozen bytes) and the front
// batch are held in memory. Bounded by bytes (the sum of record bodies, as
// MemoryBatchQueue): pushing past `max_bytes` evicts the oldest batches and
// reports them, and whole segments are deleted once all their batches are
// gone.
//
// Thread-safety: one thread uses a queue; bytes() and size() may be read from
// any thread (they back /metrics gauges). One process per directory: the
// agent holds a DirLock on agent.data_dir.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "agent/batch_queue.h"

namespace strata::agent {

class DiskBatchQueue final : public BatchQueue {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;

  // Creates `dir` if needed and recovers what it holds. Throws
  // std::runtime_error / std::system_error naming the path when the
  // directory cannot be used or a segment is from an unknown format version.
  DiskBatchQueue(std::filesystem::path dir, std::size_t max_bytes,
                 std::size_t segment_bytes = 8u << 20);
  ~DiskBatchQueue() override;
  DiskBatchQueue(const DiskBatchQueue&) = delete;
  DiskBatchQueue& operator=(const DiskBatchQueue&) = delete;

  // Throws std::system_error if the record cannot be written (disk full):
  // the caller keeps the batch nowhere else, so it must know.
  Evicted push(EncodedBatch batch) override;
  bool empty() const override { return records_.empty(); }
  const EncodedBatch& front() const override;
  void pop() override;
  std::size_t size() const override { return count_.load(std::memory_order_relaxed); }
  std::size_t bytes() const override { return bytes_.load(std::memory_order_relaxed); }
  bool durable() const override { return true; }
  std::string newest_meta() const override;

  // Bytes cut off as torn or corrupt when the queue was opened.
  std::uint64_t recovered_bad_bytes() const { return bad_bytes_; }

 private:
  struct Record {
    std::uint64_t seq;
    std::uint64_t segment;  // first seq of its segment (= file name)
    std::uint64_t offset;   // of the record header in the segment
    std::uint32_t body_size;
    std::uint32_t meta_size;
    std::uint32_t items;
  };
  // Reads record `r`'s meta and body from its segment.
  void read_record(const Record& r, std::string* meta, std::string* body, bool* zstd) const;
  std::filesystem::path segment_path(std::uint64_t first_seq) const;
  void recover();
  void recover_segment(std::uint64_t first_seq);
  void open_segment(std::uint64_t first_seq);
  void remove_front(bool write_ack);
  void write_acked(std::uint64_t seq);
  std::uint64_t read_acked();

  std::filesystem::path dir_;
  std::size_t max_bytes_;
  std::size_t segment_bytes_;
  std::deque<Record> records_;
  std::map<std::uint64_t, std::size_t> segment_live_;  // segment -> live records
  std::uint64_t next_seq_ = 1;
  std::uint64_t acked_ = 0;
  int fd_ = -1;        // the segment being appended to
  int acked_fd_ = -1;  // <dir>/acked, two slots written alternately
  int acked_slot_ = 0;
  std::uint64_t write_segment_ = 0;
  std::uint64_t write_offset_ = 0;
  std::uint64_t bad_bytes_ = 0;
  mutable std::optional<std::uint64_t> front_seq_;  // which batch front_ holds
  mutable EncodedBatch front_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> bytes_{0};
};

}  // namespace strata::agent

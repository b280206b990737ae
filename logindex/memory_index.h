// MemoryIndex: the head of the log store -- the in-memory, still-growing
// segment that receives every new entry. When it is big or old enough the
// store freezes it, writes it out as an immutable on-disk segment
// (segment_writer.h) and starts a new one (log_store.h). It is usable on its
// own too (tests, tools).
//
// Storage. Each entry (stream labels, timestamp in ns, line) is stored once;
// streams are interned, so an entry costs its line plus a few words. Posting
// lists map each term (see tokenizer.h) to the ascending ids of the entries
// containing it; ids are arrival order (0, 1, 2, ...).
//
// Idempotency. Kafka delivers at least once: an entry identical to a stored
// one -- same stream, same timestamp, same line -- is a duplicate and
// ignored, so a replay never shows a line twice. (Two identical lines in
// the same stream at the same nanosecond are indistinguishable and are
// stored once.) The store extends this across its segments (log_store.h).
//
// Thread-safety: every method may be called concurrently. Searches share a
// reader lock; a writer tokenizes and hashes outside the lock and holds it
// exclusively only to append the prepared batch. A waiting writer holds a
// turnstile that new readers pass through, so a steady stream of searches
// cannot starve ingest (glibc's rwlock prefers readers).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"
#include "logindex/hash_slots.h"
#include "logindex/line_parser.h"
#include "logindex/postings.h"
#include "logindex/query.h"

namespace strata::logindex {

struct AddResult {
  std::size_t added = 0;
  std::size_t duplicates = 0;
};

// One entry as the head hands it out (views valid while the callback runs).
struct EntryView {
  const Labels& stream;
  std::int64_t timestamp_ns;
  std::string_view line;
};

class MemoryIndex final : public Searcher {
 public:
  // With a parser, each line's field_terms() (line_parser.h) are indexed
  // as kField terms; without, lines have no fields.
  explicit MemoryIndex(std::shared_ptr<const LineParser> parser = nullptr);
  ~MemoryIndex();
  MemoryIndex(const MemoryIndex&) = delete;
  MemoryIndex& operator=(const MemoryIndex&) = delete;

  // `added`, when given, receives the positions in `entries` that were new
  // (not duplicates), ascending -- what the store writes to its WAL.
  AddResult add(const Labels& stream, std::span<const wire::LogEntry> entries,
                std::vector<std::size_t>* added = nullptr);
  AddResult add(const Labels& stream, std::int64_t timestamp_ns, std::string_view line);

  // True when this exact entry is stored. `hash` is entry_hash() of it.
  bool contains(const Labels& stream, std::uint64_t hash, std::int64_t timestamp_ns,
                std::string_view line) const;

  // Matches sorted newest first (ties: most recently added first). With no
  // terms at all every entry passing the other filters matches.
  SearchResult search(const SearchQuery& query) const override;
  // Itself, not owned: valid while this index lives.
  std::vector<SearchPart> parts() const override;

  // Every entry in timestamp order (ties: arrival order) with its id, for
  // writing the head out as a segment. Holds the reader lock throughout.
  void for_each_in_time_order(const std::function<void(DocId, const EntryView&)>& fn) const;
  // Every kToken and kField posting list (ids ascending), keyed by
  // term_key(), in ascending key order: a flush hands them to the segment
  // writer (SegmentWriter::add_sorted_postings) instead of tokenizing the
  // lines again. Holds the reader lock.
  void for_each_posting_list(
      const std::function<void(std::string_view key, std::span<const DocId> ids)>& fn) const;

  // Postings primitives (postings.h) over the entries present now; ids are
  // arrival order. kLabel and kField terms are "name=value".
  std::vector<DocId> postings(TermKind kind, std::string_view text) const;
  // Calls fn(id, entry) for each of `ids` (ascending, each < doc_count() as
  // seen before), under one reader lock.
  void visit(std::span<const DocId> ids,
             const std::function<void(DocId, const EntryView&)>& fn) const;
  // Ids handed out so far: every id in [0, doc_count()) is an entry.
  DocId doc_count() const;
  std::vector<std::string> terms_with_prefix(TermKind kind, std::string_view prefix,
                                             std::size_t limit) const;

  std::size_t entry_count() const;
  std::size_t stream_count() const;
  std::size_t term_count() const;
  std::uint64_t line_bytes() const;
  // Rough memory held (lines + per-entry and per-posting overhead), for the
  // store's flush threshold.
  std::uint64_t approx_bytes() const;
  // Oldest and newest timestamp; (max, min) when empty.
  std::pair<std::int64_t, std::int64_t> time_range() const;

 private:
  using EntryId = std::uint32_t;
  using StreamId = std::uint32_t;
  struct Entry {
    StreamId stream;
    std::uint32_t size;
    std::int64_t ts;
    const char* data;  // in lines_, which never moves a line
    std::string_view line() const { return {data, size}; }
  };
  // One kind's dictionary: each distinct term stored once in `chars`, found
  // through `index` by its XXH3 hash, with its posting list (ids ascending).
  struct Terms {
    HashSlots index;
    std::string chars;
    std::vector<std::size_t> ends;  // term i is chars[ends[i-1], ends[i])
    std::vector<std::vector<EntryId>> postings;

    std::string_view term(std::uint32_t id) const;
    // Prefetching for a batch of intern() calls (see add()): stage 0 loads
    // the hash slot, 1 the term's end offsets, 2 its text; each reads what
    // the previous stage loaded.
    void prefetch(std::uint64_t hash, int stage) const;
    std::uint32_t intern(std::string_view term, std::uint64_t hash);
    const std::vector<EntryId>* find(std::string_view term) const;
  };
  StreamId find_stream_locked(const Labels& stream, std::uint64_t fp) const;  // or kNoStream
  static constexpr StreamId kNoStream = std::numeric_limits<StreamId>::max();
  const char* store_line(std::string_view line);

  std::shared_lock<std::shared_mutex> read_lock() const;

  mutable std::mutex turnstile_;
  mutable std::shared_mutex mu_;
  std::vector<Labels> streams_;
  std::vector<std::vector<EntryId>> stream_entries_;  // per stream, ascending
  std::unordered_map<std::uint64_t, std::vector<StreamId>> streams_by_fp_;
  std::vector<Entry> entries_;
  // Line text in 1 MiB chunks: one allocation per chunk, not per line.
  std::vector<std::unique_ptr<char[]>> line_chunks_;
  std::size_t chunk_left_ = 0;
  char* chunk_next_ = nullptr;
  // entry_hash of (stream, ts, line) -> entries with that hash, for deduplication.
  HashSlots by_content_;
  Terms tokens_;
  Terms fields_;  // "name=value" extracted field terms
  std::shared_ptr<const LineParser> parser_;
  std::uint64_t line_bytes_ = 0;
  std::uint64_t posting_count_ = 0;
  std::int64_t min_ts_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ts_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace strata::logindex

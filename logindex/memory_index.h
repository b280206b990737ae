// MemoryIndex: the in-memory inverted index of the first logindex slice (it
// will become the head segment of the full store; sealed on-disk segments
// come later).
//
// Storage. Each entry (stream labels, timestamp in ns, line) is stored once;
// streams are interned, so an entry costs its line plus a few words. Posting
// lists map each term (see tokenizer.h) to the ascending ids of the entries
// containing it.
//
// Idempotency. Kafka delivers at least once: an entry identical to a stored
// one -- same stream, same timestamp, same line -- is a duplicate and
// ignored, so a replay never shows a line twice. (Two identical lines in
// the same stream at the same nanosecond are indistinguishable and are
// stored once.)
//
// Thread-safety: every method may be called concurrently. Searches share a
// reader lock; a writer tokenizes and hashes outside the lock and holds it
// exclusively only to append the prepared batch.
#pragma once

#include <cstdint>
#include <limits>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/labels.h"
#include "common/wire_format.h"

namespace strata::logindex {

struct SearchQuery {
  // Every term must occur (AND). Raw words are fine: each is tokenized and
  // lowercased, so "Failed-Password" means the terms failed AND password.
  std::vector<std::string> words;
  // Stream labels that must be equal (a missing label counts as "").
  std::vector<Label> stream_equals;
  std::int64_t start_ns = std::numeric_limits<std::int64_t>::min();  // inclusive
  std::int64_t end_ns = std::numeric_limits<std::int64_t>::max();    // inclusive
  std::size_t limit = 100;
};

struct SearchHit {
  Labels stream;
  std::int64_t timestamp_ns = 0;
  std::string line;
};

struct SearchResult {
  std::vector<SearchHit> hits;  // newest first, at most `limit`
  std::size_t matched = 0;      // every match, beyond the limit too
};

struct AddResult {
  std::size_t added = 0;
  std::size_t duplicates = 0;
};

class MemoryIndex {
 public:
  MemoryIndex();
  ~MemoryIndex();
  MemoryIndex(const MemoryIndex&) = delete;
  MemoryIndex& operator=(const MemoryIndex&) = delete;

  AddResult add(const Labels& stream, std::span<const wire::LogEntry> entries);
  AddResult add(const Labels& stream, std::int64_t timestamp_ns, std::string_view line);

  // Matches sorted newest first (ties: most recently added first). With no
  // terms at all every entry passing the other filters matches.
  SearchResult search(const SearchQuery& query) const;

  std::size_t entry_count() const;
  std::size_t stream_count() const;
  std::size_t term_count() const;
  std::uint64_t line_bytes() const;

 private:
  using EntryId = std::uint32_t;
  using StreamId = std::uint32_t;
  struct Entry {
    StreamId stream;
    std::int64_t ts;
    std::string line;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  mutable std::shared_mutex mu_;
  std::vector<Labels> streams_;
  std::unordered_map<std::uint64_t, std::vector<StreamId>> streams_by_fp_;
  std::vector<Entry> entries_;
  // Hash of (stream, ts, line) -> entries with that hash, for deduplication.
  std::unordered_multimap<std::uint64_t, EntryId> by_content_;
  std::unordered_map<std::string, std::vector<EntryId>, StringHash, std::equal_to<>> postings_;
  std::uint64_t line_bytes_ = 0;
};

}  // namespace strata::logindex

// SearchQuery / SearchResult: the word search every part of the log store
// answers (the head in memory_index.h, sealed segments in segment.h, and the
// whole store in log_store.h), with one set of semantics:
//
//   - every word's terms must occur in the line (AND), case-insensitive;
//   - every stream_equals label must be equal (a missing label counts as "");
//   - start_ns <= ts <= end_ns;
//   - hits are the newest `limit` matches, newest first; `matched` counts
//     every match, beyond the limit too.
//
// Plain values; no thread-safety concerns.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/labels.h"

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

class MemoryIndex;
class Segment;

// One searchable part of the store: exactly one of `head` / `segment` is
// set. Doc ids are per part (postings.h). What the query-language evaluator
// (search_evaluator.h) runs over.
struct SearchPart {
  std::string name;  // "head", "flushing head", or the segment's file name
  std::shared_ptr<const MemoryIndex> head;
  std::shared_ptr<const Segment> segment;
};

// Anything that answers a SearchQuery: the head alone (memory_index.h) or
// the whole store (log_store.h). What the search API serves.
class Searcher {
 public:
  virtual ~Searcher() = default;
  virtual SearchResult search(const SearchQuery& query) const = 0;
  // The parts, newest first; they stay valid while the returned pointers
  // are held.
  virtual std::vector<SearchPart> parts() const = 0;
};

// The query's terms, split as the index needs them: `terms` are the distinct
// full-length terms of every word, sorted; `long_terms` are those the index
// may hold only in cut form (tokenizer.h: a term longer than the cap, or
// within a UTF-8 sequence of it), which a match must confirm against the
// whole words of its line.
struct QueryTerms {
  std::vector<std::string> terms;
  std::vector<std::string> long_terms;
};
QueryTerms query_terms(const SearchQuery& query);

// True when every long term is a whole word of `line`.
bool line_has_long_terms(std::string_view line, const std::vector<std::string>& long_terms);

}  // namespace strata::logindex

// Search evaluation: runs a parsed search (search_syntax.h) over the parts
// of the log store (the head and the segments, Searcher::parts()) with
// postings set algebra, and returns the newest matches plus a count of
// matches per time bucket (the log-volume graph).
//
// How. Every leaf becomes the sorted doc ids of one part: words from their
// postings, prefixes from the union of the postings of every dictionary word
// with the prefix, field:value from the stream-label and extracted-field
// postings, field:/re/ from the dictionary terms of that field whose value
// the regex matches. AND intersects, OR unites, NOT subtracts. Those sets are
// exact, except for phrases (the postings say the words occur, not that
// they are adjacent): when a query holds a phrase, the set algebra yields
// candidates and each candidate's line is checked against the whole query
// (a phrase by one pass over the line's terms, without allocating). Only
// the candidates inside the time range are read (a segment's time index
// skips the rest), and only their blocks are decompressed: a segment block
// holds one stream's lines, so a phrase whose words occur in few streams
// reads only those streams' blocks. An exact answer is counted from the
// postings and the time index without reading lines, except the newest
// `limit` and the docs of time chunks straddling a range or bucket edge.
//
// Limits: a prefix may expand to at most kMaxPrefixTerms words per part (a
// longer prefix is needed beyond that); exceeding it is an
// std::invalid_argument naming the prefix, answered 400.
//
// Thread-safety: a pure function of its inputs; the parts are immutable or
// internally locked, so searches run concurrently with ingest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "logindex/query.h"
#include "logindex/search_syntax.h"

namespace strata::logindex {

inline constexpr std::size_t kMaxPrefixTerms = 10'000;

struct LogSearch {
  SearchNode root;                   // parse_search() of the user's query
  std::vector<Label> stream_equals;  // extra stream-label equalities (AND)
  std::int64_t start_ns = std::numeric_limits<std::int64_t>::min();  // inclusive
  std::int64_t end_ns = std::numeric_limits<std::int64_t>::max();    // inclusive
  std::size_t limit = 100;
  // > 0: also count matches per bucket [start + k*step, start + (k+1)*step).
  // Requires a finite start; at most kMaxBuckets buckets.
  std::int64_t step_ns = 0;
};

inline constexpr std::size_t kMaxBuckets = 11'000;

struct LogSearchResult {
  SearchResult result;  // newest first; `matched` counts all matches
  std::vector<std::pair<std::int64_t, std::uint64_t>> histogram;  // (bucket start, count)
};

LogSearchResult run_search(const std::vector<SearchPart>& parts, const LogSearch& search);

}  // namespace strata::logindex

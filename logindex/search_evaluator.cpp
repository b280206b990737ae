#include "logindex/search_evaluator.h"

#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <unordered_map>

#include "logindex/memory_index.h"
#include "logindex/part_view.h"
#include "logindex/segment.h"
#include "logindex/tokenizer.h"

namespace strata::logindex {
namespace {

using Ids = std::vector<DocId>;

// A field:/re/ leaf looks at every value of the field; this bounds the
// dictionary walk.
constexpr std::size_t kMaxFieldValues = 1'000'000;

Ids all_ids(DocId n) {
  Ids out(n);
  for (DocId i = 0; i < n; ++i) out[i] = i;
  return out;
}

Ids intersect_ids(const Ids& a, const Ids& b) {
  Ids out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}
Ids unite_ids(const Ids& a, const Ids& b) {
  Ids out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}
Ids subtract_ids(const Ids& a, const Ids& b) {
  Ids out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool is_phrase(const SearchNode& n) {
  return n.kind == SearchNode::Kind::kTerms && n.terms.size() > 1;
}

// True when the line's terms (tokenizer.h) hold `seq` as consecutive terms.
// Shift-And over the terms as the line is scanned, comparing the folded
// bytes in place: no allocation, and it stops at the first occurrence.
bool line_has_sequence(std::string_view line, const std::vector<std::string>& seq) {
  if (seq.empty()) return false;
  if (seq.size() > 64) {  // beyond one word of state: the plain way
    std::vector<std::string> words = tokenize(line);
    return std::search(words.begin(), words.end(), seq.begin(), seq.end()) != words.end();
  }
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  const std::size_t n = line.size();
  const std::uint64_t done = std::uint64_t{1} << (seq.size() - 1);
  std::uint64_t state = 0;  // bit j: the terms ending here match seq[0..j]
  std::size_t i = 0;
  while (i < n) {
    while (i < n && detail::kTermByte[p[i]] == 0) ++i;
    if (i == n) break;
    const std::size_t start = i;
    while (i < n && detail::kTermByte[p[i]] != 0) ++i;
    const std::size_t len = truncate_term(line.substr(start, i - start)).size();
    std::uint64_t eq = 0;
    for (std::size_t j = 0; j < seq.size(); ++j) {
      const std::string& w = seq[j];
      if (w.size() != len) continue;
      std::size_t k = 0;
      while (k < len && detail::kTermByte[p[start + k]] == static_cast<unsigned char>(w[k])) ++k;
      if (k == len) eq |= std::uint64_t{1} << j;
    }
    state = ((state << 1) | 1) & eq;
    if (state & done) return true;
  }
  return false;
}

// Evaluates one query over one part.
class PartEvaluator {
 public:
  explicit PartEvaluator(const PartView& part) : part_(part) {}

  struct Set {
    Ids ids;
    bool exact = true;
  };

  Set eval(const SearchNode& n) {
    using K = SearchNode::Kind;
    switch (n.kind) {
      case K::kAll:
        return {all_ids(part_.size()), true};
      case K::kTerms: {
        std::vector<std::string> unique = n.terms;
        std::sort(unique.begin(), unique.end());
        unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
        return leaf(n, part_.postings_all(TermKind::kToken, unique), n.terms.size() == 1);
      }
      case K::kPrefix: {
        auto terms = part_.prefix_terms(TermKind::kToken, n.terms[0], kMaxPrefixTerms + 1);
        if (terms.size() > kMaxPrefixTerms)
          throw std::invalid_argument("prefix " + n.text + " matches more than " +
                                      std::to_string(kMaxPrefixTerms) +
                                      " words; use a longer prefix");
        Ids ids;
        for (const auto& t : terms) ids = unite_ids(ids, part_.postings(TermKind::kToken, t));
        return leaf(n, std::move(ids), true);
      }
      case K::kFieldEqual: {
        std::string key = n.field + "=" + n.value;
        return leaf(
            n,
            unite_ids(part_.postings(TermKind::kLabel, key), part_.postings(TermKind::kField, key)),
            true);
      }
      case K::kFieldRegex: {
        Ids ids;
        std::string prefix = n.field + "=";
        for (TermKind kind : {TermKind::kLabel, TermKind::kField}) {
          for (const auto& t : part_.prefix_terms(kind, prefix, kMaxFieldValues)) {
            std::string_view value = std::string_view(t).substr(prefix.size());
            if (RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *n.regex))
              ids = unite_ids(ids, part_.postings(kind, t));
          }
        }
        return leaf(n, std::move(ids), true);
      }
      case K::kAnd: {
        Set acc;
        bool have = false;
        for (const auto& c : n.children) {
          if (c.kind == K::kNot) continue;
          Set s = eval(c);
          acc.ids = have ? intersect_ids(acc.ids, s.ids) : std::move(s.ids);
          acc.exact = acc.exact && s.exact;
          have = true;
        }
        if (!have) acc.ids = all_ids(part_.size());
        for (const auto& c : n.children) {
          if (c.kind != K::kNot) continue;
          Set s = eval(c.children[0]);
          // Subtracting a superset would drop real matches: leave it to
          // the line check.
          if (s.exact)
            acc.ids = subtract_ids(acc.ids, s.ids);
          else
            acc.exact = false;
        }
        return acc;
      }
      case K::kOr: {
        Set acc;
        for (const auto& c : n.children) {
          Set s = eval(c);
          acc.ids = unite_ids(acc.ids, s.ids);
          acc.exact = acc.exact && s.exact;
        }
        return acc;
      }
      case K::kNot: {
        Set s = eval(n.children[0]);
        if (!s.exact) return {all_ids(part_.size()), false};
        return {subtract_ids(all_ids(part_.size()), s.ids), true};
      }
    }
    return {};
  }

  // The whole query on one candidate (only needed when a phrase made the
  // set inexact). Leaves other than phrases answer from their exact sets.
  bool verify(const SearchNode& n, DocId doc, std::string_view line) const {
    using K = SearchNode::Kind;
    switch (n.kind) {
      case K::kAll:
        return true;
      case K::kAnd:
        for (const auto& c : n.children)
          if (!verify(c, doc, line)) return false;
        return true;
      case K::kOr:
        for (const auto& c : n.children)
          if (verify(c, doc, line)) return true;
        return false;
      case K::kNot:
        return !verify(n.children[0], doc, line);
      default: {
        const Ids& ids = leaves_.at(&n);
        if (!std::binary_search(ids.begin(), ids.end(), doc)) return false;
        return !is_phrase(n) || line_has_sequence(line, n.terms);
      }
    }
  }

 private:
  Set leaf(const SearchNode& n, Ids ids, bool exact) {
    leaves_[&n] = ids;
    return {std::move(ids), exact};
  }
  const PartView& part_;
  std::unordered_map<const SearchNode*, Ids> leaves_;
};

struct Match {
  std::int64_t ts;
  std::size_t part;  // index into parts (0 = newest)
  DocId doc;
  std::ptrdiff_t read = -1;  // index into the hits already read, or -1
};

std::size_t bucket_of(const LogSearch& search, std::int64_t ts) {
  return static_cast<std::size_t>(
      (static_cast<std::uint64_t>(ts) - static_cast<std::uint64_t>(search.start_ns)) /
      static_cast<std::uint64_t>(search.step_ns));
}

// The docs of `ids` (an exact answer, ascending) whose time is within the
// search's range, adding them to `counts` (the histogram, when asked).
// Segment docs are in time order, in time chunks with known time bounds, so
// a chunk wholly inside the range (and inside one bucket) is counted without
// reading its docs; only chunks straddling a boundary are read.
Ids count_exact(const Segment& seg, const Ids& ids, const LogSearch& search,
                std::vector<std::uint64_t>& counts) {
  Ids kept;
  kept.reserve(ids.size());
  DocReader reader(seg);
  std::size_t i = 0;
  while (i < ids.size()) {
    const Segment::TimeChunk c = seg.time_chunk(seg.time_chunk_of(ids[i]));
    std::size_t j = i;
    while (j < ids.size() && ids[j] < c.end_doc) ++j;
    const bool inside = c.min_ts >= search.start_ns && c.max_ts <= search.end_ns;
    if (inside && (counts.empty() || bucket_of(search, c.min_ts) == bucket_of(search, c.max_ts))) {
      kept.insert(kept.end(), ids.begin() + static_cast<std::ptrdiff_t>(i),
                  ids.begin() + static_cast<std::ptrdiff_t>(j));
      if (!counts.empty()) counts[bucket_of(search, c.min_ts)] += j - i;
    } else {
      for (std::size_t k = i; k < j; ++k) {
        const std::int64_t ts = reader.get(ids[k]).timestamp_ns;
        if (ts < search.start_ns || ts > search.end_ns) continue;
        kept.push_back(ids[k]);
        if (!counts.empty()) ++counts[bucket_of(search, ts)];
      }
    }
    i = j;
  }
  return kept;
}

}  // namespace

LogSearchResult run_search(const std::vector<SearchPart>& parts, const LogSearch& search) {
  if (search.step_ns < 0) throw std::invalid_argument("step must be positive");
  std::size_t buckets = 0;
  if (search.step_ns > 0) {
    if (search.start_ns == std::numeric_limits<std::int64_t>::min() ||
        search.end_ns < search.start_ns)
      throw std::invalid_argument("a histogram needs a start and an end not before it");
    std::uint64_t span =
        static_cast<std::uint64_t>(search.end_ns) - static_cast<std::uint64_t>(search.start_ns);
    std::uint64_t n = span / static_cast<std::uint64_t>(search.step_ns) + 1;
    if (n > kMaxBuckets)
      throw std::invalid_argument("the histogram would have " + std::to_string(n) +
                                  " buckets; the limit is " + std::to_string(kMaxBuckets) +
                                  " (use a larger step)");
    buckets = static_cast<std::size_t>(n);
  }
  LogSearchResult out;
  std::vector<std::uint64_t> counts(buckets, 0);
  std::vector<Match> matches;
  std::vector<SearchHit> read;  // hits read while counting (Match::read)
  std::uint64_t total = 0;
  std::vector<PartView> views;
  views.reserve(parts.size());
  for (const auto& p : parts) views.emplace_back(p);

  for (std::size_t pi = 0; pi < views.size(); ++pi) {
    const PartView& part = views[pi];
    PartEvaluator ev(part);
    PartEvaluator::Set set = ev.eval(search.root);
    for (const auto& [name, value] : search.stream_equals)
      set.ids = intersect_ids(set.ids, part.postings(TermKind::kLabel, name + "=" + value));
    auto [lo, hi] = part.range(search.start_ns, search.end_ns);
    set.ids.erase(std::lower_bound(set.ids.begin(), set.ids.end(), hi), set.ids.end());
    set.ids.erase(set.ids.begin(), std::lower_bound(set.ids.begin(), set.ids.end(), lo));
    if (set.ids.empty()) continue;
    if (set.exact && part.segment()) {
      // No line needs checking: count from the postings and the blocks' time
      // bounds, and read only the timestamps of the newest `limit`.
      Ids kept = count_exact(*part.segment(), set.ids, search, counts);
      total += kept.size();
      // The newest `limit` are read whole now (their blocks decompressed
      // once), as they are the only candidates for the answer from this part.
      DocReader reader(*part.segment());
      for (std::size_t k = kept.size() - std::min(kept.size(), search.limit); k < kept.size();
           ++k) {
        const SegmentDoc d = reader.get(kept[k]);
        matches.push_back({d.timestamp_ns, pi, kept[k], static_cast<std::ptrdiff_t>(read.size())});
        read.push_back(
            SearchHit{part.segment()->streams()[d.stream], d.timestamp_ns, std::string(d.line)});
      }
      continue;
    }
    const std::size_t before = matches.size();
    part.read(set.ids, [&](DocId id, const Labels&, std::int64_t ts, std::string_view line) {
      if (ts < search.start_ns || ts > search.end_ns) return;
      if (!set.exact && !ev.verify(search.root, id, line)) return;
      matches.push_back({ts, pi, id});
      if (buckets) ++counts[bucket_of(search, ts)];
    });
    total += matches.size() - before;
  }

  out.result.matched = total;
  // Newest first; at equal times the newer part, then the later doc.
  auto newer = [](const Match& a, const Match& b) {
    if (a.ts != b.ts) return a.ts > b.ts;
    if (a.part != b.part) return a.part < b.part;
    return a.doc > b.doc;
  };
  std::size_t keep = std::min(search.limit, matches.size());
  std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(keep),
                    matches.end(), newer);
  matches.resize(keep);
  // Read the kept lines, part by part in doc order, then restore the order.
  out.result.hits.resize(keep);
  for (std::size_t pi = 0; pi < views.size(); ++pi) {
    std::vector<std::pair<DocId, std::size_t>> want;  // doc, slot
    for (std::size_t k = 0; k < keep; ++k) {
      if (matches[k].part != pi) continue;
      if (matches[k].read >= 0)
        out.result.hits[k] = std::move(read[static_cast<std::size_t>(matches[k].read)]);
      else
        want.emplace_back(matches[k].doc, k);
    }
    if (want.empty()) continue;
    std::sort(want.begin(), want.end());
    Ids ids;
    for (const auto& w : want) ids.push_back(w.first);
    std::size_t next = 0;
    views[pi].read(
        ids, [&](DocId id, const Labels& stream, std::int64_t ts, std::string_view line) {
          while (next < want.size() && want[next].first < id) ++next;
          for (; next < want.size() && want[next].first == id; ++next)
            out.result.hits[want[next].second] = SearchHit{stream, ts, std::string(line)};
        });
  }
  for (std::size_t k = 0; k < buckets; ++k)
    out.histogram.emplace_back(search.start_ns + static_cast<std::int64_t>(k) * search.step_ns,
                               counts[k]);
  return out;
}

}  // namespace strata::logindex

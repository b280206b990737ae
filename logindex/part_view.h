// PartView: one part of the log store -- the head or one segment -- behind
// the small interface the query evaluators (search_evaluator.h,
// logql/evaluator.h) need: posting lists, dictionary prefixes, the doc range
// of a time range, and reading docs.
//
// A head keeps growing while a query runs; the view fixes its size when it
// is made, so every answer is about the same docs. Thread-safety: a view is
// used by one query (one thread); the parts themselves allow concurrent
// readers. It borrows the part, which must outlive it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/labels.h"
#include "logindex/memory_index.h"
#include "logindex/postings.h"
#include "logindex/query.h"
#include "logindex/segment.h"

namespace strata::logindex {

class PartView {
 public:
  explicit PartView(const SearchPart& p) : head_(p.head.get()), seg_(p.segment.get()) {
    n_ = head_ ? head_->doc_count() : seg_->doc_count();
  }
  DocId size() const { return n_; }
  const Segment* segment() const { return seg_; }

  std::vector<DocId> postings(TermKind kind, std::string_view text) const {
    if (head_) {
      std::vector<DocId> ids = head_->postings(kind, text);
      // The head may have grown since size() was taken; stay within it.
      ids.erase(std::lower_bound(ids.begin(), ids.end(), n_), ids.end());
      return ids;
    }
    auto it = seg_->postings(kind, text);
    return collect(*it);
  }
  // Docs holding every one of `terms` (at least one), ascending. A segment
  // intersects its posting lists by leapfrogging from the shortest (seek()
  // skips whole blocks), rather than decoding each list whole.
  std::vector<DocId> postings_all(TermKind kind, const std::vector<std::string>& terms) const {
    if (head_ || terms.size() == 1) {
      std::vector<DocId> ids = postings(kind, terms[0]);
      for (std::size_t k = 1; k < terms.size() && !ids.empty(); ++k) {
        std::vector<DocId> more = postings(kind, terms[k]), both;
        std::set_intersection(ids.begin(), ids.end(), more.begin(), more.end(),
                              std::back_inserter(both));
        ids = std::move(both);
      }
      return ids;
    }
    std::vector<std::unique_ptr<PostingsIterator>> lists;
    for (const auto& t : terms) {
      lists.push_back(seg_->postings(kind, t));
      if (lists.back()->size() == 0) return {};
    }
    std::sort(lists.begin(), lists.end(),
              [](const auto& a, const auto& b) { return a->size() < b->size(); });
    std::vector<DocId> out;
    auto& lead = *lists[0];
    while (lead.doc() < n_) {
      const DocId c = lead.doc();
      bool all = true;
      for (std::size_t i = 1; i < lists.size() && all; ++i) {
        lists[i]->seek(c);
        if (lists[i]->doc() != c) {
          all = false;
          lead.seek(lists[i]->doc());  // kNoMoreDocs ends the loop
        }
      }
      if (all) {
        out.push_back(c);
        lead.next();
      }
    }
    return out;
  }
  std::vector<std::string> prefix_terms(TermKind kind, std::string_view prefix,
                                        std::size_t limit) const {
    return head_ ? head_->terms_with_prefix(kind, prefix, limit)
                 : seg_->terms_with_prefix(kind, prefix, limit);
  }
  // Ids that may hold times in [start, end].
  std::pair<DocId, DocId> range(std::int64_t start, std::int64_t end) const {
    if (head_) return {0, n_};
    return seg_->doc_range(start, end);
  }
  using Visit = std::function<void(DocId, const Labels&, std::int64_t, std::string_view)>;
  void read(const std::vector<DocId>& ids, const Visit& fn) const {
    if (head_) {
      head_->visit(ids,
                   [&](DocId id, const EntryView& e) { fn(id, e.stream, e.timestamp_ns, e.line); });
      return;
    }
    DocReader reader(*seg_);
    for (DocId id : ids) {
      SegmentDoc d = reader.get(id);
      fn(id, seg_->streams()[d.stream], d.timestamp_ns, d.line);
    }
  }

 private:
  const MemoryIndex* head_;
  const Segment* seg_;
  DocId n_ = 0;
};

}  // namespace strata::logindex

// Postings: sorted lists of document ids, the primitive every log search is
// built from, and the small API a query-language evaluator (AND/OR/NOT,
// phrases) composes.
//
// Document ids are per part of the store (the head, or one segment): a
// segment numbers its lines 0..n-1 in timestamp order, so ascending ids are
// ascending time and "newest first" is "highest id first". The head numbers
// lines in arrival order.
//
// Terms. Every posting list belongs to a term of one kind (TermKind):
//   kToken  a word of the line (tokenizer.h), e.g. "password";
//   kLabel  a stream label pair "name=value", e.g. "job=sshd";
//   kField  an extracted field "name=value" (reserved: the line parser will
//           produce these; the segment format already stores them).
// On disk a term is stored as one key: the kind byte followed by the text,
// so each kind is one contiguous, sorted range of the dictionary and prefix
// search never mixes kinds.
//
// Encoding (docs/format/segment.md, "Postings"): blocks of up to 128 ids,
// delta + LEB128 varint inside a block, and a skip table of (last id, end
// offset) per block so that seek() jumps over whole blocks -- what makes an
// AND of a rare and a common term cost the rare one.
//
// Thread-safety: iterators are single-threaded values; they read immutable
// memory (a mapped segment) or own their ids, so any number may run at once.
// An iterator over a segment must not outlive the Segment it came from.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::logindex {

using DocId = std::uint32_t;
inline constexpr DocId kNoMoreDocs = std::numeric_limits<DocId>::max();
inline constexpr std::size_t kPostingsBlock = 128;

enum class TermKind : std::uint8_t { kToken = 1, kLabel = 2, kField = 3 };

// The dictionary key of a term: kind byte + text.
std::string term_key(TermKind kind, std::string_view text);

// A forward cursor over ascending doc ids. Starts positioned on the first id
// (doc() == kNoMoreDocs when empty).
class PostingsIterator {
 public:
  virtual ~PostingsIterator() = default;
  virtual DocId doc() const = 0;
  virtual void next() = 0;
  // Moves to the first id >= target (never backwards).
  virtual void seek(DocId target) = 0;
  // How many ids the list holds in total (for ordering an intersection).
  virtual std::size_t size() const = 0;
};

// Over ids held in memory (the head, or results of set operations).
std::unique_ptr<PostingsIterator> make_vector_postings(std::vector<DocId> ids);
std::unique_ptr<PostingsIterator> make_empty_postings();

// Appends the encoding of `ids` (ascending, no repeats) to `out`.
void encode_postings(std::span<const DocId> ids, std::string& out);
// Over encoded bytes, which must stay alive and unchanged. Validates the
// header (throws FormatError); a malformed block throws FormatError when read.
std::unique_ptr<PostingsIterator> make_encoded_postings(std::span<const std::uint8_t> bytes);
// Decodes a whole list, checking every block (segment verification, tests).
std::vector<DocId> decode_postings(std::span<const std::uint8_t> bytes);

// Set algebra for evaluators. Each consumes its iterators.
std::vector<DocId> collect(PostingsIterator& it);
std::vector<DocId> intersect(std::vector<std::unique_ptr<PostingsIterator>> lists);
std::vector<DocId> unite(std::vector<std::unique_ptr<PostingsIterator>> lists);
// Ids of `include` that are not in `exclude`.
std::vector<DocId> subtract(PostingsIterator& include, PostingsIterator& exclude);

}  // namespace strata::logindex

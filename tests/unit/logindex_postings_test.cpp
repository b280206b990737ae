// Posting lists: encoding round trip, compression, seek across blocks, and
// the set operations a query evaluator builds on.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "common/byte_codec.h"
#include "logindex/postings.h"

using namespace strata::logindex;

namespace {

std::vector<DocId> random_ids(std::size_t n, DocId max, unsigned seed) {
  std::mt19937 rng(seed);
  std::set<DocId> s;
  while (s.size() < n) s.insert(std::uniform_int_distribution<DocId>(0, max)(rng));
  return {s.begin(), s.end()};
}

std::unique_ptr<PostingsIterator> encoded(const std::vector<DocId>& ids, std::string& storage) {
  storage.clear();
  encode_postings(ids, storage);
  return make_encoded_postings(strata::as_bytes(storage));
}

}  // namespace

TEST_CASE("postings: round trip at block boundaries", "[logindex][postings]") {
  for (std::size_t n : {0, 1, 127, 128, 129, 256, 1000}) {
    INFO(n);
    auto ids = random_ids(n, 1'000'000, static_cast<unsigned>(n));
    std::string bytes;
    encode_postings(ids, bytes);
    CHECK(decode_postings(strata::as_bytes(bytes)) == ids);
    auto it = make_encoded_postings(strata::as_bytes(bytes));
    CHECK(it->size() == n);
    CHECK(collect(*it) == ids);
  }
  // Doc 0 and the largest id survive.
  std::vector<DocId> edge{0, 1, kNoMoreDocs - 1};
  std::string bytes;
  encode_postings(edge, bytes);
  CHECK(decode_postings(strata::as_bytes(bytes)) == edge);
}

TEST_CASE("postings: dense lists compress to about a byte per id", "[logindex][postings]") {
  std::vector<DocId> dense;
  for (DocId d = 0; d < 100'000; d += 3) dense.push_back(d);
  std::string bytes;
  encode_postings(dense, bytes);
  // 1 byte of delta + 8 bytes of skip entry per 128 ids, vs 4 bytes raw.
  CHECK(bytes.size() < dense.size() * 11 / 10);
  CHECK(decode_postings(strata::as_bytes(bytes)) == dense);
  // Sparse lists cost more per id, but still less than raw u32s.
  auto sparse = random_ids(1000, 4'000'000, 7);
  bytes.clear();
  encode_postings(sparse, bytes);
  CHECK(bytes.size() < sparse.size() * 4);
}

TEST_CASE("postings: seek skips blocks and never goes back", "[logindex][postings]") {
  std::vector<DocId> ids;
  for (DocId d = 10; d < 100'000; d += 10) ids.push_back(d);
  std::string storage;
  auto it = encoded(ids, storage);
  CHECK(it->doc() == 10);
  it->seek(5);
  CHECK(it->doc() == 10);
  it->seek(55'555);
  CHECK(it->doc() == 55'560);
  it->seek(55'560);
  CHECK(it->doc() == 55'560);
  it->next();
  CHECK(it->doc() == 55'570);
  it->seek(100);  // backwards: stays
  CHECK(it->doc() == 55'570);
  it->seek(99'990);
  CHECK(it->doc() == 99'990);
  it->next();
  CHECK(it->doc() == kNoMoreDocs);
  it->seek(200'000);
  CHECK(it->doc() == kNoMoreDocs);
  auto again = encoded(ids, storage);
  again->seek(1'000'000);
  CHECK(again->doc() == kNoMoreDocs);
}

TEST_CASE("postings: intersect, unite and subtract agree with std::set", "[logindex][postings]") {
  auto a = random_ids(5000, 50'000, 1);
  auto b = random_ids(3000, 50'000, 2);
  auto c = random_ids(20, 50'000, 3);
  c.push_back(a[100]);  // at least one common id with a
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  std::string sa, sb, sc;

  auto want_and = [](const std::vector<DocId>& x, const std::vector<DocId>& y) {
    std::vector<DocId> out;
    std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(out));
    return out;
  };
  std::vector<std::unique_ptr<PostingsIterator>> lists;
  lists.push_back(encoded(a, sa));
  lists.push_back(encoded(b, sb));
  CHECK(intersect(std::move(lists)) == want_and(a, b));

  lists.clear();
  lists.push_back(encoded(a, sa));
  lists.push_back(make_vector_postings(b));
  lists.push_back(encoded(c, sc));
  CHECK(intersect(std::move(lists)) == want_and(want_and(a, b), c));

  lists.clear();
  lists.push_back(encoded(a, sa));
  lists.push_back(encoded(b, sb));
  std::vector<DocId> want_or;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(want_or));
  CHECK(unite(std::move(lists)) == want_or);

  auto ia = encoded(a, sa);
  auto ib = encoded(b, sb);
  std::vector<DocId> want_not;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(want_not));
  CHECK(subtract(*ia, *ib) == want_not);

  lists.clear();
  lists.push_back(encoded(a, sa));
  lists.push_back(make_empty_postings());
  CHECK(intersect(std::move(lists)).empty());
}

TEST_CASE("postings: malformed bytes are a FormatError, not a crash", "[logindex][postings]") {
  std::vector<DocId> ids;
  for (DocId d = 0; d < 300; ++d) ids.push_back(d * 2);
  std::string bytes;
  encode_postings(ids, bytes);
  std::string cut = bytes.substr(0, bytes.size() - 5);
  CHECK_THROWS_AS(decode_postings(strata::as_bytes(cut)), strata::FormatError);
  std::string lying = bytes;
  lying[0] = static_cast<char>(0x7f);  // count no longer matches the block count
  CHECK_THROWS_AS(make_encoded_postings(strata::as_bytes(lying)), strata::FormatError);
}

TEST_CASE("postings: term keys keep kinds apart and sorted", "[logindex][postings]") {
  CHECK(term_key(TermKind::kToken, "job") < term_key(TermKind::kLabel, "a=b"));
  CHECK(term_key(TermKind::kLabel, "job=x") < term_key(TermKind::kField, "a=b"));
  CHECK(term_key(TermKind::kToken, "abc").substr(1) == "abc");
}

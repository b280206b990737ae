// Multi-line records: joined by the start pattern, per file, emitted when
// the next record starts, on timeout or at the end; too long -> cut and
// flagged; offsets span the record.
#include <catch2/catch.hpp>

#include <re2/re2.h>

#include "agent/multiline.h"

using namespace strata;
using namespace strata::agent;

namespace {

using Clock = std::chrono::steady_clock;

TailEntry line(std::uint64_t inode, std::uint64_t& off, const std::string& text) {
  TailEntry e;
  e.path = "/f" + std::to_string(inode);
  e.line = text;
  e.inode = inode;
  e.offset = off;
  off += text.size() + 1;
  e.end_offset = off;
  return e;
}

std::vector<std::string> texts(const std::vector<TailEntry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.line);
  return out;
}

}  // namespace

TEST_CASE("multiline: a start pattern joins stack traces", "[unit][agent][multiline]") {
  auto re = std::make_shared<const RE2>(R"(^\d{4}-\d\d-\d\d )");
  MultilineJoiner j(re, std::chrono::milliseconds(500), 1000);
  const auto t0 = Clock::now();
  std::uint64_t off1 = 0, off2 = 0;
  std::vector<TailEntry> out;
  j.push({line(1, off1, "orphan continuation"), line(1, off1, "2024-01-01 first"),
          line(1, off1, "\tat a.b(C.java:1)"), line(2, off2, "2024-01-01 other file"),
          line(1, off1, "\tat d.e(F.java:2)"), line(1, off1, "2024-01-01 second")},
         t0, out);
  CHECK(texts(out) ==
        std::vector<std::string>{"orphan continuation",
                                 "2024-01-01 first\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)"});
  CHECK(out[1].offset == 20);
  CHECK(out[1].end_offset == 20 + 17 + 18 + 18);
  std::map<MultilineJoiner::Identity, std::uint64_t> held;
  j.held(held);
  CHECK(held.at({0, 1}) == out[1].end_offset);  // "second" starts where "first" ended
  CHECK(held.at({0, 2}) == 0);

  out.clear();
  j.flush_expired(t0 + std::chrono::milliseconds(499), out);
  CHECK(out.empty());
  j.push({line(2, off2, "  continued later")}, t0 + std::chrono::milliseconds(400), out);
  j.flush_expired(t0 + std::chrono::milliseconds(600), out);
  CHECK(texts(out) == std::vector<std::string>{"2024-01-01 second"});
  out.clear();
  j.flush_all(out);
  CHECK(texts(out) == std::vector<std::string>{"2024-01-01 other file\n  continued later"});
  CHECK(j.pending() == 0);
}

TEST_CASE("multiline: an overlong record is cut and flagged, its rest dropped",
          "[unit][agent][multiline]") {
  auto re = std::make_shared<const RE2>("^START");
  MultilineJoiner j(re, std::chrono::milliseconds(500), 20);
  std::uint64_t off = 0;
  std::vector<TailEntry> out;
  j.push({line(1, off, "START 123456"), line(1, off, "continuation 1"), line(1, off, "more"),
          line(1, off, "START next")},
         Clock::now(), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].line == "START 123456\ncontinu");
  CHECK(out[0].line.size() == 20);
  CHECK(out[0].truncated);
  CHECK(out[0].end_offset == 13 + 15 + 5);
  j.flush_all(out);
  CHECK(out[1].line == "START next");
  CHECK_FALSE(out[1].truncated);
}

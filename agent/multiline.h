// MultilineJoiner: joins the lines of one multi-line record (a stack trace,
// a pretty-printed message) into one log entry, by a start pattern
// (agent.multiline_start, RE2): a line the pattern matches (anywhere, unless
// anchored with ^) starts a new record; any other line continues the record
// in progress in the same file, joined with '\n'. A line that does not match
// and has no record to continue (the first line of a file) starts one, so no
// line is ever dropped.
//
// A record is emitted when the next record starts, when no continuation has
// arrived for `timeout` (the writer may never write a next record), or at
// flush_all() (shutdown). A record longer than max_bytes is cut there (on a
// UTF-8 boundary) and flagged truncated; its further continuation lines are
// dropped, never shipped as records of their own. Records keep the offsets of
// their first and last line (TailEntry::offset/end_offset), so the checkpoint
// of a file is held back to the start of a record not yet shipped.
//
// Thread-safety: none; the tail thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "agent/file_tailer.h"

namespace re2 {
class RE2;
}

namespace strata::agent {

class MultilineJoiner {
 public:
  using Clock = std::chrono::steady_clock;
  using Identity = std::pair<std::uint64_t, std::uint64_t>;  // (device, inode)

  MultilineJoiner(std::shared_ptr<const re2::RE2> start, std::chrono::milliseconds timeout,
                  std::size_t max_bytes);

  // Feeds lines in file order; appends the records they complete to `out`.
  void push(std::vector<TailEntry>&& lines, Clock::time_point now, std::vector<TailEntry>& out);
  // Emits the records whose last line arrived at least `timeout` before `now`.
  void flush_expired(Clock::time_point now, std::vector<TailEntry>& out);
  void flush_all(std::vector<TailEntry>& out);

  // For checkpoints: the start offset of each record held back.
  void held(std::map<Identity, std::uint64_t>& earliest) const;
  std::size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    TailEntry record;
    Clock::time_point last;
  };
  void append(Pending& p, TailEntry&& line);

  std::shared_ptr<const re2::RE2> start_;
  std::chrono::milliseconds timeout_;
  std::size_t max_bytes_;
  std::map<Identity, Pending> pending_;
};

}  // namespace strata::agent

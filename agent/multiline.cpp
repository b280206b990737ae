#include "agent/multiline.h"

#include <re2/re2.h>

#include "agent/utf8.h"

namespace strata::agent {

MultilineJoiner::MultilineJoiner(std::shared_ptr<const re2::RE2> start,
                                 std::chrono::milliseconds timeout, std::size_t max_bytes)
    : start_(std::move(start)), timeout_(timeout), max_bytes_(max_bytes == 0 ? 1 : max_bytes) {}

void MultilineJoiner::append(Pending& p, TailEntry&& line) {
  TailEntry& r = p.record;
  r.end_offset = line.end_offset;
  if (r.truncated) return;  // the rest of an overlong record is dropped
  const std::size_t room = max_bytes_ > r.line.size() ? max_bytes_ - r.line.size() : 0;
  if (1 + line.line.size() <= room && !line.truncated) {
    r.line += '\n';
    r.line += line.line;
    return;
  }
  std::string joined = r.line + '\n' + line.line;
  r.line.assign(joined, 0, utf8_cut(joined, max_bytes_));
  r.truncated = true;
}

void MultilineJoiner::push(std::vector<TailEntry>&& lines, Clock::time_point now,
                           std::vector<TailEntry>& out) {
  for (auto& l : lines) {
    const Identity id{l.device, l.inode};
    auto it = pending_.find(id);
    const bool starts = re2::RE2::PartialMatch(l.line, *start_);
    if (it != pending_.end() && !starts) {
      append(it->second, std::move(l));
      it->second.last = now;
      continue;
    }
    if (it != pending_.end()) {
      out.push_back(std::move(it->second.record));
      it->second = Pending{std::move(l), now};
    } else {
      pending_.emplace(id, Pending{std::move(l), now});
    }
  }
}

void MultilineJoiner::flush_expired(Clock::time_point now, std::vector<TailEntry>& out) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.last >= timeout_) {
      out.push_back(std::move(it->second.record));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void MultilineJoiner::flush_all(std::vector<TailEntry>& out) {
  for (auto& [id, p] : pending_) out.push_back(std::move(p.record));
  pending_.clear();
}

void MultilineJoiner::held(std::map<Identity, std::uint64_t>& earliest) const {
  for (const auto& [id, p] : pending_) {
    auto [it, added] = earliest.try_emplace(id, p.record.offset);
    if (!added && p.record.offset < it->second) it->second = p.record.offset;
  }
}

}  // namespace strata::agent

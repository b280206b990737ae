#include "agent/journal_reader.h"

#include <systemd/sd-journal.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "agent/utf8.h"

namespace strata::agent {

namespace {

std::runtime_error journal_error(const std::string& name, const char* what, int r) {
  return std::runtime_error("journal " + name + ": " + what + ": " + std::strerror(-r));
}

// The value of field `name` of the current entry; empty when absent.
std::string_view field(sd_journal* j, const char* name) {
  const void* data = nullptr;
  std::size_t len = 0;
  if (sd_journal_get_data(j, name, &data, &len) < 0) return {};
  std::string_view s(static_cast<const char*>(data), len);
  const std::size_t prefix = std::strlen(name) + 1;  // "NAME="
  return s.size() >= prefix ? s.substr(prefix) : std::string_view();
}

}  // namespace

JournalReader::JournalReader(const std::string& directory, const std::string& cursor,
                             std::size_t max_line_bytes)
    : name_(directory.empty() ? "(system journal)" : directory),
      cursor_(cursor),
      max_line_bytes_(max_line_bytes) {
  int r = 0;
  if (directory.empty()) {
    r = sd_journal_open(&j_, SD_JOURNAL_LOCAL_ONLY);
  } else {
    if (!std::filesystem::is_directory(directory))
      throw std::runtime_error("journal " + name_ + ": not a directory");
    r = sd_journal_open_directory(&j_, directory.c_str(), 0);
  }
  if (r < 0) throw journal_error(name_, "cannot open", r);
  // Fields are returned whole up to this size; a longer MESSAGE still comes
  // back longer than max_line_bytes, so read() knows to flag it truncated.
  sd_journal_set_data_threshold(j_, max_line_bytes_ + 64);
  if (!cursor_.empty() && sd_journal_seek_cursor(j_, cursor_.c_str()) >= 0 &&
      sd_journal_next(j_) > 0) {
    // The entry at the cursor was shipped: read on after it. If the journal
    // no longer has it, the seek lands on the next newer entry, unread.
    unread_current_ = sd_journal_test_cursor(j_, cursor_.c_str()) <= 0;
    return;
  }
  // No usable cursor: from the end (the last entry counts as read).
  r = sd_journal_seek_tail(j_);
  if (r < 0) throw journal_error(name_, "cannot seek to the end", r);
  sd_journal_previous(j_);
}

JournalReader::~JournalReader() {
  if (j_) sd_journal_close(j_);
}

std::vector<JournalEntry> JournalReader::read(std::size_t max_entries) {
  std::vector<JournalEntry> out;
  while (out.size() < max_entries) {
    int r = 1;
    if (unread_current_) {
      unread_current_ = false;
    } else {
      r = sd_journal_next(j_);
    }
    if (r < 0) throw journal_error(name_, "cannot read the next entry", r);
    if (r == 0) break;
    JournalEntry e;
    std::uint64_t usec = 0;
    if (sd_journal_get_realtime_usec(j_, &usec) >= 0)
      e.timestamp_ns = static_cast<std::int64_t>(usec) * 1000;
    std::string_view message = field(j_, "MESSAGE");
    if (message.size() > max_line_bytes_) {
      message = message.substr(0, utf8_cut(message, max_line_bytes_));
      e.truncated = true;
    }
    e.message.assign(message);
    for (const char* name : {"_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_COMM"}) {
      std::string_view v = field(j_, name);
      if (!v.empty()) {
        e.unit.assign(v);
        break;
      }
    }
    if (e.unit.empty()) e.unit = "unknown";
    out.push_back(std::move(e));
  }
  if (!out.empty()) {
    char* c = nullptr;
    if (int r = sd_journal_get_cursor(j_, &c); r < 0)
      throw journal_error(name_, "cannot get the cursor", r);
    cursor_ = c;
    std::free(c);
  }
  return out;
}

void JournalReader::wait(std::chrono::milliseconds timeout) {
  sd_journal_wait(j_, static_cast<std::uint64_t>(timeout.count()) * 1000);
}

}  // namespace strata::agent

// JournalReader: the systemd journal as a log source (agent.journal), read
// through libsystemd's sd-journal API -- the only stable interface to the
// journal's files, which are not meant to be parsed by anyone else.
//
// What an entry becomes: its MESSAGE (a binary MESSAGE is kept as bytes and
// made valid UTF-8 when batched, like a tailed line), its
// __REALTIME_TIMESTAMP (µs, shipped as ns), and the unit it came from:
// _SYSTEMD_UNIT, else SYSLOG_IDENTIFIER, else _COMM, else "unknown" -- the
// stream label `unit`, as Promtail's usual `__journal__systemd_unit`
// relabelling gives. A MESSAGE longer than max_line_bytes is cut at a UTF-8
// boundary and flagged, like a tailed line.
//
// Position: the cursor of the last entry returned. A reader opened with a
// cursor resumes just after that entry (at-least-once: the agent persists a
// cursor only once the batch holding that entry has settled); without one
// it starts at the end of the journal, as a tailed file present at start is
// read from its end. A cursor the journal no longer has (rotated away)
// resumes at the oldest entry still there that is newer.
//
// Errors: the constructor throws std::runtime_error naming the journal
// (e.g. a directory that does not exist); read() throws on a failure of the
// journal files, and the agent logs it and opens the reader again.
//
// Thread-safety: one thread uses a reader (sd_journal objects are not
// thread-safe).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

typedef struct sd_journal sd_journal;

namespace strata::agent {

struct JournalEntry {
  std::int64_t timestamp_ns = 0;
  std::string unit;
  std::string message;
  bool truncated = false;
};

class JournalReader {
 public:
  // `directory` empty: the local system journal (/var/log/journal,
  // /run/log/journal). `cursor` empty: start at the end.
  JournalReader(const std::string& directory, const std::string& cursor,
                std::size_t max_line_bytes);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // Up to `max_entries` entries after the current position, oldest first.
  std::vector<JournalEntry> read(std::size_t max_entries);
  // Blocks until the journal changes or `timeout` passes.
  void wait(std::chrono::milliseconds timeout);
  // The cursor of the last entry read() returned (or the one given at open).
  const std::string& cursor() const { return cursor_; }
  const std::string& name() const { return name_; }

 private:
  sd_journal* j_ = nullptr;
  std::string name_;
  std::string cursor_;
  std::size_t max_line_bytes_;
  bool unread_current_ = false;  // the entry at the position is still to be returned
};

}  // namespace strata::agent

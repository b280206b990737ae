// Severity: the level a log line was written at, normalised to one small
// vocabulary so `level:error` finds Java's ERROR, syslog's err, Python's
// ERROR and Go's "error" alike:
//
//   trace  debug  info  notice  warn  error  critical  fatal
//
// normalize_severity maps the spellings (WARNING -> warn, ERR -> error,
// SEVERE/CRIT -> critical, PANIC/EMERG/ALERT -> fatal, FINE -> debug, ...),
// case-insensitively.
//
// detect_severity finds the level in an unstructured line. A level word in
// running text ("in error state") must not count, so only these do: a word
// in brackets, any case (Apache's `[error]`), or one of the upper-case words
// logging libraries print bare (TRACE DEBUG INFO NOTICE WARN WARNING ERROR
// CRITICAL FATAL SEVERE; log4j's `INFO`), among the first kSeverityTokens
// tokens after the timestamp (or the start of the line when there is none).
// Bare ALERT, PANIC, ERR... do not count: logrotate's "ALERT exited
// abnormally" in the loghub Linux sample is a message, not a level.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace strata::logindex {

inline constexpr std::size_t kSeverityTokens = 3;

// "" when `word` is not a level.
std::string_view normalize_severity(std::string_view word);

// Searches `line` from byte `from` (the end of the detected timestamp).
// "" when there is none.
std::string_view detect_severity(std::string_view line, std::size_t from);

}  // namespace strata::logindex

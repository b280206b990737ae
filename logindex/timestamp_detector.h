// Timestamp detection: finds the time a log line was written in the line
// itself, in the formats real systems print (docs/logindex.md lists them, with
// the loghub system each one was checked on):
//
//   2015-07-29 17:41:44,747   ISO 8601 / RFC 3339: T or space, optional
//   2017-05-16T00:00:00.008Z  fraction (. or ,) and zone (Z, +hh:mm, +hhmm)
//   Sun Dec 04 04:47:44 2005  ctime (Apache error log)
//   Jun 14 15:16:01           syslog (RFC 3164; no year: see below)
//   081109 203615             yyMMdd HHmmss (Hadoop HDFS), only at line start
//   17/06/09 20:10:40         yy/MM/dd HH:mm:ss (Spark / log4j)
//   20171223-22:15:29:606     yyyyMMdd-HH:mm:ss:SSS (HealthApp)
//   10/Oct/2000:13:55:36 -0700  Common Log Format (web access logs)
//   1700000000.123            Unix time (only as a whole field, parse_timestamp)
//
// Times without a zone are taken as UTC. Syslog times carry no year: the
// caller passes the year of the receive time, and a time that would land more
// than a day after the receive time is put in the year before (a December
// line read in January).
//
// Detection looks at token starts (line start, or after a character that is
// not a letter or digit) in the first kScanBytes bytes and takes the first
// position where a format matches completely, so a timestamp inside a file
// name like `nova-api.log.2017-05-16_13:53:08` is skipped (`_` is not a
// date-time separator) in favour of the real one after it.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strata::logindex {

inline constexpr std::size_t kScanBytes = 256;

struct DetectedTimestamp {
  std::int64_t ns = 0;    // since the Unix epoch, UTC
  std::size_t begin = 0;  // byte range of the timestamp in the line
  std::size_t end = 0;
};

// `receive_ns` supplies the year for syslog times (see above).
std::optional<DetectedTimestamp> detect_timestamp(std::string_view line, std::int64_t receive_ns);

// A whole field's value (JSON "ts", a regexp group): any format above, or a
// Unix time in seconds, milliseconds, microseconds or nanoseconds (told apart
// by magnitude), optionally fractional.
std::optional<std::int64_t> parse_timestamp(std::string_view text, std::int64_t receive_ns);

}  // namespace strata::logindex

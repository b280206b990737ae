#include "logindex/timestamp_detector.h"

#include <array>
#include <chrono>
#include <cmath>

namespace strata::logindex {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::int64_t kNsPerDay = 86'400 * kNsPerSecond;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A left-to-right reader over the candidate text; every read either consumes
// what it matched or fails without a partial result the caller could use.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  bool at_end() const { return i >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[i]; }
  bool lit(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
  // Exactly n digits.
  std::optional<int> digits(int n) {
    int v = 0;
    for (int k = 0; k < n; ++k) {
      if (!is_digit(peek())) return std::nullopt;
      v = v * 10 + (s[i++] - '0');
    }
    return v;
  }
  // Between lo and hi digits (as many as there are).
  std::optional<int> digits(int lo, int hi) {
    int v = 0, n = 0;
    while (n < hi && is_digit(peek())) {
      v = v * 10 + (s[i++] - '0');
      ++n;
    }
    if (n < lo) return std::nullopt;
    return v;
  }
  // "Jan".."Dec" -> 1..12.
  std::optional<int> month_name() {
    static constexpr std::array<std::string_view, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() - i < 3) return std::nullopt;
    for (std::size_t m = 0; m < kMonths.size(); ++m) {
      if (s.substr(i, 3) == kMonths[m]) {
        i += 3;
        return static_cast<int>(m) + 1;
      }
    }
    return std::nullopt;
  }
  bool weekday_name() {
    static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                              "Fri", "Sat", "Sun"};
    if (s.size() - i < 3) return false;
    for (auto d : kDays) {
      if (s.substr(i, 3) == d) {
        i += 3;
        return true;
      }
    }
    return false;
  }
  // One or more spaces (syslog and ctime pad single-digit days with one).
  bool spaces() {
    if (peek() != ' ') return false;
    while (peek() == ' ') ++i;
    return true;
  }
};

struct Civil {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t frac_ns = 0;
  std::int64_t offset_s = 0;  // the zone's offset east of UTC
};

std::optional<std::int64_t> to_ns(const Civil& c) {
  using namespace std::chrono;
  year_month_day ymd{year{c.year}, month{static_cast<unsigned>(c.month)},
                     day{static_cast<unsigned>(c.day)}};
  // 60 admits a leap second, as RFC 3339 does.
  if (!ymd.ok() || c.hour > 23 || c.minute > 59 || c.second > 60) return std::nullopt;
  std::int64_t days = sys_days(ymd).time_since_epoch().count();
  std::int64_t secs = days * 86'400 + c.hour * 3600 + c.minute * 60 + c.second - c.offset_s;
  return secs * kNsPerSecond + c.frac_ns;
}

int two_digit_year(int yy) { return yy < 69 ? 2000 + yy : 1900 + yy; }

// HH:MM:SS
bool clock(Cursor& c, Civil& t) {
  auto h = c.digits(2);
  if (!h || !c.lit(':')) return false;
  auto m = c.digits(2);
  if (!m || !c.lit(':')) return false;
  auto s = c.digits(2);
  if (!s) return false;
  t.hour = *h, t.minute = *m, t.second = *s;
  return true;
}

// An optional fraction after the seconds: . or , then 1-9 digits.
void fraction(Cursor& c, Civil& t) {
  if (c.peek() != '.' && c.peek() != ',') return;
  std::size_t save = c.i++;
  std::int64_t v = 0;
  int n = 0;
  while (n < 9 && is_digit(c.peek())) {
    v = v * 10 + (c.s[c.i++] - '0');
    ++n;
  }
  if (n == 0) {
    c.i = save;
    return;
  }
  while (is_digit(c.peek())) ++c.i;  // beyond ns precision
  for (int k = n; k < 9; ++k) v *= 10;
  t.frac_ns = v;
}

// Z, +hh:mm, +hhmm or +hh right after the time (no space).
void zone(Cursor& c, Civil& t) {
  if (c.lit('Z')) return;
  char sign = c.peek();
  if (sign != '+' && sign != '-') return;
  std::size_t save = c.i++;
  auto hh = c.digits(2);
  if (!hh) {
    c.i = save;
    return;
  }
  int mm = 0;
  if (c.lit(':')) {
    auto m = c.digits(2);
    if (!m) {
      c.i = save;
      return;
    }
    mm = *m;
  } else if (auto m = c.digits(2)) {
    mm = *m;
  }
  t.offset_s = (sign == '-' ? -1 : 1) * (*hh * 3600 + mm * 60);
}

// 2015-07-29 17:41:44,747 / 2017-05-16T00:00:00.008+02:00
bool iso8601(Cursor& c, Civil& t) {
  auto y = c.digits(4);
  if (!y || !c.lit('-')) return false;
  auto mo = c.digits(2);
  if (!mo || !c.lit('-')) return false;
  auto d = c.digits(2);
  if (!d || !(c.lit('T') || c.lit(' '))) return false;
  t.year = *y, t.month = *mo, t.day = *d;
  if (!clock(c, t)) return false;
  fraction(c, t);
  zone(c, t);
  return true;
}

// Sun Dec 04 04:47:44 2005
bool ctime(Cursor& c, Civil& t) {
  if (!c.weekday_name() || !c.spaces()) return false;
  auto mo = c.month_name();
  if (!mo || !c.spaces()) return false;
  auto d = c.digits(1, 2);
  if (!d || !c.spaces() || !clock(c, t)) return false;
  fraction(c, t);
  if (!c.spaces()) return false;
  auto y = c.digits(4);
  if (!y) return false;
  t.year = *y, t.month = *mo, t.day = *d;
  return true;
}

// Jun 14 15:16:01 (year supplied by the caller)
bool syslog(Cursor& c, Civil& t) {
  auto mo = c.month_name();
  if (!mo || !c.spaces()) return false;
  auto d = c.digits(1, 2);
  if (!d || !c.spaces() || !clock(c, t)) return false;
  fraction(c, t);
  t.month = *mo, t.day = *d;
  return true;
}

// 081109 203615
bool hadoop(Cursor& c, Civil& t) {
  auto y = c.digits(2), mo = y ? c.digits(2) : std::nullopt, d = mo ? c.digits(2) : std::nullopt;
  if (!d || !c.lit(' ')) return false;
  auto h = c.digits(2), mi = h ? c.digits(2) : std::nullopt, s = mi ? c.digits(2) : std::nullopt;
  if (!s) return false;
  t = Civil{two_digit_year(*y), *mo, *d, *h, *mi, *s};
  return true;
}

// 17/06/09 20:10:40
bool slashed_yy(Cursor& c, Civil& t) {
  auto y = c.digits(2);
  if (!y || !c.lit('/')) return false;
  auto mo = c.digits(2);
  if (!mo || !c.lit('/')) return false;
  auto d = c.digits(2);
  if (!d || !c.lit(' ') || !clock(c, t)) return false;
  fraction(c, t);
  t.year = two_digit_year(*y), t.month = *mo, t.day = *d;
  return true;
}

// 20171223-22:15:29:606; HealthApp does not zero-pad the clock fields, and
// the last field is an integer number of milliseconds.
bool compact_dash(Cursor& c, Civil& t) {
  auto y = c.digits(4), mo = y ? c.digits(2) : std::nullopt, d = mo ? c.digits(2) : std::nullopt;
  if (!d || !c.lit('-')) return false;
  auto h = c.digits(1, 2);
  if (!h || !c.lit(':')) return false;
  auto mi = c.digits(1, 2);
  if (!mi || !c.lit(':')) return false;
  auto s = c.digits(1, 2);
  if (!s) return false;
  t = Civil{*y, *mo, *d, *h, *mi, *s};
  if (c.lit(':')) {
    auto ms = c.digits(1, 3);
    if (!ms) return false;
    t.frac_ns = std::int64_t{*ms} * 1'000'000;
  }
  return true;
}

// 10/Oct/2000:13:55:36 -0700
bool common_log(Cursor& c, Civil& t) {
  auto d = c.digits(2);
  if (!d || !c.lit('/')) return false;
  auto mo = c.month_name();
  if (!mo || !c.lit('/')) return false;
  auto y = c.digits(4);
  if (!y || !c.lit(':') || !clock(c, t)) return false;
  t.year = *y, t.month = *mo, t.day = *d;
  std::size_t save = c.i;
  if (c.lit(' ')) {
    std::size_t before = c.i;
    zone(c, t);
    if (c.i == before) c.i = save;
  }
  return true;
}

int year_of(std::int64_t ns) {
  using namespace std::chrono;
  auto day = floor<days>(sys_time<nanoseconds>(nanoseconds(ns)));
  return static_cast<int>(year_month_day(day).year());
}

// Tries every format at `pos`; the match must end at a token boundary.
std::optional<DetectedTimestamp> match_at(std::string_view line, std::size_t pos,
                                          std::int64_t receive_ns) {
  using Format = bool (*)(Cursor&, Civil&);
  // ISO first: it is the most common and the cheapest to reject.
  static constexpr Format kFormats[] = {iso8601, ctime, compact_dash, slashed_yy, common_log};
  auto finish = [&](const Cursor& c, const Civil& t) -> std::optional<DetectedTimestamp> {
    if (!c.at_end() && is_alnum(c.peek())) return std::nullopt;
    auto ns = to_ns(t);
    if (!ns) return std::nullopt;
    return DetectedTimestamp{*ns, pos, pos + c.i};
  };
  std::string_view rest = line.substr(pos);
  for (Format f : kFormats) {
    Cursor c{rest};
    Civil t;
    if (f(c, t))
      if (auto d = finish(c, t)) return d;
  }
  if (pos == 0) {
    Cursor c{rest};
    Civil t;
    if (hadoop(c, t))
      if (auto d = finish(c, t)) return d;
  }
  Cursor c{rest};
  Civil t;
  if (syslog(c, t)) {
    t.year = year_of(receive_ns);
    auto d = finish(c, t);
    if (d && d->ns > receive_ns + kNsPerDay) {
      --t.year;
      d = finish(c, t);
    }
    if (d) return d;
  }
  return std::nullopt;
}

// A plain Unix time: seconds, ms, us or ns by the number of integer digits.
std::optional<std::int64_t> unix_time(std::string_view s) {
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  std::size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 19) return std::nullopt;
  for (char ch : whole)
    if (!is_digit(ch)) return std::nullopt;
  for (char ch : frac)
    if (!is_digit(ch)) return std::nullopt;
  // Digits of the integer part -> nanoseconds per unit.
  std::int64_t unit = whole.size() <= 10   ? kNsPerSecond
                      : whole.size() <= 13 ? 1'000'000
                      : whole.size() <= 16 ? 1'000
                                           : 1;
  std::uint64_t w = 0;
  for (char ch : whole) w = w * 10 + static_cast<std::uint64_t>(ch - '0');
  if (w > static_cast<std::uint64_t>(INT64_MAX) / static_cast<std::uint64_t>(unit))
    return std::nullopt;
  std::int64_t ns = static_cast<std::int64_t>(w) * unit;
  std::int64_t scale = unit;
  for (std::size_t k = 0; k < frac.size() && scale > 1; ++k) {
    scale /= 10;
    ns += (frac[k] - '0') * scale;
  }
  return negative ? -ns : ns;
}

}  // namespace

std::optional<DetectedTimestamp> detect_timestamp(std::string_view line, std::int64_t receive_ns) {
  std::size_t limit = std::min(line.size(), kScanBytes);
  for (std::size_t pos = 0; pos < limit; ++pos) {
    if (pos > 0 && is_alnum(line[pos - 1])) continue;
    char ch = line[pos];
    if (!is_digit(ch) && !(ch >= 'A' && ch <= 'Z')) continue;
    if (auto d = match_at(line, pos, receive_ns)) return d;
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_timestamp(std::string_view text, std::int64_t receive_ns) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  if (auto d = match_at(text, 0, receive_ns); d && d->end == text.size()) return d->ns;
  return unix_time(text);
}

}  // namespace strata::logindex

// Line parsing: the timestamp and level of every line of the eight loghub
// samples against loghub's own structured CSV (computed here independently,
// with strptime and the CSV's columns), and the JSON / logfmt / regexp rules.
#include <re2/re2.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "logindex/line_parser.h"
#include "logindex/severity.h"
#include "logindex/stream_selector.h"
#include "logindex/timestamp_detector.h"

using namespace strata;
using namespace strata::logindex;

namespace {

const std::string kLoghub = STRATA_LOGHUB_DIR;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// RFC 4180: quoted fields with "" for a quote; no newlines inside fields in
// these files.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  auto lines = read_lines(path);
  auto split = [](const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          cur += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        out.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    out.push_back(cur);
    return out;
  };
  auto header = split(lines.at(0));
  std::vector<std::map<std::string, std::string>> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto cells = split(lines[i]);
    REQUIRE(cells.size() == header.size());
    std::map<std::string, std::string> row;
    for (std::size_t k = 0; k < header.size(); ++k) row[header[k]] = cells[k];
    rows.push_back(std::move(row));
  }
  return rows;
}

// strptime + timegm (UTC), plus `frac_ms` milliseconds.
std::int64_t utc_ns(const std::string& text, const char* format, std::int64_t frac_ms = 0) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), format, &tm);
  INFO(text << " with " << format);
  REQUIRE(end != nullptr);
  REQUIRE(*end == '\0');
  return (static_cast<std::int64_t>(timegm(&tm)) * 1000 + frac_ms) * 1'000'000;
}

std::int64_t ns_of(int y, int mo, int d) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000'000;
}

// The CSV's level spellings, mapped by hand (not by the code under test).
std::string expected_level(const std::string& csv) {
  static const std::map<std::string, std::string> kLevels = {
      {"INFO", "info"},   {"WARN", "warn"},     {"WARNING", "warn"},
      {"ERROR", "error"}, {"notice", "notice"}, {"error", "error"},
      {"warn", "warn"},   {"DEBUG", "debug"},   {"FATAL", "fatal"}};
  auto it = kLevels.find(csv);
  INFO("unmapped level in the CSV: " << csv);
  REQUIRE(it != kLevels.end());
  return it->second;
}

struct Expected {
  std::int64_t ns;
  std::string level;
};

// Checks every line of one system: detected timestamp and level equal the
// CSV's.
void check_system(
    const std::string& system, std::int64_t receive_ns,
    const std::function<Expected(const std::map<std::string, std::string>&)>& expect) {
  auto lines = read_lines(kLoghub + "/" + system + "_2k.log");
  auto rows = read_csv(kLoghub + "/" + system + "_2k.log_structured.csv");
  REQUIRE(lines.size() == rows.size());
  LineParser parser;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Expected want = expect(rows[i]);
    ParsedLine got = parser.parse(Labels{{"job", system}}, lines[i], receive_ns);
    INFO(system << " line " << i + 1 << ": " << lines[i]);
    REQUIRE(got.timestamp_ns.has_value());
    CHECK(*got.timestamp_ns == want.ns);
    CHECK(got.level == want.level);
    ++checked;
  }
  CHECK(checked == 2000);
}

std::int64_t ms_part(const std::string& s, char sep) {
  return std::stoll(s.substr(s.rfind(sep) + 1));
}

}  // namespace

TEST_CASE("line parser: loghub Apache, HDFS, OpenStack, Spark, Zookeeper times and levels",
          "[logindex][parser]") {
  std::int64_t now = ns_of(2026, 1, 1);
  check_system("Apache", now, [](const auto& r) {
    return Expected{utc_ns(r.at("Time"), "%a %b %d %H:%M:%S %Y"), expected_level(r.at("Level"))};
  });
  check_system("HDFS", now, [](const auto& r) {
    return Expected{utc_ns(r.at("Date") + " " + r.at("Time"), "%y%m%d %H%M%S"),
                    expected_level(r.at("Level"))};
  });
  check_system("OpenStack", now, [](const auto& r) {
    std::string t = r.at("Time");  // 00:00:00.008
    return Expected{
        utc_ns(r.at("Date") + " " + t.substr(0, t.find('.')), "%Y-%m-%d %H:%M:%S", ms_part(t, '.')),
        expected_level(r.at("Level"))};
  });
  check_system("Spark", now, [](const auto& r) {
    return Expected{utc_ns(r.at("Date") + " " + r.at("Time"), "%y/%m/%d %H:%M:%S"),
                    expected_level(r.at("Level"))};
  });
  check_system("Zookeeper", now, [](const auto& r) {
    std::string t = r.at("Time");  // 17:41:44,747
    return Expected{
        utc_ns(r.at("Date") + " " + t.substr(0, t.find(',')), "%Y-%m-%d %H:%M:%S", ms_part(t, ',')),
        expected_level(r.at("Level"))};
  });
}

// Linux and OpenSSH are syslog (no year, no severity in the text: the CSV's
// "Level" column of Linux holds the host name, `combo`); HealthApp has no
// level either.
TEST_CASE("line parser: loghub syslog (Linux, OpenSSH) and HealthApp times, no level",
          "[logindex][parser]") {
  check_system("Linux", ns_of(2005, 12, 31), [](const auto& r) {
    CHECK(r.at("Level") == "combo");
    return Expected{utc_ns("2005 " + r.at("Month") + " " + r.at("Date") + " " + r.at("Time"),
                           "%Y %b %d %H:%M:%S"),
                    ""};
  });
  check_system("OpenSSH", ns_of(2018, 1, 5), [](const auto& r) {
    // Received in January 2018: December lines belong to 2017.
    return Expected{utc_ns("2017 " + r.at("Date") + " " + r.at("Day") + " " + r.at("Time"),
                           "%Y %b %d %H:%M:%S"),
                    ""};
  });
  check_system("HealthApp", ns_of(2026, 1, 1), [](const auto& r) {
    std::string t = r.at("Time");  // 20171223-22:15:29:606, fields not zero-padded
    return Expected{utc_ns(t.substr(0, t.rfind(':')), "%Y%m%d-%H:%M:%S", ms_part(t, ':')), ""};
  });
}

TEST_CASE("timestamp detector: formats, zones, boundaries", "[logindex][parser]") {
  std::int64_t now = ns_of(2024, 6, 1);
  auto at = [&](std::string_view line) { return detect_timestamp(line, now); };
  auto d = at("2024-03-01T10:00:00.5+02:00 msg");
  REQUIRE(d);
  CHECK(d->ns == utc_ns("2024-03-01 08:00:00", "%Y-%m-%d %H:%M:%S", 500));
  CHECK(d->begin == 0);
  CHECK(d->end == 27);
  CHECK(at("ts 2024-03-01T10:00:00Z")->ns == utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"));
  CHECK(at("2024-03-01 10:00:00.123456789 x")->ns ==
        utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S") + 123'456'789);
  CHECK(at(R"(127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /")")->ns ==
        utc_ns("2000-10-10 20:55:36", "%Y-%m-%d %H:%M:%S"));
  // `_` is no date-time separator; a date alone is no timestamp.
  CHECK_FALSE(at("file.2024-03-01_10:00:00 done"));
  CHECK_FALSE(at("released 2024-03-01, ok"));
  // Impossible dates and clocks are not timestamps.
  CHECK_FALSE(at("2024-02-30 10:00:00 x"));
  CHECK_FALSE(at("2024-01-01 25:00:00 x"));
  // Not inside a longer number or word.
  CHECK_FALSE(at("id92024-03-01 10:00:00"));
  // Syslog: the year of the receive time, or the one before for a time
  // more than a day ahead.
  CHECK(at("Jan  2 03:04:05 host x")->ns == utc_ns("2024-01-02 03:04:05", "%Y-%m-%d %H:%M:%S"));
  CHECK(at("Dec 31 23:00:00 host x")->ns == utc_ns("2023-12-31 23:00:00", "%Y-%m-%d %H:%M:%S"));
  CHECK_FALSE(at(""));
  CHECK_FALSE(at("no time here at all"));
}

TEST_CASE("timestamp detector: whole-field values and Unix times", "[logindex][parser]") {
  std::int64_t now = ns_of(2024, 6, 1);
  CHECK(parse_timestamp("1700000000", now) == 1'700'000'000'000'000'000);
  CHECK(parse_timestamp("1700000000.25", now) == 1'700'000'000'250'000'000);
  CHECK(parse_timestamp("1700000000123", now) == 1'700'000'000'123'000'000);
  CHECK(parse_timestamp("1700000000123456", now) == 1'700'000'000'123'456'000);
  CHECK(parse_timestamp("1700000000123456789", now) == 1'700'000'000'123'456'789);
  CHECK(parse_timestamp(" 2024-03-01T10:00:00Z ", now) ==
        utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"));
  CHECK_FALSE(parse_timestamp("2024-03-01T10:00:00Z trailing", now));
  CHECK_FALSE(parse_timestamp("12abc", now));
  CHECK_FALSE(parse_timestamp("99999999999999999999", now));
  CHECK_FALSE(parse_timestamp("", now));
}

TEST_CASE("severity: spellings and where a level word counts", "[logindex][parser]") {
  CHECK(normalize_severity("WARNING") == "warn");
  CHECK(normalize_severity("Err") == "error");
  CHECK(normalize_severity("SEVERE") == "critical");
  CHECK(normalize_severity("emerg") == "fatal");
  CHECK(normalize_severity("verbose").empty());
  CHECK(detect_severity("[error] mod_jk child", 0) == "error");
  CHECK(detect_severity("148 INFO dfs.DataNode: x", 0) == "info");
  CHECK(detect_severity(" - WARN  [thread] - y", 0) == "warn");
  CHECK(detect_severity("ERROR: disk full", 0) == "error");
  // Running text: lower-case bare words and words past the first tokens.
  CHECK(detect_severity("mod_jk child in error state", 0).empty());
  CHECK(detect_severity("a b c ERROR", 0).empty());
  CHECK(detect_severity("logrotate: ALERT exited abnormally", 0).empty());
  CHECK(detect_severity("[alert] x", 0) == "fatal");
}

TEST_CASE("stream selector: parse, match, errors with positions", "[logindex][parser]") {
  auto s = StreamSelector::parse(R"({job="nginx", env=~"prod|stage", host!="a", x!~`b.*`,})");
  CHECK(s.matchers().size() == 4);
  CHECK(s.matches(Labels{{"job", "nginx"}, {"env", "prod"}, {"host", "b"}}));
  CHECK_FALSE(s.matches(Labels{{"job", "nginx"}, {"env", "production"}}));  // anchored
  CHECK_FALSE(s.matches(Labels{{"job", "nginx"}, {"env", "prod"}, {"x", "bb"}}));
  CHECK(StreamSelector::parse("{}").matches(Labels{{"a", "b"}}));
  std::size_t used = 0;
  StreamSelector::parse(R"({a="b"} |= "x")", &used);
  CHECK(used == 7);
  auto error_of = [](std::string_view text) {
    try {
      StreamSelector::parse(text);
    } catch (const SelectorError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("job=\"a\"") == "parse error at char 1: expected '{' to open a stream selector");
  CHECK(error_of("{job=\"a\"") == "parse error at char 9: expected ',' or '}'");
  CHECK(error_of("{job~\"a\"}") == "parse error at char 5: expected one of = != =~ !~");
  CHECK(error_of("{job=\"a}") == "parse error at char 9: unterminated string");
  CHECK(error_of("{job=~\"(\"}") ==
        "parse error at char 7: invalid regular expression for label job: missing ): (");
  CHECK(error_of("{1a=\"b\"}") == "parse error at char 2: expected a label name");
}

TEST_CASE("line parser: JSON lines", "[logindex][parser]") {
  LineParser parser;
  auto p = parser.parse(
      Labels{},
      R"({"ts":"2024-03-01T10:00:00Z","level":"WARNING","msg":"disk \"sda\" slow",)"
      R"("req":{"id":"abc-1","ms":12.5},"tags":["a"],"ok":true,"n":null,"big":18446744073709551615})",
      0);
  REQUIRE(p.timestamp_ns);
  CHECK(*p.timestamp_ns == utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"));
  CHECK(p.level == "warn");
  std::map<std::string, std::string> f(p.fields.begin(), p.fields.end());
  CHECK(f["msg"] == "disk \"sda\" slow");
  CHECK(f["req_id"] == "abc-1");
  CHECK(f["req_ms"] == "12.5");
  CHECK(f["ok"] == "true");
  CHECK(f["big"] == "18446744073709551615");
  CHECK(f.count("tags") == 0);
  CHECK(f.count("n") == 0);
  // Epoch numbers and odd names.
  p = parser.parse(Labels{}, R"({"time":1700000000123,"log.level":"err","9x":"y"})", 0);
  CHECK(*p.timestamp_ns == 1'700'000'000'123'000'000);
  f = {p.fields.begin(), p.fields.end()};
  CHECK(f["log_level"] == "err");
  CHECK(p.level == "error");
  CHECK(f["_9x"] == "y");
  // Broken JSON under auto: plain text, receive time, detection still runs.
  p = parser.parse(Labels{}, R"({"ts": "2024-03-01 10:00:00", oops ERROR)", 7);
  CHECK(p.fields.empty());
  CHECK(*p.timestamp_ns == utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"));
}

TEST_CASE("line parser: field limits against explosions", "[logindex][parser]") {
  std::string line = "{";
  for (int i = 0; i < 200; ++i) line += "\"k" + std::to_string(i) + "\":1,";
  line += "\"" + std::string(500, 'n') + "\":1,\"v\":\"" + std::string(5000, 'x') + "\"}";
  ParsedLine p;
  REQUIRE(parse_json_fields(line, p));
  CHECK(p.fields.size() == kMaxFields);
  ParsedLine q;
  REQUIRE(parse_json_fields(
      "{\"" + std::string(500, 'n') + "\":1,\"v\":\"" + std::string(5000, 'x') + "\"}", q));
  REQUIRE(q.fields.size() == 1);  // the over-long name is dropped
  CHECK(q.fields[0].second.size() == kMaxFieldValue);
  // Deep nesting stops flattening instead of recursing without bound.
  std::string deep(10000, '[');
  ParsedLine r;
  CHECK_FALSE(parse_json_fields(deep, r));
  std::string nested;
  for (int i = 0; i < 100; ++i) nested += "{\"a\":";
  nested += "1";
  for (int i = 0; i < 100; ++i) nested += "}";
  ParsedLine s;
  CHECK(parse_json_fields(nested, s));
  CHECK(s.fields.empty());
}

TEST_CASE("line parser: logfmt and regexp rules chosen by stream", "[logindex][parser]") {
  auto parser = LineParser::from_specs({
      R"({job="api"} logfmt)",
      R"({job=~"legacy.*"} regexp `^(?P<when>\S+ \S+) \[(?P<level>\w+)\] user=(?P<user>\d+)`)",
      R"({job="plain"} raw)",
  });
  auto p =
      parser.parse(Labels{{"job", "api"}},
                   R"(ts=2024-03-01T10:00:00Z level=error msg="upstream \"b\" down" retry)", 0);
  CHECK(*p.timestamp_ns == utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"));
  CHECK(p.level == "error");
  std::map<std::string, std::string> f(p.fields.begin(), p.fields.end());
  CHECK(f["msg"] == "upstream \"b\" down");
  CHECK(f.count("retry") == 1);
  // Not logfmt: no fields, detection on the text.
  p = parser.parse(Labels{{"job", "api"}}, R"(2024-03-01 10:00:00 WARN "unterminated=)", 0);
  CHECK(p.fields.empty());
  CHECK(p.level == "warn");

  p = parser.parse(Labels{{"job", "legacy-1"}}, "2024-03-01 10:00:00 [Notice] user=42 logged in",
                   0);
  f = {p.fields.begin(), p.fields.end()};
  CHECK(f["user"] == "42");
  CHECK(f["when"] == "2024-03-01 10:00:00");
  CHECK(p.level == "notice");
  CHECK(*p.timestamp_ns == utc_ns("2024-03-01 10:00:00", "%Y-%m-%d %H:%M:%S"));
  // A line the pattern does not match keeps its text and gets the receive time.
  p = parser.parse(Labels{{"job", "legacy-2"}}, "garbage", 99);
  CHECK(p.fields.empty());
  CHECK_FALSE(p.timestamp_ns);

  // raw never extracts fields, even from JSON.
  p = parser.parse(Labels{{"job", "plain"}}, R"({"a":"b"})", 0);
  CHECK(p.fields.empty());
  // Streams no rule selects get auto.
  p = parser.parse(Labels{{"job", "other"}}, R"({"a":"b"})", 0);
  CHECK(p.fields.size() == 1);
}

TEST_CASE("line parser: bad rule specs name the entry and the problem", "[logindex][parser]") {
  auto error_of = [](std::vector<std::string> specs) {
    try {
      LineParser::from_specs(specs);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of({"{a=\"b\"} json", "{a=\"c\"} yaml"}) ==
        "logindex.parsers entry 2 ({a=\"c\"} yaml): unknown format \"yaml\" (expected auto, "
        "json, logfmt, regexp or raw)");
  CHECK(error_of({"{a=\"b\"}"}) == "logindex.parsers entry 1 ({a=\"b\"}): missing the format");
  CHECK(error_of({"{a=\"b\"} regexp (x"}).find("invalid regexp: missing )") != std::string::npos);
  CHECK(error_of({"{a=\"b\"} regexp (x)"}).find("no named group") != std::string::npos);
  CHECK(error_of({"{a=\"b\"} json extra"}).find("unexpected text after the format: extra") !=
        std::string::npos);
  CHECK(error_of({"a json"}).find("parse error at char 1") != std::string::npos);
}

TEST_CASE("line parser: invalid UTF-8 and odd bytes never break parsing", "[logindex][parser]") {
  LineParser parser;
  std::string bad = "2024-03-01 10:00:00 ERROR \xff\xfe bytes \x00 nul";
  bad.push_back('\0');
  auto p = parser.parse(Labels{}, bad, 0);
  CHECK(p.level == "error");
  CHECK(p.timestamp_ns);
  ParsedLine q;
  CHECK_FALSE(parse_json_fields("{\"a\":\"\xff\"}", q));  // simdjson validates UTF-8
  CHECK(parser.parse(Labels{}, "{\"a\":\"\xff\"}", 5).fields.empty());
}

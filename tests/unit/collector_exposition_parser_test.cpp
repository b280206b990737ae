// The Prometheus text exposition format parser: valid documents, and the
// line and column of every kind of syntax error.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>

#include "common/exposition_parser.h"

using namespace strata;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_exposition(text, 0);
  } catch (const ExpositionError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("exposition parser reads a /metrics page", "[collector][exposition]") {
  const std::string text =
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3   1395066363000\n"
      "\n"
      "# A plain comment\n"
      "#no space either\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
      "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\r\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "  something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "nan_and_inf{a=\"1\",} NaN\n"
      "nan_and_inf{a=\"2\"} -inf\n"
      "colon:name{empty=\"\"} 1e-400\n"
      "http_requests_total{code=\"200\",method=\"post\"} 1028 1395066364000\n"
      "# EOF";
  auto parsed = parse_exposition(text, 42);
  const auto& series = parsed.batch.series;
  REQUIRE(series.size() == 8);
  CHECK(series[0].labels ==
        Labels{{"__name__", "http_requests_total"}, {"code", "200"}, {"method", "post"}});
  // Same label set (other order) on line 14: one series, two samples.
  REQUIRE(series[0].samples.size() == 2);
  CHECK(series[0].samples[0].timestamp_ms == 1395066363000);
  CHECK(series[0].samples[0].value == 1027);
  CHECK(series[0].samples[1].value == 1028);
  CHECK(parsed.sample_lines[0] == std::vector<std::size_t>{3, 14});
  CHECK(series[1].samples[0].value == 3);
  CHECK(series[2].labels.get("path") == "C:\\DIR\\FILE.TXT");
  CHECK(series[2].labels.get("error") == "Cannot find file:\n\"FILE.TXT\"");
  CHECK(series[2].samples[0].value == 1.458255915e9);
  CHECK(series[3].samples[0].timestamp_ms == 42);  // receive time
  CHECK(series[3].samples[0].value == 12.47);
  CHECK(series[4].samples[0].value == std::numeric_limits<double>::infinity());
  CHECK(series[4].samples[0].timestamp_ms == -3982045);
  CHECK(std::isnan(series[5].samples[0].value));
  CHECK(std::bit_cast<std::uint64_t>(series[5].samples[0].value) == wire::kNormalNaNBits);
  CHECK(series[6].samples[0].value == -std::numeric_limits<double>::infinity());
  CHECK(series[7].labels == Labels{{"__name__", "colon:name"}});
  CHECK(series[7].samples[0].value == 0);
  CHECK(parse_exposition("", 0).batch.series.empty());
}

TEST_CASE("exposition parser names line and column of syntax errors", "[collector][exposition]") {
  CHECK(error_of("ok 1\n9bad 1") ==
        "line 2, column 1: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got '9'");
  CHECK(error_of("m{a=\"1\" b=\"2\"} 1") ==
        "line 1, column 9: expected ',' or '}' after a label value, got 'b'");
  CHECK(error_of("m{code} 1") ==
        "line 1, column 7: expected '=' after label name \"code\", got '}'");
  CHECK(error_of("m{a=1} 1") ==
        "line 1, column 5: expected '\"' to open the value of label \"a\", got '1'");
  CHECK(error_of("m{a=\"1} 1") == "line 1, column 10: unterminated value of label \"a\"");
  CHECK(error_of("m{0a=\"1\"} 1") ==
        "line 1, column 3: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}', got '0'");
  CHECK(error_of("m{a=\"1\",a=\"2\"} 1") == "line 1, column 9: duplicate label name \"a\"");
  CHECK(error_of("m") == "line 1, column 2: expected a value after the metric, got end of line");
  CHECK(error_of("m-x 1") ==
        "line 1, column 2: expected a space, '{' or a value after the metric name, got '-'");
  CHECK(error_of("m 1.2.3") ==
        "line 1, column 3: invalid value \"1.2.3\": expected a float, NaN, +Inf or -Inf");
  CHECK(error_of("m 0x10") ==
        "line 1, column 3: invalid value \"0x10\": expected a float, NaN, +Inf or -Inf");
  CHECK(error_of("m 1e999") ==
        "line 1, column 3: invalid value \"1e999\": expected a float, NaN, +Inf or -Inf");
  CHECK(error_of("m 1 12.5") ==
        "line 1, column 5: invalid timestamp \"12.5\": expected integer milliseconds since the "
        "epoch");
  CHECK(error_of("m 1 2 3") == "line 1, column 7: unexpected text after the timestamp: '3'");
  CHECK(error_of("# TYPE m countr") ==
        "line 1, column 10: unknown metric type \"countr\" (counter, gauge, histogram, summary, "
        "untyped)");
  CHECK(error_of("# TYPE 1m counter") ==
        "line 1, column 8: invalid metric name in # TYPE: expected [a-zA-Z_:], got '1'");
  CHECK(error_of("# HELP") == "line 1, column 7: expected a metric name after # HELP");
  CHECK(error_of("m{__name__=\"x\"} 1") ==
        "line 1, column 3: label __name__ inside braces: the metric name goes before '{'");
  CHECK(error_of("a 1\nb 2\n\nm{a=\"\x01\"} \x02") ==
        "line 4, column 10: invalid value \"\x02\": expected a float, NaN, +Inf or -Inf");
}

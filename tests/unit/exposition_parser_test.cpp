// common/exposition_parser.h beyond what the collector's import uses (that is
// tests/unit/collector_exposition_parser_test.cpp): OpenMetrics (# EOF, units,
// exemplars, _created, timestamps in seconds), metadata, histograms and
// summaries, NaN/Inf, escapes, and the line and column of malformed input.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <limits>

#include "common/exposition_parser.h"

using namespace strata;

namespace {

constexpr auto kOM = ExpositionFormat::kOpenMetrics;
constexpr auto kText = ExpositionFormat::kPrometheusText;

std::string error_of(const std::string& text, ExpositionFormat f) {
  try {
    parse_exposition(text, 0, f);
  } catch (const ExpositionError& e) {
    return e.what();
  }
  return "(no error)";
}

const wire::Series* find(const ParsedExposition& p, const Labels& l) {
  for (const auto& s : p.batch.series)
    if (s.labels == l) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("exposition: OpenMetrics with units, exemplars, _created and # EOF",
          "[unit][agent][exposition]") {
  const std::string text =
      "# TYPE acme_http_router_request_seconds summary\n"
      "# UNIT acme_http_router_request_seconds seconds\n"
      "# HELP acme_http_router_request_seconds Latency \\\"quoted\\\" \\\\ and\\nnewline.\n"
      "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
      "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
      "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
      "# TYPE go_goroutines gauge\n"
      "go_goroutines 69 1605281325.5\n"
      "# TYPE foo histogram\n"
      "foo_bucket{le=\"0.01\"} 0\n"
      "foo_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067 1605281325.25\n"
      "foo_bucket{le=\"+Inf\"} 17 # {} 2\n"
      "foo_count 17\n"
      "foo_sum 324789.3\n"
      "foo_created 1520430000.123\n"
      "# TYPE nan gauge\n"
      "nan{a=\"x\"} NaN\n"
      "nan{a=\"y\"} +Inf\n"
      "nan{a=\"z\"} -Inf\n"
      "# EOF\n";
  auto p = parse_exposition(text, 777, kOM);
  CHECK(p.batch.series.size() == 11);  // the two _created series are dropped
  for (const auto& s : p.batch.series)
    CHECK_FALSE(std::string(s.labels.get("__name__")).ends_with("_created"));
  const auto* sum = find(p, {{"__name__", "acme_http_router_request_seconds_sum"},
                             {"method", "GET"},
                             {"path", "/api/v1"}});
  REQUIRE(sum);
  CHECK(sum->samples[0].value == 9036.32);
  CHECK(sum->samples[0].timestamp_ms == 777);
  const auto* g = find(p, {{"__name__", "go_goroutines"}});
  REQUIRE(g);
  CHECK(g->samples[0].timestamp_ms == 1605281325500);  // seconds -> ms
  const auto* b = find(p, {{"__name__", "foo_bucket"}, {"le", "0.1"}});
  REQUIRE(b);
  CHECK(b->samples[0].value == 8);  // the exemplar's 0.067 is not a sample
  CHECK(b->samples[0].timestamp_ms == 777);
  REQUIRE(find(p, {{"__name__", "foo_bucket"}, {"le", "+Inf"}}));
  CHECK(std::isnan(find(p, {{"__name__", "nan"}, {"a", "x"}})->samples[0].value));
  CHECK(find(p, {{"__name__", "nan"}, {"a", "y"}})->samples[0].value ==
        std::numeric_limits<double>::infinity());
  CHECK(find(p, {{"__name__", "nan"}, {"a", "z"}})->samples[0].value ==
        -std::numeric_limits<double>::infinity());

  REQUIRE(p.metadata.size() == 4);
  CHECK(p.metadata[0].family == "acme_http_router_request_seconds");
  CHECK(p.metadata[0].type == "summary");
  CHECK(p.metadata[0].unit == "seconds");
  CHECK(p.metadata[0].help == "Latency \"quoted\" \\ and\nnewline.");
  CHECK(p.metadata[2].family == "foo");
  CHECK(p.metadata[2].type == "histogram");
}

TEST_CASE("exposition: text format keeps HELP and TYPE as metadata, histograms as series",
          "[unit][agent][exposition]") {
  const std::string text =
      "# HELP http_request_duration_seconds A histogram of the request duration.\\nSecond.\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "http_request_duration_seconds_sum 53423\n"
      "http_request_duration_seconds_count 144320\n"
      "# HELP rpc_duration_seconds A summary.\n"
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
      "rpc_duration_seconds{quantile=\"0.99\"} NaN\n"
      "rpc_duration_seconds_created 1 1000\n"  // not OpenMetrics: an ordinary series
      "# EOF\n"
      "after_eof_is_fine_in_text 1\n";
  auto p = parse_exposition(text, 5, kText);
  CHECK(p.batch.series.size() == 8);
  REQUIRE(p.metadata.size() == 2);
  CHECK(p.metadata[0].help == "A histogram of the request duration.\nSecond.");
  CHECK(p.metadata[0].type == "histogram");
  CHECK(p.metadata[1].type == "summary");
  const auto* c = find(p, {{"__name__", "rpc_duration_seconds_created"}});
  REQUIRE(c);
  CHECK(c->samples[0].timestamp_ms == 1000);  // milliseconds in the text format
}

TEST_CASE("exposition: format from Content-Type", "[unit][agent][exposition]") {
  CHECK(exposition_format_of("application/openmetrics-text; version=1.0.0; charset=utf-8") == kOM);
  CHECK(exposition_format_of("Application/OpenMetrics-Text") == kOM);
  CHECK(exposition_format_of("text/plain; version=0.0.4; charset=utf-8") == kText);
  CHECK(exposition_format_of("") == kText);
}

TEST_CASE("exposition: malformed OpenMetrics is rejected with line and column",
          "[unit][agent][exposition]") {
  CHECK(error_of("a 1\n", kOM) ==
        "line 2, column 1: missing \"# EOF\": an OpenMetrics exposition must end with it (the "
        "response was probably cut off)");
  CHECK(error_of("a 1\n# EOF\nb 2\n", kOM) ==
        "line 3, column 1: content after \"# EOF\": an OpenMetrics exposition ends there");
  CHECK(error_of("a 1 12x\n# EOF\n", kOM) ==
        "line 1, column 5: invalid timestamp \"12x\": expected seconds since the epoch "
        "(OpenMetrics)");
  CHECK(error_of("a{b=\"\\t\"} 1\n# EOF\n", kOM) ==
        "line 1, column 6: invalid escape of 't' in the value of label \"b\" (OpenMetrics "
        "allows \\\\, \\\" and \\n)");
  CHECK(error_of("# TYPE a gauge\n# TYPE a counter\n# EOF\n", kOM) ==
        "line 2, column 1: second # TYPE line for metric family \"a\"");
  CHECK(error_of("# UNIT a_bytes seconds\n# EOF\n", kOM) ==
        "line 1, column 8: metric family \"a_bytes\" must end with its unit \"_seconds\"");
  CHECK(error_of("a 1 # trace_id=\"1\" 1\n# EOF\n", kOM) ==
        "line 1, column 7: expected '{' to open the labels of an exemplar, got 't'");
  CHECK(error_of("a 1 # {t=\"1\"}\n# EOF\n", kOM) ==
        "line 1, column 14: expected a value after the exemplar's labels");
  CHECK(error_of("a 1 # {t=\"1\"} 1 2 3\n# EOF\n", kOM) ==
        "line 1, column 19: unexpected text after the exemplar: '3'");
  CHECK(error_of("#comment\n# EOF\n", kOM) ==
        "line 1, column 1: expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\" after '#'");
  CHECK(error_of("# FOO bar\n# EOF\n", kOM) ==
        "line 1, column 3: unknown comment \"# FOO\": OpenMetrics allows HELP, TYPE, UNIT and "
        "EOF");
  // The text format has no exemplars: '#' after a value is garbage.
  CHECK(error_of("a 1 # {t=\"1\"} 1\n", kText) ==
        "line 1, column 5: invalid timestamp \"#\": expected integer milliseconds since the "
        "epoch");
  CHECK(error_of("a{b=\"1\"} 1\nc{", kText) ==
        "line 2, column 3: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*) or '}', got end of "
        "line");
}

// The PromQL vector-selector parser: every accepted form, every malformed
// form with its position, and Prometheus's regex and empty-matcher rules.
#include <catch2/catch.hpp>

#include "tsdb/promql/selector.h"

using namespace strata;
using namespace strata::tsdb;
using strata::tsdb::promql::parse_vector_selector;
using strata::tsdb::promql::ParseError;

namespace {

std::vector<std::string> rendered(const promql::VectorSelector& s) {
  std::vector<std::string> out;
  for (const auto& m : s.matchers) out.push_back(m.to_string());
  return out;
}

// The full error message of parsing `input`; fails the test if it parses.
std::string error_of(const std::string& input) {
  try {
    parse_vector_selector(input);
  } catch (const ParseError& e) {
    return e.what();
  }
  FAIL("expected a parse error for: " << input);
  return {};
}

std::size_t error_position(const std::string& input) {
  try {
    parse_vector_selector(input);
  } catch (const ParseError& e) {
    return e.position();
  }
  FAIL("expected a parse error for: " << input);
  return 0;
}

}  // namespace

TEST_CASE("selector: a bare metric name", "[tsdb][selector]") {
  auto s = parse_vector_selector("up");
  CHECK(s.metric_name == "up");
  CHECK(rendered(s) == std::vector<std::string>{"__name__=\"up\""});
  CHECK(parse_vector_selector("  job:rate5m:sum  ").metric_name == "job:rate5m:sum");
  CHECK(parse_vector_selector("_x1").metric_name == "_x1");
  CHECK(parse_vector_selector("up{}").metric_name == "up");
}

TEST_CASE("selector: all four operators, whitespace and a trailing comma", "[tsdb][selector]") {
  auto s =
      parse_vector_selector("http_requests_total{ a = \"b\" , c!=\"d\",e=~\"r.*\",\n\tf!~'x|y', }");
  CHECK(rendered(s) == std::vector<std::string>{"__name__=\"http_requests_total\"", "a=\"b\"",
                                                "c!=\"d\"", "e=~\"r.*\"", "f!~\"x|y\""});
  CHECK(s.matchers[3].op() == MatchOp::kRegexMatch);
  CHECK(s.matchers[4].op() == MatchOp::kRegexNoMatch);
}

TEST_CASE("selector: name given only as __name__", "[tsdb][selector]") {
  auto s = parse_vector_selector("{__name__=\"x\"}");
  CHECK(s.metric_name.empty());
  CHECK(rendered(s) == std::vector<std::string>{"__name__=\"x\""});
  auto r = parse_vector_selector("{__name__=~\"node_.+\", job=\"n\"}");
  CHECK(r.matchers.size() == 2);
  CHECK(r.matchers[0].matches("node_load1"));
  CHECK_FALSE(r.matchers[0].matches("node_"));
}

TEST_CASE("selector: string escapes, quote styles and raw strings", "[tsdb][selector]") {
  auto value = [](const std::string& lit) {
    return parse_vector_selector("m{a=" + lit + "}").matchers[1].value();
  };
  CHECK(value(R"("a\"b")") == "a\"b");
  CHECK(value(R"("back\\slash")") == "back\\slash");
  CHECK(value(R"("tab\tnl\ncr\r")") == "tab\tnl\ncr\r");
  CHECK(value(R"('it\'s')") == "it's");
  CHECK(value(R"('say "hi"')") == "say \"hi\"");
  CHECK(value(R"("\x41\102\u00e9\U0001F600")") == "AB\xC3\xA9\xF0\x9F\x98\x80");
  CHECK(value("`raw \\d+ \"q\"`") == "raw \\d+ \"q\"");
  CHECK(value(R"("")") == "");
  CHECK(value("\"caf\xC3\xA9\"") == "caf\xC3\xA9");
}

TEST_CASE("selector: regexes are fully anchored, RE2, and dot matches newline",
          "[tsdb][selector]") {
  auto m = parse_vector_selector("m{a=~\"fo\"}").matchers[1];
  CHECK(m.matches("fo"));
  CHECK_FALSE(m.matches("foo"));
  CHECK_FALSE(m.matches("xfo"));
  auto alt = parse_vector_selector("m{a=~\"a|b\"}").matchers[1];
  CHECK(alt.matches("a"));
  CHECK(alt.matches("b"));
  CHECK_FALSE(alt.matches("ab"));
  auto dot = parse_vector_selector("m{a=~\"x.y\"}").matchers[1];
  CHECK(dot.matches("x\ny"));
  auto neg = parse_vector_selector("m{a!~\"5..\"}").matchers[1];
  CHECK(neg.matches("200"));
  CHECK_FALSE(neg.matches("503"));
  CHECK(neg.matches(""));
}

TEST_CASE("selector: matchers that accept \"\" see absent labels as empty", "[tsdb][selector]") {
  auto s = parse_vector_selector("m{a!=\"x\",b=\"\"}");
  Labels without{{"__name__", "m"}};
  Labels with_b{{"__name__", "m"}, {"b", "1"}};
  CHECK(matches_all(s.matchers, without));
  CHECK_FALSE(matches_all(s.matchers, with_b));
}

TEST_CASE("selector: selectors matching everything are rejected", "[tsdb][selector]") {
  for (const char* in :
       {"{}", "{a=\"\"}", "{a=~\".*\"}", "{a!=\"x\"}", "{a!~\"x\"}", "{a=~\"\", b!=\"c\"}"}) {
    INFO(in);
    CHECK(error_of(in) ==
          "parse error at char 1: vector selector must contain at least one non-empty matcher");
  }
  // One non-empty matcher is enough.
  CHECK_NOTHROW(parse_vector_selector("{a=~\".+\"}"));
  CHECK_NOTHROW(parse_vector_selector("{a!=\"\"}"));
  CHECK_NOTHROW(parse_vector_selector("{a=~\".*\", b=\"x\"}"));
}

TEST_CASE("selector: malformed input names the position and what was expected",
          "[tsdb][selector]") {
  CHECK(error_of("") == "parse error at char 1: no expression found in input");
  CHECK(error_of("   ") == "parse error at char 4: no expression found in input");
  CHECK(error_of("metric{") ==
        "parse error at char 8: unexpected end of input, expected label name or '}'");
  CHECK(error_of("metric{a") ==
        "parse error at char 9: unexpected end of input after label name \"a\", expected one of "
        "'=', '!=', '=~', '!~'");
  CHECK(error_of("metric{a}") ==
        "parse error at char 9: unexpected '}' after label name \"a\", expected one of '=', "
        "'!=', '=~', '!~'");
  CHECK(error_of("metric{a=") ==
        "parse error at char 10: unexpected end of input, expected a quoted string");
  CHECK(error_of("metric{a=}") ==
        "parse error at char 10: unexpected '}', expected a quoted string");
  CHECK(error_of("metric{a=b}") ==
        "parse error at char 10: unexpected identifier \"b\", expected a quoted string");
  CHECK(error_of("metric{a==\"b\"}") ==
        "parse error at char 10: unexpected '=', expected a quoted string");
  CHECK(error_of("metric{a=\"b\"") ==
        "parse error at char 13: unexpected end of input, expected ',' or '}'");
  CHECK(error_of("metric{a=\"b\" c=\"d\"}") ==
        "parse error at char 14: unexpected identifier \"c\", expected ',' or '}'");
  CHECK(error_of("metric{=\"b\"}") == "parse error at char 8: unexpected '=', expected label name");
  CHECK(error_of("metric{a=\"b\",,}") ==
        "parse error at char 14: unexpected ',', expected label name");
  CHECK(error_of("metric{1a=\"b\"}") ==
        "parse error at char 8: unexpected '1', expected label name");
  CHECK(error_of("metric{\"a\"=\"b\"}") ==
        "parse error at char 8: unexpected string, expected label name");
  CHECK(error_of("metric{a:b=\"c\"}") ==
        "parse error at char 8: invalid label name \"a:...\": ':' is only allowed in metric "
        "names");
  CHECK(error_of("metric{a=\"b\"}}") ==
        "parse error at char 14: unexpected '}' after the vector selector: only a plain vector "
        "selector is supported");
  CHECK(error_of("foo bar") ==
        "parse error at char 5: unexpected identifier \"bar\" after the vector selector: only a "
        "plain vector selector is supported");
  CHECK(error_of("1+1") == "parse error at char 1: unexpected '1', expected a metric name or '{'");
  CHECK(error_of("\"foo\"") ==
        "parse error at char 1: unexpected string, expected a metric name or '{'");
  CHECK(error_of("rate(x[5m])") ==
        "parse error at char 5: unexpected '(' after \"rate\": functions are not supported yet, "
        "only vector selectors");
  CHECK(error_of("foo[5m]") ==
        "parse error at char 4: unexpected '[': range selectors are not supported yet");
  CHECK(error_of("foo\x01") ==
        "parse error at char 4: unexpected byte 0x01 after the vector selector: only a plain "
        "vector selector is supported");
}

TEST_CASE("selector: bad strings", "[tsdb][selector]") {
  CHECK(error_of("metric{a=\"b") == "parse error at char 10: unterminated quoted string");
  CHECK(error_of("metric{a='b\"}") == "parse error at char 10: unterminated quoted string");
  CHECK(error_of("metric{a=\"b\nc\"}") == "parse error at char 10: unterminated quoted string");
  CHECK(error_of("metric{a=`b}") == "parse error at char 10: unterminated quoted string");
  CHECK(error_of("metric{a=\"\\q\"}") == "parse error at char 11: unknown escape sequence '\\q'");
  CHECK(error_of("metric{a=\"\\") == "parse error at char 11: unterminated escape sequence");
  CHECK(error_of("metric{a=\"\\x4\"}") ==
        "parse error at char 11: invalid escape sequence: expected 2 hex digits");
  CHECK(error_of("metric{a=\"\\u12\"}") ==
        "parse error at char 11: invalid escape sequence: expected 4 hex digits");
  CHECK(error_of("metric{a=\"\\ud800\"}") ==
        "parse error at char 11: escape sequence is an invalid Unicode code point");
  CHECK(error_of("metric{a=\"\\18\"}") ==
        "parse error at char 11: invalid octal escape: expected three octal digits");
  CHECK(error_of("metric{a=\"\\777\"}") == "parse error at char 11: octal escape value > 255");
  CHECK(error_of("metric{a=\"\\xff\"}") ==
        "parse error at char 10: invalid UTF-8 in quoted string");
  CHECK(error_of("metric{a=\"\xff\"}") == "parse error at char 10: invalid UTF-8 in quoted string");
}

TEST_CASE("selector: a bad regex is an error at the regex", "[tsdb][selector]") {
  std::string e = error_of("metric{a=~\"x(\"}");
  CHECK(e.rfind("parse error at char 11: invalid regular expression \"x(\": ", 0) == 0);
  CHECK(e.find("missing )") != std::string::npos);
  CHECK(error_position("m{a!~\"[z-a]\"}") == 6);
  CHECK(error_position("m{a=~\"a)|(b\"}") == 6);
  // Perl lookarounds are not RE2 (nor Go) syntax.
  CHECK(error_position("m{a=~\"(?=x)\"}") == 6);
  // Not a regex operator: the same text is a plain value.
  CHECK(parse_vector_selector("m{a=\"x(\"}").matchers[1].matches("x("));
}

TEST_CASE("selector: the metric name cannot be given twice", "[tsdb][selector]") {
  CHECK(error_of("foo{__name__=\"bar\"}") ==
        "parse error at char 1: metric name must not be set twice: \"foo\" or \"bar\"");
  CHECK(error_position(" foo{__name__=~\"b.*\"}") == 2);
}

TEST_CASE("selector: ParseError exposes position and detail", "[tsdb][selector]") {
  try {
    parse_vector_selector("up{a=}");
    FAIL("no error");
  } catch (const ParseError& e) {
    CHECK(e.position() == 6);
    CHECK(e.detail() == "unexpected '}', expected a quoted string");
  }
}

#include "common/wire_format.h"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace strata;
using namespace strata::wire;

namespace {

std::uint64_t bits(double v) { return std::bit_cast<std::uint64_t>(v); }

// NaN != NaN, so samples are compared by bit pattern.
void require_same_samples(const std::vector<Sample>& a, const std::vector<Sample>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("sample " << i);
    REQUIRE(a[i].timestamp_ms == b[i].timestamp_ms);
    REQUIRE(bits(a[i].value) == bits(b[i].value));
  }
}

MetricsBatch roundtrip(const MetricsBatch& in) { return decode_metrics(encode(in)); }

// Asserts that decoding `json` fails with a message containing `expected`.
void require_metrics_error(const std::string& json, const std::string& expected) {
  INFO("input: " << json);
  try {
    decode_metrics(json);
    FAIL("decoded without error");
  } catch (const WireError& e) {
    REQUIRE_THAT(e.what(), Catch::Contains(expected));
  }
}

void require_logs_error(const std::string& json, const std::string& expected) {
  INFO("input: " << json);
  try {
    decode_logs(json);
    FAIL("decoded without error");
  } catch (const WireError& e) {
    REQUIRE_THAT(e.what(), Catch::Contains(expected));
  }
}

std::string metrics_doc(const std::string& series) {
  return R"({"version":1,"series":[)" + series + "]}";
}

std::string one_series(const std::string& labels, const std::string& samples) {
  return metrics_doc(R"({"labels":)" + labels + R"(,"samples":)" + samples + "}");
}

std::string logs_doc(const std::string& streams) {
  return R"({"version":1,"streams":[)" + streams + "]}";
}

std::string one_stream(const std::string& labels, const std::string& entries) {
  return logs_doc(R"({"labels":)" + labels + R"(,"entries":)" + entries + "}");
}

}  // namespace

// ------------------------------------------------------------------ values

TEST_CASE("stale marker and NaN constants", "[wire]") {
  REQUIRE(bits(stale_nan()) == kStaleNaNBits);
  REQUIRE(std::isnan(stale_nan()));
  REQUIRE(is_stale_nan(stale_nan()));
  REQUIRE_FALSE(is_stale_nan(std::numeric_limits<double>::quiet_NaN()));
  REQUIRE_FALSE(is_stale_nan(std::bit_cast<double>(kNormalNaNBits)));
  REQUIRE_FALSE(is_stale_nan(0.0));
}

TEST_CASE("format_value and parse_value", "[wire]") {
  REQUIRE(format_value(0.5) == "0.5");
  REQUIRE(format_value(1) == "1");
  REQUIRE(format_value(0.1) == "0.1");
  REQUIRE(format_value(1e30) == "1e+30");
  REQUIRE(format_value(-0.0) == "-0");
  REQUIRE(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  REQUIRE(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  REQUIRE(format_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  REQUIRE(format_value(stale_nan()) == "StaleNaN");

  REQUIRE(parse_value("0.5") == 0.5);
  REQUIRE(parse_value("+2") == 2);
  REQUIRE(parse_value("-1e-3") == -0.001);
  REQUIRE(parse_value("1e+30") == 1e30);
  REQUIRE(bits(parse_value("-0")) == bits(-0.0));
  REQUIRE(bits(parse_value("NaN")) == kNormalNaNBits);
  REQUIRE(bits(parse_value("nan")) == kNormalNaNBits);
  REQUIRE(bits(parse_value("StaleNaN")) == kStaleNaNBits);
  REQUIRE(parse_value("+Inf") == std::numeric_limits<double>::infinity());
  REQUIRE(parse_value("Inf") == std::numeric_limits<double>::infinity());
  REQUIRE(parse_value("-Inf") == -std::numeric_limits<double>::infinity());
  REQUIRE(parse_value("-inf") == -std::numeric_limits<double>::infinity());

  for (const char* bad : {"", " 1", "1 ", "abc", "1x", "--1", "+-1", "++1", "0x10", "nan(1)",
                          "-nan", "1e400", "StaleNan2", "+"}) {
    INFO(bad);
    REQUIRE_THROWS_AS(parse_value(bad), WireError);
  }
}

TEST_CASE("format_value round-trips random doubles bit-exactly", "[wire]") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    double v = std::bit_cast<double>(rng());
    if (std::isnan(v)) continue;
    REQUIRE(bits(parse_value(format_value(v))) == bits(v));
  }
}

TEST_CASE("valid_label_name", "[wire]") {
  for (const char* good : {"a", "_", "__name__", "A_b9", "job", "le", "_1"}) {
    INFO(good);
    REQUIRE(valid_label_name(good));
  }
  for (const char* bad : {"", "1a", "a-b", "a.b", "a b", "é", "a:b", "a\n"}) {
    INFO(bad);
    REQUIRE_FALSE(valid_label_name(bad));
  }
}

TEST_CASE("valid_utf8", "[wire]") {
  REQUIRE(valid_utf8(""));
  REQUIRE(valid_utf8("plain ascii"));
  REQUIRE(valid_utf8("日本語 ✓ 🚀"));
  REQUIRE(valid_utf8(std::string("nul\0inside", 10)));
  REQUIRE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  REQUIRE_FALSE(valid_utf8("\xff"));
  REQUIRE_FALSE(valid_utf8("\xc3"));              // truncated
  REQUIRE_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  REQUIRE_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong
  REQUIRE_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  REQUIRE_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  REQUIRE_FALSE(valid_utf8("a\x80"));             // stray continuation
}

// ----------------------------------------------------------------- metrics

TEST_CASE("decode the documented metrics example", "[wire]") {
  auto b = decode_metrics(
      R"({"version":1,"series":[{"labels":{"__name__":"node_load1","instance":"h1"},)"
      R"("samples":[[1700000000000,0.5],[1700000015000,"NaN"]]}]})");
  REQUIRE(b.series.size() == 1);
  REQUIRE(b.series[0].labels == Labels({{"__name__", "node_load1"}, {"instance", "h1"}}));
  REQUIRE(b.series[0].samples.size() == 2);
  REQUIRE(b.series[0].samples[0].timestamp_ms == 1700000000000);
  REQUIRE(b.series[0].samples[0].value == 0.5);
  REQUIRE(b.series[0].samples[1].timestamp_ms == 1700000015000);
  REQUIRE(bits(b.series[0].samples[1].value) == kNormalNaNBits);
}

TEST_CASE("encode metrics produces the documented form", "[wire]") {
  MetricsBatch b;
  b.series.push_back({Labels({{"instance", "h1"}, {"__name__", "node_load1"}}),
                      {{1700000000000, 0.5}, {1700000015000, std::nan("")}}});
  REQUIRE(encode(b) ==
          R"({"version":1,"series":[{"labels":{"__name__":"node_load1","instance":"h1"},)"
          R"("samples":[[1700000000000,0.5],[1700000015000,"NaN"]]}]})");
  REQUIRE(encode(MetricsBatch{}) == R"({"version":1,"series":[]})");
  REQUIRE(decode_metrics(encode(MetricsBatch{})).series.empty());
}

TEST_CASE("metrics round-trip special values bit-exactly", "[wire]") {
  const double inf = std::numeric_limits<double>::infinity();
  MetricsBatch in;
  in.series.push_back({Labels({{"__name__", "m"}}),
                       {
                           {0, 0.0},
                           {1, -0.0},
                           {2, std::bit_cast<double>(kNormalNaNBits)},
                           {3, stale_nan()},
                           {4, inf},
                           {5, -inf},
                           {6, std::numeric_limits<double>::denorm_min()},
                           {7, std::numeric_limits<double>::max()},
                           {8, std::numeric_limits<double>::lowest()},
                           {9, std::numeric_limits<double>::min()},
                           {10, 0.1},
                           {11, 1.0 / 3},
                           {12, 9007199254740993.0},
                           {13, 1e300},
                           {14, -123456789.125},
                           // Shortest forms of these are integer literals too
                           // long for 64-bit integer readers.
                           {15, 0x1p70},
                           {16, 1e20},
                           {17, -1e19},
                           {18, 9.2233720368547758e18},
                           {std::numeric_limits<std::int64_t>::min(), 1},
                           {std::numeric_limits<std::int64_t>::max(), 2},
                           {-1, 3},
                       }});
  auto out = roundtrip(in);
  REQUIRE(out.series.size() == 1);
  REQUIRE(out.series[0].labels == in.series[0].labels);
  require_same_samples(out.series[0].samples, in.series[0].samples);
  REQUIRE(std::signbit(out.series[0].samples[1].value));
  REQUIRE(is_stale_nan(out.series[0].samples[3].value));
}

TEST_CASE("metrics: NaN payloads other than the stale marker become canonical NaN", "[wire]") {
  MetricsBatch in;
  in.series.push_back({Labels({{"__name__", "m"}}),
                       {{0, std::numeric_limits<double>::quiet_NaN()},
                        {1, std::bit_cast<double>(0x7ff0000000000003ULL)},
                        {2, std::bit_cast<double>(0xfff8000000000000ULL)}}});
  auto out = roundtrip(in);
  for (const auto& s : out.series[0].samples) REQUIRE(bits(s.value) == kNormalNaNBits);
}

TEST_CASE("metrics: random finite doubles round-trip bit-exactly", "[wire]") {
  std::mt19937_64 rng(7);
  MetricsBatch in;
  in.series.push_back({Labels({{"__name__", "m"}}), {}});
  for (int i = 0; i < 20000; ++i) {
    double v = std::bit_cast<double>(rng());
    if (!std::isfinite(v)) continue;
    in.series[0].samples.push_back({static_cast<std::int64_t>(rng()), v});
  }
  require_same_samples(roundtrip(in).series[0].samples, in.series[0].samples);
}

TEST_CASE("metrics: number forms readers accept", "[wire]") {
  auto b = decode_metrics(one_series(
      R"({"__name__":"m"})",
      R"([[1,1],[2,-0.0],[3,-0],[4,1e3],[5,18446744073709551615],[6,-9223372036854775808],)"
      R"([7,"+Inf"],[8,"-Inf"],[9,"StaleNaN"],[10,1E-2]])"));
  const auto& s = b.series[0].samples;
  REQUIRE(s[0].value == 1);
  REQUIRE(std::signbit(s[1].value));
  // Documented: the integer literal -0 is the integer 0; writers emit -0.0.
  REQUIRE(bits(s[2].value) == bits(0.0));
  REQUIRE(s[3].value == 1000);
  REQUIRE(s[4].value == 18446744073709551615.0);
  REQUIRE(s[5].value == -9223372036854775808.0);
  REQUIRE(s[6].value == std::numeric_limits<double>::infinity());
  REQUIRE(s[7].value == -std::numeric_limits<double>::infinity());
  REQUIRE(is_stale_nan(s[8].value));
  REQUIRE(s[9].value == 0.01);
}

TEST_CASE("metrics: labels with unicode and escapes round-trip", "[wire]") {
  MetricsBatch in;
  in.series.push_back({Labels({{"__name__", "http_requests_total"},
                               {"path", "/api/\"quoted\"\\back\tslash\n"},
                               {"ctl", std::string("\x01\x1f\x7f nul:\0.", 10)},
                               {"u", "日本語 ✓ 🚀 é"},
                               {"slash", "</script>"}}),
                       {{1, 1}}});
  in.series.push_back({Labels({{"__name__", "b"}, {"z", std::string(4096, 'z')}}), {}});
  std::string json = encode(in);
  // Control characters are escaped, UTF-8 passes through unescaped.
  REQUIRE(json.find('\n') == std::string::npos);
  REQUIRE(json.find('\t') == std::string::npos);
  REQUIRE(json.find(std::string(1, '\0')) == std::string::npos);
  REQUIRE_THAT(json, Catch::Contains("\\u0001\\u001f"));
  REQUIRE_THAT(json, Catch::Contains("日本語 ✓ 🚀 é"));
  auto out = decode_metrics(json);
  REQUIRE(out.series.size() == 2);
  REQUIRE(out.series[0].labels == in.series[0].labels);
  REQUIRE(out.series[1].labels == in.series[1].labels);
  REQUIRE(out.series[1].samples.empty());
}

TEST_CASE("metrics: \\u escapes decode to UTF-8", "[wire]") {
  auto b =
      decode_metrics(one_series(R"({"__name__":"m","a":"\u00e9\ud83d\ude80\u0041\/\b\f"})", "[]"));
  REQUIRE(b.series[0].labels.get("a") == "é🚀A/\b\f");
}

TEST_CASE("labels with an empty value are absent", "[wire]") {
  auto b = decode_metrics(one_series(R"({"__name__":"m","a":"","b":"x"})", "[]"));
  REQUIRE(b.series[0].labels == Labels({{"__name__", "m"}, {"b", "x"}}));
  // An empty value does not make a name valid, nor a duplicate acceptable.
  require_metrics_error(one_series(R"({"__name__":"m","a":"","a":"x"})", "[]"),
                        "duplicate label name");
  require_metrics_error(one_series(R"({"__name__":"m","1":""})", "[]"), "invalid label name");

  MetricsBatch in;
  in.series.push_back({Labels({{"__name__", "m"}, {"empty", ""}, {"z", "1"}}), {{1, 2}}});
  std::string json = encode(in);
  REQUIRE_THAT(json, Catch::Contains(R"("labels":{"__name__":"m","z":"1"})"));
  REQUIRE(decode_metrics(json).series[0].labels == Labels({{"__name__", "m"}, {"z", "1"}}));

  LogsBatch logs;
  logs.streams.push_back({Labels({{"job", "x"}, {"host", ""}}), {{1, "l", {{"f", ""}}}}});
  auto back = decode_logs(encode(logs));
  REQUIRE(back.streams[0].labels == Labels({{"job", "x"}}));
  // Structured fields are data, not identity: empty values are kept.
  REQUIRE(back.streams[0].entries[0].fields == std::vector<Label>{{"f", ""}});
}

TEST_CASE("metrics: labels are normalised to sorted order", "[wire]") {
  auto b = decode_metrics(one_series(R"({"z":"1","__name__":"m","a":"2"})", "[]"));
  REQUIRE(b.series[0].labels.items() ==
          std::vector<Label>{{"__name__", "m"}, {"a", "2"}, {"z", "1"}});
}

TEST_CASE("metrics: the documented error message", "[wire]") {
  std::string s = R"({"labels":{"__name__":"m"},"samples":[[1,1]]})";
  std::string bad = R"({"labels":{"__name__":"m"},"samples":[[1,true]]})";
  try {
    decode_metrics(metrics_doc(s + "," + s + "," + s + "," + bad));
    FAIL("decoded without error");
  } catch (const WireError& e) {
    REQUIRE(std::string(e.what()) ==
            R"(series[3].samples[0][1]: expected a number or one of "NaN","+Inf","-Inf",)"
            R"("StaleNaN", got true)");
  }
}

TEST_CASE("metrics: malformed JSON", "[wire]") {
  for (const char* bad :
       {"", "   ", "{", "{\"version\":1,\"series\":[}", "[1,]", "{\"version\":1}x",
        "{\"version\":1,\"series\":[],}", "{'version':1}", "nul",
        "{\"version\":1,\"series\":[{\"labels\":{\"__name__\":\"m\"},"
        "\"samples\":[[1,NaN]]}]}"}) {
    INFO(bad);
    REQUIRE_THROWS_AS(decode_metrics(bad), WireError);
  }
  require_metrics_error("{", "invalid JSON");
  // A lone surrogate escape has no UTF-8 encoding.
  require_metrics_error(one_series(R"({"__name__":"m","a":"\ud800"})", "[]"), "invalid JSON");
  // Integers beyond 64 bits are not representable (documented).
  require_metrics_error(one_series(R"({"__name__":"m"})", "[[1,100000000000000000000]]"),
                        "invalid JSON");
}

TEST_CASE("metrics: version", "[wire]") {
  require_metrics_error(R"({"series":[]})", "version: required field missing");
  require_metrics_error(R"({"version":2,"series":[]})",
                        "version: unsupported wire format version 2 (this reader supports 1)");
  require_metrics_error(R"({"version":0,"series":[]})", "unsupported wire format version 0");
  // The version is checked before anything else, so a v2 document with a
  // different shape still gets the version error.
  require_metrics_error(R"({"series":"new","version":2,"extra":1})",
                        "unsupported wire format version 2");
  require_metrics_error(R"({"version":"1","series":[]})",
                        R"(version: expected an integer, got string "1")");
  require_metrics_error(R"({"version":1.0,"series":[]})", "version: expected an integer, got 1.0");
  require_metrics_error(R"({"version":null,"series":[]})",
                        "version: expected an integer, got null");
}

TEST_CASE("metrics: structure and types", "[wire]") {
  require_metrics_error("[]", "(root): expected an object, got an array");
  require_metrics_error("42", "(root): expected an object, got 42");
  require_metrics_error(R"({"version":1})", "series: required field missing");
  require_metrics_error(R"({"version":1,"series":{}})", "series: expected an array, got an object");
  require_metrics_error(R"({"version":1,"series":[],"streams":[]})", R"(unknown field "streams")");
  require_metrics_error(R"({"version":1,"series":[],"series":[]})", "series: duplicate field");
  require_metrics_error(R"({"version":1,"version":1,"series":[]})", "version: duplicate field");
  require_metrics_error(metrics_doc("1"), "series[0]: expected an object, got 1");
  require_metrics_error(metrics_doc(R"({"samples":[]})"),
                        "series[0].labels: required field missing");
  require_metrics_error(metrics_doc(R"({"labels":{"__name__":"m"}})"),
                        "series[0].samples: required field missing");
  require_metrics_error(metrics_doc(R"({"labels":{"__name__":"m"},"samples":[],"x":1})"),
                        R"(series[0]: unknown field "x")");
  require_metrics_error(one_series(R"(["__name__","m"])", "[]"),
                        "series[0].labels: expected an object, got an array");
  require_metrics_error(one_series(R"({"__name__":"m","a":1})", "[]"),
                        "series[0].labels.a: expected a string, got 1");
  require_metrics_error(one_series(R"({"__name__":null})", "[]"),
                        "series[0].labels.__name__: expected a string, got null");
  require_metrics_error(one_series(R"({"__name__":"m"})", "{}"),
                        "series[0].samples: expected an array, got an object");
  require_metrics_error(one_series(R"({"__name__":"m"})", "[1]"),
                        "series[0].samples[0]: expected an array, got 1");
  require_metrics_error(one_series(R"({"__name__":"m"})", "[[1]]"),
                        "series[0].samples[0]: expected [timestamp, value], got 1 elements");
  require_metrics_error(one_series(R"({"__name__":"m"})", "[[1,2,3]]"),
                        "series[0].samples[0]: expected [timestamp, value], got 3 elements");
  require_metrics_error(one_series(R"({"__name__":"m"})", R"([[1,null]])"),
                        "series[0].samples[0][1]: expected a number or one of");
  require_metrics_error(one_series(R"({"__name__":"m"})", R"([[1,"nan"]])"), R"(got string "nan")");
  require_metrics_error(one_series(R"({"__name__":"m"})", R"([[1,"1.5"]])"), R"(got string "1.5")");
  require_metrics_error(one_series(R"({"__name__":"m"})", R"([[1,[]]])"), "got an array");
}

TEST_CASE("metrics: timestamps must be int64 integers", "[wire]") {
  auto ts_error = [](const std::string& ts, const std::string& expected) {
    require_metrics_error(one_series(R"({"__name__":"m"})", "[[" + ts + ",1]]"),
                          "series[0].samples[0][0]: " + expected);
  };
  ts_error("1.5", "expected an integer timestamp, got 1.5");
  ts_error("1e3", "expected an integer timestamp, got 1000.0");
  ts_error("1.0", "expected an integer timestamp, got 1.0");
  ts_error("\"1700000000000\"", "expected an integer timestamp, got string");
  ts_error("true", "expected an integer timestamp, got true");
  ts_error("9223372036854775808", "timestamp 9223372036854775808 out of the int64 range");
}

TEST_CASE("metrics: label validation", "[wire]") {
  require_metrics_error(one_series("{}", "[]"), "series[0].labels: empty label set");
  require_metrics_error(one_series(R"({"job":"x"})", "[]"),
                        "series[0].labels: missing __name__ label");
  // An empty value is an absent label, so these lack __name__ / any label.
  require_metrics_error(one_series(R"({"__name__":""})", "[]"),
                        "series[0].labels: empty label set");
  require_metrics_error(one_series(R"({"__name__":"","job":"x"})", "[]"),
                        "series[0].labels: missing __name__ label");
  for (const char* name : {"1abc", "a-b", "a.b", "", "é", "a b"}) {
    INFO(name);
    require_metrics_error(
        one_series(std::string(R"({"__name__":"m",")") + name + R"(":"v"})", "[]"),
        "series[0].labels: invalid label name");
  }
  require_metrics_error(one_series(R"({"__name__":"m","a":"1","a":"2"})", "[]"),
                        R"(series[0].labels: duplicate label name "a")");
  require_metrics_error(one_series(R"({"__name__":"m","a":"1","a":"1"})", "[]"),
                        "duplicate label name");
}

TEST_CASE("metrics: invalid UTF-8 is rejected with its offset", "[wire]") {
  std::string doc = one_series("{\"__name__\":\"m\",\"a\":\"ok\xff\"}", "[]");
  require_metrics_error(doc, "invalid UTF-8 at byte offset " + std::to_string(doc.find('\xff')));
  require_metrics_error(one_series("{\"__name__\":\"m\",\"a\":\"\xed\xa0\x80\"}", "[]"),
                        "invalid UTF-8");
  require_metrics_error(one_series("{\"__name__\":\"m\",\"a\":\"\xc0\xaf\"}", "[]"),
                        "invalid UTF-8");
  require_metrics_error(one_series("{\"__name__\":\"m\",\"\xc3\":\"v\"}", "[]"), "invalid UTF-8");
}

TEST_CASE("metrics: limits", "[wire]") {
  std::string long_value(4097, 'v');
  require_metrics_error(one_series(R"({"__name__":"m","a":")" + long_value + "\"}", "[]"),
                        "longer than 4096 bytes");
  std::string long_name(1025, 'n');
  require_metrics_error(one_series(R"({"__name__":"m",")" + long_name + "\":\"v\"}", "[]"),
                        "label name longer than 1024 bytes");
  std::string many = R"({"__name__":"m")";
  for (int i = 0; i < 128; ++i) many += ",\"l" + std::to_string(i) + "\":\"v\"";
  require_metrics_error(one_series(many + "}", "[]"), "more than 128 labels");
}

TEST_CASE("encode refuses what decode would reject", "[wire]") {
  auto encode_error = [](Labels labels, const std::string& expected) {
    MetricsBatch b;
    b.series.push_back({Labels({{"__name__", "ok"}}), {}});
    b.series.push_back({std::move(labels), {{1, 1}}});
    try {
      encode(b);
      FAIL("encoded without error");
    } catch (const WireError& e) {
      REQUIRE_THAT(e.what(), Catch::Contains(expected));
    }
  };
  encode_error(Labels(), "series[1].labels: empty label set");
  encode_error(Labels({{"job", "x"}}), "series[1].labels: missing __name__ label");
  encode_error(Labels({{"__name__", "m"}, {"bad-name", "x"}}), "invalid label name");
  encode_error(Labels({{"__name__", "m"}, {"a", "\xff"}}), "not valid UTF-8");
  encode_error(Labels({{"__name__", ""}, {"a", "x"}}), "missing __name__ label");
  encode_error(Labels({{"a", ""}}), "empty label set");
}

// -------------------------------------------------------------------- logs

TEST_CASE("decode the documented logs example", "[wire]") {
  auto b = decode_logs(
      R"({"version":1,"streams":[{"labels":{"job":"syslog"},"entries":[)"
      R"(["1700000000000000000","a log line"],["1700000000000000001","line",{"level":"info"}]]}]})");
  REQUIRE(b.streams.size() == 1);
  REQUIRE(b.streams[0].labels == Labels({{"job", "syslog"}}));
  const auto& e = b.streams[0].entries;
  REQUIRE(e.size() == 2);
  REQUIRE(e[0].timestamp_ns == 1700000000000000000);
  REQUIRE(e[0].line == "a log line");
  REQUIRE(e[0].fields.empty());
  REQUIRE(e[1].timestamp_ns == 1700000000000000001);
  REQUIRE(e[1].line == "line");
  REQUIRE(e[1].fields == std::vector<Label>{{"level", "info"}});
}

TEST_CASE("encode logs produces the documented form", "[wire]") {
  LogsBatch b;
  b.streams.push_back({Labels({{"job", "syslog"}}),
                       {{1700000000000000000, "a log line", {}},
                        {1700000000000000001, "line", {{"level", "info"}}}}});
  REQUIRE(
      encode(b) ==
      R"({"version":1,"streams":[{"labels":{"job":"syslog"},"entries":[)"
      R"(["1700000000000000000","a log line"],["1700000000000000001","line",{"level":"info"}]]}]})");
  REQUIRE(encode(LogsBatch{}) == R"({"version":1,"streams":[]})");
}

TEST_CASE("logs round-trip", "[wire]") {
  LogsBatch in;
  in.streams.push_back(
      {Labels({{"job", "app"}, {"host", "h1"}}),
       {
           {std::numeric_limits<std::int64_t>::min(), "oldest", {}},
           {std::numeric_limits<std::int64_t>::max(), "newest", {}},
           {0, "", {}},
           {-1, "before epoch", {}},
           {1700000000123456789, "quotes \" backslash \\ slash / tab\t cr\r nl\n", {}},
           {2, std::string("ctl \x01\x02\x1f\x7f nul\0end", 17), {}},
           {3, "unicode 日本語 ✓ 🚀 \u2028 é", {{"trace_id", "abc"}, {"level", "warn"}}},
           {4, std::string(256 * 1024, 'x'), {{"a", ""}, {"b", "\"v\"\n"}}},
       }});
  in.streams.push_back({Labels({{"job", "other"}}), {}});
  auto out = decode_logs(encode(in));
  REQUIRE(out.streams.size() == 2);
  REQUIRE(out.streams[0].labels == in.streams[0].labels);
  REQUIRE(out.streams[1].labels == in.streams[1].labels);
  REQUIRE(out.streams[1].entries.empty());
  const auto& a = in.streams[0].entries;
  const auto& b = out.streams[0].entries;
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("entry " << i);
    REQUIRE(a[i].timestamp_ns == b[i].timestamp_ns);
    REQUIRE(a[i].line == b[i].line);
    // Fields keep the order they were sent in.
    REQUIRE(a[i].fields == b[i].fields);
  }
}

TEST_CASE("logs: timestamps as strings or numbers", "[wire]") {
  auto b = decode_logs(
      one_stream(R"({"job":"x"})",
                 R"([["-9223372036854775808","a"],[1700000000000000000,"b"],["0","c"],[-5,"d"]])"));
  const auto& e = b.streams[0].entries;
  REQUIRE(e[0].timestamp_ns == std::numeric_limits<std::int64_t>::min());
  REQUIRE(e[1].timestamp_ns == 1700000000000000000);
  REQUIRE(e[2].timestamp_ns == 0);
  REQUIRE(e[3].timestamp_ns == -5);

  auto ts_error = [](const std::string& ts, const std::string& expected) {
    require_logs_error(one_stream(R"({"job":"x"})", "[[" + ts + ",\"l\"]]"),
                       "streams[0].entries[0][0]: " + expected);
  };
  ts_error("\"1.5\"", "expected a timestamp as a decimal integer string");
  ts_error("\"12a\"", "expected a timestamp as a decimal integer string");
  ts_error("\"\"", "expected a timestamp as a decimal integer string");
  ts_error("\" 1\"", "expected a timestamp as a decimal integer string");
  ts_error("\"+1\"", "expected a timestamp as a decimal integer string");
  ts_error("\"1e9\"", "expected a timestamp as a decimal integer string");
  ts_error("\"9223372036854775808\"", R"(timestamp "9223372036854775808" out of the int64 range)");
  ts_error("\"-9223372036854775809\"",
           R"(timestamp "-9223372036854775809" out of the int64 range)");
  ts_error("1.5", "expected an integer timestamp (number or decimal string), got 1.5");
  ts_error("null", "expected an integer timestamp (number or decimal string), got null");
  ts_error("18446744073709551615", "timestamp 18446744073709551615 out of the int64 range");
}

TEST_CASE("logs: malformed input", "[wire]") {
  require_logs_error("{\"version\":1,\"streams\":[", "invalid JSON");
  require_logs_error(R"({"streams":[]})", "version: required field missing");
  require_logs_error(R"({"version":2,"streams":[]})", "unsupported wire format version 2");
  require_logs_error(R"({"version":1})", "streams: required field missing");
  require_logs_error(R"({"version":1,"series":[]})", R"(unknown field "series")");
  require_logs_error(R"({"version":1,"streams":null})", "streams: expected an array, got null");
  require_logs_error(logs_doc(R"({"labels":{"job":"x"}})"),
                     "streams[0].entries: required field missing");
  require_logs_error(logs_doc(R"({"entries":[]})"), "streams[0].labels: required field missing");
  require_logs_error(logs_doc(R"({"labels":{"job":"x"},"samples":[]})"),
                     R"(streams[0]: unknown field "samples")");
  require_logs_error(one_stream("{}", "[]"), "streams[0].labels: empty label set");
  require_logs_error(one_stream(R"({"job":"x","job":"y"})", "[]"), "duplicate label name");
  require_logs_error(one_stream(R"({"0job":"x"})", "[]"), "invalid label name");
  require_logs_error(one_stream(R"({"job":"x"})", R"(["1","l"])"),
                     "streams[0].entries[0]: expected an array, got string");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1"]])"),
                     "streams[0].entries[0]: expected [timestamp, line] or [timestamp, line, "
                     "fields], got 1 elements");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1","l",{},1]])"), "got 4 elements");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1",5]])"),
                     "streams[0].entries[0][1]: expected a string, got 5");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1","l",["a"]]])"),
                     "streams[0].entries[0][2]: expected an object, got an array");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1","l",{"level":1}]])"),
                     "streams[0].entries[0][2].level: expected a string, got 1");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1","l",{"bad-name":"v"}]])"),
                     "streams[0].entries[0][2]: invalid label name");
  require_logs_error(one_stream(R"({"job":"x"})", R"([["1","l",{"a":"1","a":"2"}]])"),
                     R"(streams[0].entries[0][2]: duplicate field name "a")");
  std::string doc = one_stream(R"({"job":"x"})", "[[\"1\",\"bad \xc3\x28 utf8\"]]");
  require_logs_error(doc, "invalid UTF-8 at byte offset " + std::to_string(doc.find('\xc3')));
  require_logs_error(
      one_stream(R"({"job":"x"})", "[[\"1\",\"" + std::string(256 * 1024 + 1, 'x') + "\"]]"),
      "streams[0].entries[0][1]: log line longer than 262144 bytes");
}

TEST_CASE("logs: encode refuses invalid content", "[wire]") {
  LogsBatch b;
  b.streams.push_back({Labels({{"job", "x"}}), {{1, "bad \xff", {}}}});
  REQUIRE_THROWS_WITH(encode(b), Catch::Contains("streams[0].entries[0][1]: invalid UTF-8"));
  b.streams[0].entries[0] = {1, "ok", {{"a", "1"}, {"a", "2"}}};
  REQUIRE_THROWS_WITH(encode(b), Catch::Contains("duplicate field name"));
  b.streams[0].entries[0] = {1, "ok", {{"1a", "1"}}};
  REQUIRE_THROWS_WITH(encode(b), Catch::Contains("invalid label name"));
  b.streams[0] = {Labels(), {}};
  REQUIRE_THROWS_WITH(encode(b), Catch::Contains("streams[0].labels: empty label set"));
}

TEST_CASE("decoding is independent of the input buffer's lifetime and padding", "[wire]") {
  // simdjson reads past the end of its input; the decoder copies into a
  // padded buffer, so a string_view into the middle of a larger buffer or an
  // exactly-sized heap allocation must both work.
  std::string doc = one_series(R"({"__name__":"m"})", "[[1,2]]");
  std::string framed = "xxx" + doc + "yyy";
  auto b = decode_metrics(std::string_view(framed).substr(3, doc.size()));
  REQUIRE(b.series[0].samples[0].value == 2);
  auto heap = std::make_unique<char[]>(doc.size());
  std::memcpy(heap.get(), doc.data(), doc.size());
  REQUIRE(decode_metrics(std::string_view(heap.get(), doc.size())).series.size() == 1);
}

// Loki push decoding: JSON and snappy'd logproto.PushRequest (bytes built by
// hand), the label-string syntax, and UTF-8 repair.
#include <catch2/catch.hpp>

#include "collector/loki_push.h"
#include "tests/unit/collector_test_util.h"

using namespace strata;
using namespace strata::collector;
using strata::testing::Pb;
using strata::testing::pb_entry;
using strata::testing::snappy_compress;

namespace {

std::string json_error(const std::string& body) {
  try {
    decode_loki_json(body);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string labels_error(const std::string& text) {
  try {
    parse_label_string(text);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("loki JSON push decodes streams, values and structured metadata", "[collector][loki]") {
  auto batch = decode_loki_json(R"({"streams":[
      {"stream":{"job":"varlogs","host":"h1","empty":""},
       "values":[["1700000000000000001","first line"],
                 ["1700000000000000002","second \"quoted\" ✓",{"trace_id":"abc","span":"1"}]]},
      {"stream":{"job":"b"},"values":[],"unknown":"ignored"}],
    "extra":1})");
  REQUIRE(batch.streams.size() == 2);
  const auto& s = batch.streams[0];
  CHECK(s.labels == Labels{{"host", "h1"}, {"job", "varlogs"}});
  REQUIRE(s.entries.size() == 2);
  CHECK(s.entries[0].timestamp_ns == 1'700'000'000'000'000'001);
  CHECK(s.entries[0].line == "first line");
  CHECK(s.entries[1].line == "second \"quoted\" \xe2\x9c\x93");
  REQUIRE(s.entries[1].fields.size() == 2);
  CHECK(s.entries[1].fields[0] == Label{"trace_id", "abc"});
  CHECK(s.entries[1].fields[1] == Label{"span", "1"});
  CHECK(batch.streams[1].entries.empty());
}

TEST_CASE("loki JSON push errors name the JSON path", "[collector][loki]") {
  CHECK_THAT(json_error("{not json"), Catch::Contains("invalid JSON"));
  CHECK_THAT(json_error("[]"), Catch::Contains("(root): expected an object"));
  CHECK_THAT(json_error("{}"), Catch::Contains("streams: required field missing"));
  CHECK_THAT(json_error(R"({"streams":{}})"), Catch::Contains("streams: expected an array"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b"}}]})"),
             Catch::Contains("streams[0].values: required field missing"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":1},"values":[]}]})"),
             Catch::Contains("streams[0].stream.a: expected a string, got 1"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]})"),
             Catch::Contains("streams[0].values[0][0]: expected a string of nanoseconds"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b"},"values":[["1.5","x"]]}]})"),
             Catch::Contains("streams[0].values[0][0]: expected a string of nanoseconds since the "
                             "epoch (decimal digits, int64), got \"1.5\""));
  CHECK_THAT(
      json_error(R"({"streams":[{"stream":{"a":"b"},"values":[["99999999999999999999","x"]]}]})"),
      Catch::Contains("streams[0].values[0][0]"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b"},"values":[["1"]]}]})"),
             Catch::Contains("streams[0].values[0]: expected"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]})"),
             Catch::Contains("streams[0].values[0][1]: expected a string, got 2"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b"},"values":[["1","x",[]]]}]})"),
             Catch::Contains("streams[0].values[0][2]: expected an object"));
  CHECK_THAT(json_error(R"({"streams":[{"stream":{"a":"b","a":"c"},"values":[]}]})"),
             Catch::Contains("streams[0].stream: duplicate label name \"a\""));
}

TEST_CASE("loki protobuf push decodes a hand-built PushRequest", "[collector][loki]") {
  // PushRequest{streams: [{labels: "{job=\"x\", msg=\"a\\\"b\\n\\u00e9\"}",
  //   entries: [{timestamp: {1700000000, 5}, line: "hello"}, {..., line with bad UTF-8}]}]}
  Pb stream;
  stream.bytes(1, R"({job="x", msg="a\"b\n\u00e9"})");
  stream.msg(2, pb_entry(1'700'000'000, 5, "hello"));
  stream.msg(
      2,
      pb_entry(1'700'000'001, 0, "bad \xff byte").msg(3, Pb().bytes(1, "trace_id").bytes(2, "t1")));
  stream.int64(3, 12345);  // hash: ignored
  const std::string raw = Pb().msg(1, stream).str();
  // The first bytes as upstream encodes them: field 1 (streams), wire type 2.
  CHECK(static_cast<unsigned char>(raw[0]) == 0x0a);

  std::size_t sanitized = 0;
  auto batch = decode_loki_protobuf(snappy_compress(raw), 1 << 20, &sanitized);
  REQUIRE(batch.streams.size() == 1);
  const auto& s = batch.streams[0];
  CHECK(s.labels == Labels{{"job", "x"}, {"msg", "a\"b\n\xc3\xa9"}});
  REQUIRE(s.entries.size() == 2);
  CHECK(s.entries[0].timestamp_ns == 1'700'000'000'000'000'005);
  CHECK(s.entries[0].line == "hello");
  CHECK(s.entries[1].timestamp_ns == 1'700'000'001'000'000'000);
  CHECK(s.entries[1].line == "bad \xef\xbf\xbd byte");
  CHECK(s.entries[1].fields == std::vector<Label>{{"trace_id", "t1"}});
  CHECK(sanitized == 1);

  auto err = [](const std::string& body) -> std::string {
    try {
      decode_loki_protobuf(body, 1 << 20);
    } catch (const DecodeError& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK_THAT(err("\xff\xff\xff\xff\xff"), Catch::Contains("corrupt snappy"));
  CHECK_THAT(err(snappy_compress("\x0a\x50")), Catch::Contains("not a valid protobuf"));
  CHECK_THAT(err(snappy_compress(Pb().msg(1, Pb().bytes(1, "job=x")).str())),
             Catch::Contains("streams[0].labels: label set \"job=x\": at byte 0: expected '{'"));
}

TEST_CASE("loki label strings", "[collector][loki]") {
  CHECK(parse_label_string("{}").empty());
  CHECK(parse_label_string(" { a = \"1\" , b=`raw\\n`, c='s',} ") ==
        Labels{{"a", "1"}, {"b", "raw\\n"}, {"c", "s"}});
  CHECK(parse_label_string(R"({a="\x41\101\t\U0001F600"})") ==
        Labels{{"a", "AA\t\xf0\x9f\x98\x80"}});
  CHECK(parse_label_string(R"({a="", b="x"})") == Labels{{"b", "x"}});
  CHECK_THAT(labels_error(R"({a="1")"), Catch::Contains("expected ',' or '}'"));
  CHECK_THAT(labels_error(R"({a="1)"), Catch::Contains("unterminated label value"));
  CHECK_THAT(labels_error(R"({a:"1"})"),
             Catch::Contains("at byte 2: expected '=' after label name"));
  CHECK_THAT(labels_error(R"({a="\q"})"), Catch::Contains("unknown escape \\q"));
  CHECK_THAT(labels_error(R"({a="\ud800"})"), Catch::Contains("invalid code point"));
  CHECK_THAT(labels_error(R"({a="1",a="2"})"), Catch::Contains("duplicate label name \"a\""));
  CHECK_THAT(labels_error(R"({a="1"} x)"), Catch::Contains("unexpected text after '}'"));
}

TEST_CASE("utf-8 repair replaces each bad sequence", "[collector][loki]") {
  std::string s = "ok";
  CHECK_FALSE(sanitize_utf8(s));
  s = "a\xc3(b\xed\xa0\x80z\xf0\x9f\x98";
  CHECK(sanitize_utf8(s));
  CHECK(s ==
        "a\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

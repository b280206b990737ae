#include <catch2/catch.hpp>

#include <cmath>

#include "common/config.h"
#include "common/peer_groups.h"
#include "common/snappy_codec.h"
#include "tsdb/remote_read.h"

using namespace strata;
using namespace strata::tsdb;
using Catch::Matchers::Contains;

TEST_CASE("remote read: requests and responses round-trip", "[tsdb][remote_read]") {
  ReadQuery q;
  q.start_ms = 1000;
  q.end_ms = 5000;
  q.matchers.emplace_back(MatchOp::kEqual, "__name__", "up");
  q.matchers.emplace_back(MatchOp::kRegexMatch, "job", "a|b");
  q.hints.step_ms = 60'000;
  q.hints.func = "rate";
  q.hints.resolution = kRes5m;
  auto decoded = decode_read_request(encode_read_request({q}), 1 << 20);
  REQUIRE(decoded.size() == 1);
  CHECK(decoded[0].start_ms == 1000);
  CHECK(decoded[0].end_ms == 5000);
  REQUIRE(decoded[0].matchers.size() == 2);
  CHECK(decoded[0].matchers[1].op() == MatchOp::kRegexMatch);
  CHECK(decoded[0].matchers[1].matches("b"));
  CHECK(decoded[0].hints.func == "rate");
  CHECK(decoded[0].hints.step_ms == 60'000);
  CHECK(decoded[0].hints.resolution == kRes5m);

  const double stale = std::bit_cast<double>(std::uint64_t{0x7ff0000000000002});
  std::vector<std::vector<wire::Series>> results(2);
  results[0].push_back({Labels{{"__name__", "up"}, {"job", "a"}},
                        {{1000, 1}, {2000, std::nan("")}, {3000, stale}, {4000, -0.0}}});
  auto back = decode_read_response(encode_read_response(results), 1 << 20);
  REQUIRE(back.size() == 2);
  CHECK(back[1].empty());
  REQUIRE(back[0].size() == 1);
  CHECK(back[0][0].labels == results[0][0].labels);
  REQUIRE(back[0][0].samples.size() == 4);
  CHECK(std::bit_cast<std::uint64_t>(back[0][0].samples[2].value) == 0x7ff0000000000002);
  CHECK(std::signbit(back[0][0].samples[3].value));
}

TEST_CASE("remote read: bad requests are refused with the reason", "[tsdb][remote_read]") {
  CHECK_THROWS_WITH(decode_read_request("definitely not snappy", 1 << 20), Contains("snappy"));
  CHECK_THROWS_WITH(decode_read_request(snappy_codec::compress("\xff\xff\xff"), 1 << 20),
                    Contains("not a valid protobuf"));
  ReadQuery q;
  q.start_ms = 0;
  q.end_ms = 10;
  CHECK_THROWS_WITH(decode_read_request(encode_read_request({q}), 1 << 20),
                    Contains("no matchers"));
  q.matchers.emplace_back(MatchOp::kEqual, "__name__", "up");
  q.start_ms = 20;
  CHECK_THROWS_WITH(decode_read_request(encode_read_request({q}), 1 << 20),
                    Contains("before start"));
  q.start_ms = 0;
  // Over the decoded-size limit.
  CHECK_THROWS_WITH(decode_read_request(encode_read_request({q}), 4), Contains("limit"));
}

TEST_CASE("peer groups: syntax and the completeness rule", "[tsdb][remote_read]") {
  auto peers = parse_peers({"a=h0:9090", "a=https://h1:9090/", "b=h2:9090", "h3:1"}, "k");
  REQUIRE(peers.size() == 4);
  CHECK(peers[0].group == "a");
  CHECK(peers[0].url == "http://h0:9090");
  CHECK(peers[1].url == "https://h1:9090");
  CHECK(peers[3].group.empty());
  CHECK_THROWS_AS(parse_peers({"h0"}, "k"), config::ConfigError);
  CHECK_THROWS_AS(parse_peers({"a:1|b:2"}, "k"), config::ConfigError);
  CHECK_THROWS_WITH(parse_peers({"x=:9"}, "tsdb.query.peers"), Contains("tsdb.query.peers"));

  auto two = parse_peers({"a=h0:1", "a=h1:1", "b=h2:1"}, "k");
  CHECK(some_group_complete(two, {true, true, false}));
  CHECK(some_group_complete(two, {false, true, true}));
  CHECK_FALSE(some_group_complete(two, {false, true, false}));
  CHECK(partial_warnings(two, {true, false, true}, {"", "", ""}, "x").empty());
  auto w = partial_warnings(two, {true, false, false}, {"", "refused", "timeout"}, "its series");
  REQUIRE(w.size() == 2);
  CHECK_THAT(w[0], Contains("a=h1:1") && Contains("refused") && Contains("its series"));
}

#include "common/config.h"

#include <catch2/catch.hpp>

using namespace strata::config;

namespace {
Schema schema() {
  Schema s;
  s.add("tsdb.listen", Type::kString, "127.0.0.1:9090", "listen");
  s.add("tsdb.retention", Type::kDuration, "15d", "retention");
  s.add("tsdb.max_series", Type::kInt, "1000", "series");
  s.add("tsdb.ratio", Type::kDouble, "0.5", "ratio");
  s.add("tsdb.enabled", Type::kBool, "true", "on/off");
  s.add("agent.files", Type::kList, "", "files");
  s.add("collector.static_labels", Type::kStringMap, "", "labels");
  return s;
}
std::optional<Config> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return Config::from_command_line(schema(), static_cast<int>(args.size()), args.data(), "prog",
                                   "test");
}
}  // namespace

TEST_CASE("defaults come from the schema", "[config]") {
  Config c(schema());
  CHECK(c.str("tsdb.listen") == "127.0.0.1:9090");
  CHECK(c.duration("tsdb.retention") == std::chrono::hours(24 * 15));
  CHECK(c.integer("tsdb.max_series") == 1000);
  CHECK(c.number("tsdb.ratio") == 0.5);
  CHECK(c.boolean("tsdb.enabled"));
  CHECK(c.list("agent.files").empty());
  CHECK(c.string_map("collector.static_labels").empty());
  CHECK(c.is_default("tsdb.listen"));
}

TEST_CASE("YAML nests keys by their dots and flags override the file", "[config]") {
  Config c(schema());
  c.merge_yaml(
      "tsdb:\n  listen: 0.0.0.0:1\n  max_series: 5\nagent:\n  files: [/a, /b]\n"
      "collector:\n  static_labels: {region: eu, dc: x}\n",
      "test.yaml");
  CHECK(c.str("tsdb.listen") == "0.0.0.0:1");
  CHECK(c.integer("tsdb.max_series") == 5);
  CHECK(c.list("agent.files") == std::vector<std::string>{"/a", "/b"});
  CHECK(c.string_map("collector.static_labels").at("region") == "eu");
  CHECK(c.origin("tsdb.listen").find("test.yaml line 2") != std::string::npos);
  c.set("tsdb.listen", "127.0.0.1:2", "flag");
  CHECK(c.str("tsdb.listen") == "127.0.0.1:2");
}

TEST_CASE("command line: --key=value, --key value, lists and maps", "[config]") {
  auto c =
      parse({"--tsdb.max_series=7", "--agent.files", "/x,/y", "--collector.static_labels=a=1,b=2"});
  REQUIRE(c);
  CHECK(c->integer("tsdb.max_series") == 7);
  CHECK(c->list("agent.files") == std::vector<std::string>{"/x", "/y"});
  CHECK(c->string_map("collector.static_labels") ==
        std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}});
}

TEST_CASE("--help returns nothing to run", "[config]") {
  CHECK_FALSE(parse({"--help"}).has_value());
  std::string u = Config::usage(schema(), "prog", "desc");
  CHECK(u.find("--tsdb.retention <duration>   (default: '15d')") != std::string::npos);
  CHECK(Config::markdown(schema(), "prog").find("| `tsdb.listen` | string |") != std::string::npos);
}

TEST_CASE("bad configuration is rejected with the key and what was expected", "[config]") {
  auto message = [](auto fn) {
    try {
      fn();
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  Config c(schema());
  CHECK_THAT(message([&] { c.merge_yaml("tsdb:\n  nope: 1\n", "f.yaml"); }),
             Catch::Contains("unknown config key 'tsdb.nope'") &&
                 Catch::Contains("f.yaml line 2") && Catch::Contains("tsdb.listen"));
  CHECK_THAT(message([&] { c.merge_yaml("other: 1\n", "f.yaml"); }),
             Catch::Contains("unknown config key 'other'"));
  CHECK_THAT(message([&] { c.merge_yaml("tsdb:\n  max_series: lots\n", "f.yaml"); }),
             Catch::Contains("'tsdb.max_series'") && Catch::Contains("expected an integer") &&
                 Catch::Contains("lots"));
  CHECK_THAT(message([&] { c.merge_yaml("tsdb:\n  retention: forever\n", "f.yaml"); }),
             Catch::Contains("tsdb.retention") && Catch::Contains("duration"));
  CHECK_THAT(message([&] { c.merge_yaml("tsdb:\n  enabled: maybe\n", "f.yaml"); }),
             Catch::Contains("true or false"));
  CHECK_THAT(message([&] { c.merge_yaml("tsdb:\n  listen: [a, b]\n", "f.yaml"); }),
             Catch::Contains("'tsdb.listen'") && Catch::Contains("expected a string value"));
  CHECK_THAT(message([&] { c.merge_yaml("agent:\n  files: /one\n", "f.yaml"); }),
             Catch::Contains("expected a list"));
  CHECK_THAT(message([&] { c.merge_yaml("tsdb: [unclosed\n", "f.yaml"); }),
             Catch::Contains("not valid YAML"));
  CHECK_THAT(message([&] { c.merge_yaml("- a\n- b\n", "f.yaml"); }), Catch::Contains("top level"));
  CHECK_THAT(message([&] { parse({"--tsdb.nope=1"}); }),
             Catch::Contains("unknown config key 'tsdb.nope'"));
  CHECK_THAT(message([&] { parse({"stray"}); }), Catch::Contains("unexpected argument 'stray'"));
  CHECK_THAT(message([&] { parse({"--tsdb.ratio"}); }), Catch::Contains("needs a value"));
  CHECK_THAT(message([&] {
               parse({"--config", "/nonexistent/x.yaml"});
             }),
             Catch::Contains("cannot read config file '/nonexistent/x.yaml'"));
  CHECK_THAT(message([&] { parse({"--collector.static_labels=novalue"}); }),
             Catch::Contains("name=value"));
}

TEST_CASE("durations", "[config]") {
  CHECK(parse_duration("500ms", "x").count() == 500);
  CHECK(parse_duration("15s", "x").count() == 15000);
  CHECK(parse_duration("5m", "x").count() == 300000);
  CHECK(parse_duration("2h", "x").count() == 7200000);
  CHECK(parse_duration("1w", "x").count() == 7 * 86400000LL);
  CHECK(parse_duration("30", "x").count() == 30000);
  CHECK_THROWS_AS(parse_duration("", "x"), ConfigError);
  CHECK(parse_duration("1y", "x") == std::chrono::hours(24 * 365));
  CHECK_THROWS_AS(parse_duration("5q", "x"), ConfigError);
  CHECK_THROWS_AS(parse_duration("-5s", "x"), ConfigError);
}

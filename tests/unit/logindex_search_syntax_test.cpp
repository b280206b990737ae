// The log search language: precedence, phrases, prefixes, fields, regexes,
// and every malformed query rejected with a position.
#include <catch2/catch.hpp>
#include <string>

#include "logindex/search_syntax.h"

using namespace strata::logindex;

namespace {

std::string canon(std::string_view q) { return to_string(parse_search(q)); }

std::string error_of(std::string_view q) {
  try {
    parse_search(q);
  } catch (const SearchSyntaxError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("search syntax: terms, operators and precedence", "[logindex][search]") {
  CHECK(canon("") == "*");
  CHECK(canon("   ") == "*");
  CHECK(canon("Failed") == "failed");
  CHECK(canon("failed password") == "(failed AND password)");
  CHECK(canon("failed AND password") == "(failed AND password)");
  CHECK(canon("a OR b c") == "(a OR (b AND c))");
  CHECK(canon("(a OR b) c") == "((a OR b) AND c)");
  CHECK(canon("NOT a b") == "(NOT a AND b)");
  CHECK(canon("-a b") == "(NOT a AND b)");
  CHECK(canon("NOT NOT a") == "NOT NOT a");
  CHECK(canon("a AND NOT (b OR c)") == "(a AND NOT (b OR c))");
  // Lower-case operators are words.
  CHECK(canon("this and that or not") == "(this AND and AND that AND or AND not)");
  // A lone '-' is a word without letters.
  CHECK(error_of("a - b").find("has no letters or digits") != std::string::npos);
}

TEST_CASE("search syntax: phrases, split words and prefixes", "[logindex][search]") {
  CHECK(canon("\"Session opened for\"") == "\"session opened for\"");
  CHECK(canon("10.251.43.21:50010") == "\"10 251 43 21 50010\"");
  CHECK(canon("blk_-1608999687919862906") == "\"blk_ 1608999687919862906\"");
  CHECK(canon("NullPointerException") == "nullpointerexception");
  CHECK(canon("\"say \\\"hi\\\"\"") == "\"say hi\"");
  CHECK(canon("blk_38*") == "blk_38*");
  CHECK(canon("Auth*") == "auth*");
  CHECK(error_of("a.b*") ==
        "parse error at char 1: a prefix search must be one word before '*': a.b*");
  CHECK(error_of("*") ==
        "parse error at char 1: word \"*\" has no letters or digits to search for");
}

TEST_CASE("search syntax: fields, quoted values and regexes", "[logindex][search]") {
  CHECK(canon("level:error") == "level:\"error\"");
  CHECK(canon("host:\"web 01\" x") == "(host:\"web 01\" AND x)");
  CHECK(canon("user:/adm(in)? root/ x") == "(user:/adm(in)? root/ AND x)");
  CHECK(canon("path:/a\\/b/") == "path:/a/b/");
  auto n = parse_search("user:/adm.*/");
  REQUIRE(n.kind == SearchNode::Kind::kFieldRegex);
  REQUIRE(n.regex);
  // "key:" with nothing after it, or a non-name before the colon, is a word.
  CHECK(canon("error: disk") == "(error AND disk)");
  CHECK(canon("1a:b") == "\"1a b\"");
  CHECK(error_of("user:/(/") ==
        "parse error at char 7: invalid regex for field user: missing ): (");
  CHECK(error_of("user:/abc") == "parse error at char 6: unterminated regex for field user");
}

TEST_CASE("search syntax: malformed queries name the position", "[logindex][search]") {
  CHECK(error_of("(a OR b") == "parse error at char 1: unclosed '('");
  CHECK(error_of("a)") == "parse error at char 2: unexpected ')' without a matching '('");
  CHECK(error_of("()") == "parse error at char 2: empty parentheses");
  CHECK(error_of("a AND") == "parse error at char 3: AND needs a term on each side");
  CHECK(error_of("AND a") == "parse error at char 1: AND needs a term on each side");
  CHECK(error_of("a OR") == "parse error at char 3: OR needs a term on each side");
  CHECK(error_of("OR a") == "parse error at char 1: OR needs a term on each side");
  CHECK(error_of("a OR OR b") == "parse error at char 3: OR needs a term on each side");
  CHECK(error_of("NOT") == "parse error at char 1: NOT needs a term after it");
  CHECK(error_of("a \"b c") == "parse error at char 3: unterminated quoted phrase");
  CHECK(error_of("\"...\"") ==
        "parse error at char 1: phrase \"...\" has no letters or digits to search for");
  // Hostile input: deep nesting and huge queries fail cleanly.
  CHECK(error_of(std::string(10000, '(') + "a").find("nests deeper than 64") != std::string::npos);
  std::string not_chain;
  for (int k = 0; k < 1000; ++k) not_chain += "NOT ";
  CHECK(error_of(not_chain + "a").find("nests deeper than 64") != std::string::npos);
  CHECK(error_of(std::string(kMaxQueryBytes + 1, 'a')).find("the limit is 65536") !=
        std::string::npos);
  // Invalid UTF-8 is just bytes of a word.
  CHECK(canon("caf\xc3 x") == "(caf\xc3 AND x)");
}

// The log tokenizer: separators, case folding, UTF-8 and the term cap.
#include <catch2/catch.hpp>

#include "logindex/tokenizer.h"

using namespace strata::logindex;
using V = std::vector<std::string>;

TEST_CASE("tokenizer: words, separators and lowercase", "[logindex][tokenizer]") {
  CHECK(tokenize("GET /api/v1/Users?id=42") == V{"get", "api", "v1", "users", "id", "42"});
  CHECK(tokenize("Failed password for invalid user webmaster from 173.234.31.186 port 38926") ==
        V{"failed", "password", "for", "invalid", "user", "webmaster", "from", "173", "234", "31",
          "186", "port", "38926"});
  CHECK(tokenize("a.b-c/d:e,f;g=h'i\"j(k)[l]{m}<n>|o\\p\tq\nr  s") ==
        V{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
          "s"});
  CHECK(tokenize("snake_case_Word __init__ x_") == V{"snake_case_word", "__init__", "x_"});
  CHECK(tokenize("blk_-1608999687919862906") == V{"blk_", "1608999687919862906"});
  CHECK(tokenize("").empty());
  CHECK(tokenize(" .-/:: ").empty());
}

TEST_CASE("tokenizer: non-ASCII bytes are word characters", "[logindex][tokenizer]") {
  // "café naïve Ünïcode" -- only ASCII letters fold.
  CHECK(tokenize("Caf\xC3\xA9 na\xC3\xAFve \xC3\x9Cn\xC3\xAF"
                 "code") == V{"caf\xC3\xA9", "na\xC3\xAFve",
                              "\xC3\x9Cn\xC3\xAF"
                              "code"});
  // Cyrillic and CJK stay whole words.
  CHECK(tokenize("\xD0\xBE\xD1\x88\xD0\xB8\xD0\xB1\xD0\xBA\xD0\xB0: \xE9\x94\x99\xE8\xAF\xAF!") ==
        V{"\xD0\xBE\xD1\x88\xD0\xB8\xD0\xB1\xD0\xBA\xD0\xB0", "\xE9\x94\x99\xE8\xAF\xAF"});
}

TEST_CASE("tokenizer: terms are capped without splitting a UTF-8 sequence",
          "[logindex][tokenizer]") {
  CHECK(kMaxTermBytes == 64);
  std::string long_word(100, 'A');
  CHECK(tokenize(long_word) == V{std::string(64, 'a')});
  CHECK(tokenize(long_word + " b") == V{std::string(64, 'a'), "b"});
  // 63 ASCII bytes then a 2-byte sequence: the cut falls before it.
  std::string word = std::string(63, 'x') + "\xC3\xA9" + "yy";
  CHECK(tokenize(word) == V{std::string(63, 'x')});
  CHECK(truncate_term(word, 65) == std::string(63, 'x') + "\xC3\xA9");
  CHECK(truncate_term("short") == "short");
  CHECK(tokenize("abcdef", 3) == V{"abc"});
  CHECK(tokenize(long_word, std::string::npos) == V{std::string(100, 'a')});
}

TEST_CASE("tokenizer: unique terms are sorted and distinct", "[logindex][tokenizer]") {
  CHECK(unique_terms("b a B c a") == V{"a", "b", "c"});
  CHECK(unique_terms("").empty());
}

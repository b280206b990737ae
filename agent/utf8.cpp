#include "agent/utf8.h"

#include "common/wire_format.h"

namespace strata::agent {

namespace {

// Length of the valid sequence starting at s[i], or 0 if it is invalid.
std::size_t valid_sequence_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  return len;
}

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  // The SIMD validator settles the common case; the byte walk below only
  // runs on text that needs repair.
  if (wire::valid_utf8(s)) return std::string(s);
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = valid_sequence_length(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return std::string(s);

  std::string out(s.substr(0, i));
  out.reserve(s.size() + 8);
  bool in_bad = false;  // one U+FFFD per run of invalid bytes
  while (i < s.size()) {
    std::size_t n = valid_sequence_length(s, i);
    if (n == 0) {
      if (!in_bad) out += "\xEF\xBF\xBD";
      in_bad = true;
      ++i;
    } else {
      out.append(s.substr(i, n));
      in_bad = false;
      i += n;
    }
  }
  return out;
}

void sanitize_utf8_in_place(std::string& s) {
  if (!wire::valid_utf8(s)) s = sanitize_utf8(s);
}

std::size_t utf8_cut(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  // s[cut] not being a continuation byte means a sequence starts there, so
  // cutting before it splits nothing; back up over at most 3 continuation
  // bytes to find the lead byte of the sequence that straddles max_bytes.
  std::size_t cut = max_bytes;
  for (int k = 0; k < 4; ++k) {
    if ((static_cast<unsigned char>(s[cut]) & 0xC0) != 0x80) return cut;
    if (cut == 0) break;
    --cut;
  }
  return max_bytes;  // not UTF-8: no boundary to respect
}

}  // namespace strata::agent

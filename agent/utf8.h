// UTF-8 repair for text read off disk. The wire format only carries valid
// UTF-8 and the collector rejects a whole batch over one bad byte, so every
// log line and file name is made valid before it is batched: invalid
// sequences become U+FFFD, valid text passes through unchanged.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata::agent {

// Returns `s` with each maximal invalid subsequence replaced by U+FFFD
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::string sanitize_utf8(std::string_view s);
// The same in place: valid text (nearly every line) is checked, not copied.
void sanitize_utf8_in_place(std::string& s);

// The largest length <= max_bytes at which `s` can be cut without splitting a
// multi-byte sequence (falls back to max_bytes if the text is not UTF-8), so
// that truncating a long line does not itself create an invalid character.
std::size_t utf8_cut(std::string_view s, std::size_t max_bytes);

}  // namespace strata::agent

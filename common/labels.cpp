#include "common/labels.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace strata {

namespace {

// 0xff never occurs in valid UTF-8, so it cannot be forged by a name or a value
// and pairs that differ only in where one string ends hash differently
// ({a="bc"} vs {ab="c"}).
constexpr char kSep = '\xff';

template <typename Items>  // const or mutable vector<Label>
auto find_name(Items& items, std::string_view name) {
  return std::lower_bound(items.begin(), items.end(), name, [](const Label& l, std::string_view n) {
    return std::string_view(l.first) < n;
  });
}

}  // namespace

void append_quoted_body(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c) & 0xffu);
          out += buf;
        } else {
          out += c;
        }
    }
  }
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  append_quoted_body(out, s);
  out += '"';
  return out;
}

Labels::Labels(std::vector<Label> labels) : items_(std::move(labels)) {
  // Stable so that, of two duplicates, the error names the one sent first
  // consistently; duplicates are rejected anyway. Most label sets arrive
  // sorted (from an index, a parser of sorted input): one pass tells.
  auto by_name = [](const Label& a, const Label& b) { return a.first < b.first; };
  if (!std::is_sorted(items_.begin(), items_.end(), by_name))
    std::stable_sort(items_.begin(), items_.end(), by_name);
  for (std::size_t i = 1; i < items_.size(); ++i) {
    if (items_[i - 1].first == items_[i].first) {
      throw std::invalid_argument("duplicate label name \"" + items_[i].first + "\"");
    }
  }
}

std::string_view Labels::get(std::string_view name) const {
  auto it = find_name(items_, name);
  if (it != items_.end() && it->first == name) return it->second;
  return {};
}

void Labels::set(std::string name, std::string value) {
  auto it = find_name(items_, name);
  if (it != items_.end() && it->first == name) {
    it->second = std::move(value);
  } else {
    items_.emplace(it, std::move(name), std::move(value));
  }
}

std::uint64_t Labels::fingerprint() const {
  // One-shot hashing of a reused buffer is several times faster than the
  // streaming API for the short inputs typical of label sets.
  thread_local std::string buf;
  buf.clear();
  for (const auto& [name, value] : items_) {
    buf += name;
    buf += kSep;
    buf += value;
    buf += kSep;
  }
  return XXH64(buf.data(), buf.size(), 0);
}

std::string Labels::to_string() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : items_) {
    if (!first) out += ", ";
    first = false;
    append_quoted_body(out, name);
    out += "=\"";
    append_quoted_body(out, value);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace strata

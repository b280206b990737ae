// Labels: the identity of a time series or a log stream -- a set of
// (name, value) pairs, kept sorted by name with unique names, so that equal
// sets compare equal and hash equal regardless of the order a client sent.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata {

using Label = std::pair<std::string, std::string>;

class Labels {
 public:
  Labels() = default;
  // Sorts by name. Throws std::invalid_argument naming the label on a
  // duplicate name.
  explicit Labels(std::vector<Label> labels);
  Labels(std::initializer_list<Label> labels) : Labels(std::vector<Label>(labels)) {}

  const std::vector<Label>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  // Value of `name`, or empty string (Prometheus semantics: absent == "").
  std::string_view get(std::string_view name) const;
  // Sets or replaces one label, keeping the order.
  void set(std::string name, std::string value);

  // xxHash64 over the sorted pairs, with separators that cannot occur in a
  // valid label name: the series/stream fingerprint and Kafka partition key.
  std::uint64_t fingerprint() const;
  // {__name__="x", a="b"} rendering, for errors and logs.
  std::string to_string() const;

  friend bool operator==(const Labels&, const Labels&) = default;
  friend auto operator<=>(const Labels&, const Labels&) = default;

 private:
  std::vector<Label> items_;
};

// `s` quoted as Go's %q does for text: quotes, backslashes, \n \t \r
// escaped, other control bytes as \xNN. Label values in to_string(), and
// expressions in messages that mirror promtool's.
std::string go_quote(std::string_view s);
void append_quoted_body(std::string& out, std::string_view s);  // the same, without the quotes

}  // namespace strata

// Helpers for the collector tests: a hand-rolled protobuf writer, so that the
// tests build remote-write and Loki request bytes independently of the
// generated code the collector decodes them with, and snappy compression.
#pragma once

#include <snappy.h>

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::testing {

// Protobuf wire format: tag = field << 3 | wire type; varints LEB128.
class Pb {
 public:
  Pb& bytes(int field, std::string_view v) {
    tag(field, 2);
    varint(v.size());
    out_.append(v);
    return *this;
  }
  Pb& msg(int field, const Pb& m) { return bytes(field, m.out_); }
  Pb& dbl(int field, double v) {
    tag(field, 1);
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
    return *this;
  }
  Pb& int64(int field, std::int64_t v) {
    tag(field, 0);
    varint(static_cast<std::uint64_t>(v));
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void tag(int field, int wire_type) { varint(static_cast<std::uint64_t>(field << 3 | wire_type)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

// prometheus.Label / TimeSeries / Sample.
inline Pb pb_label(std::string_view name, std::string_view value) {
  return Pb().bytes(1, name).bytes(2, value);
}
inline Pb pb_sample(double value, std::int64_t ts_ms) { return Pb().dbl(1, value).int64(2, ts_ms); }

// logproto.EntryAdapter with a google.protobuf.Timestamp.
inline Pb pb_entry(std::int64_t seconds, std::int64_t nanos, std::string_view line) {
  return Pb().msg(1, Pb().int64(1, seconds).int64(2, nanos)).bytes(2, line);
}

inline std::string snappy_compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

}  // namespace strata::testing

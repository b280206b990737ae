#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace strata::logging {
namespace {

// One JSON object per line: {"ts":..., "level":..., "logger":..., "msg":...}.
// A hand-written formatter rather than a pattern because spdlog's %v does not
// escape the message, and a quote in a log line must not break the JSON.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out = "{\"ts\":\"";
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    out += format_rfc3339_ms(ms.count());
    out += "\",\"level\":\"";
    auto lv = spdlog::level::to_string_view(msg.level);
    out.append(lv.data(), lv.size());
    out += "\",\"logger\":\"";
    append_json_escaped(out, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    out += "\",\"thread\":" + std::to_string(msg.thread_id) + ",\"msg\":\"";
    append_json_escaped(out, std::string_view(msg.payload.data(), msg.payload.size()));
    out += "\"}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

namespace {

// Whether any of the 8 bytes in `w` must be escaped in a JSON string: below
// 0x20, '"' or '\\'. Bit tricks on 64-bit words (the "has less than" and
// "has zero byte" idioms) so that the common case -- long runs of plain
// text, as in every log line the agent ships and every line the log APIs
// return -- is scanned 8 bytes per step instead of one.
inline bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  const std::uint64_t quote = w ^ (kOnes * '"');
  const std::uint64_t backslash = w ^ (kOnes * '\\');
  const std::uint64_t control = (w - kOnes * 0x20) & ~w;  // high bit set where byte < 0x20
  const std::uint64_t zero_q = (quote - kOnes) & ~quote;
  const std::uint64_t zero_b = (backslash - kOnes) & ~backslash;
  return ((control | zero_q | zero_b) & kHigh) != 0;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t run = 0;  // start of the pending unescaped run
  std::size_t i = 0;
  while (i < n) {
    // Skip whole words that need no escape (a word that does is then
    // walked byte by byte below; false positives of the test only cost that).
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (word_needs_escape(w)) break;
      i += 8;
    }
    const std::size_t stop = std::min(n, i + 8);
    for (; i < stop; ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out.append(p + run, i - run);
      run = i + 1;
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default: {
          const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          out.append(u, 6);
        }
      }
    }
  }
  out.append(p + run, n - run);
}

void setup(const std::string& level, const std::string& format) {
  auto lv = spdlog::level::from_str(level);
  if (lv == spdlog::level::off && level != "off")
    throw std::invalid_argument(
        "log.level: expected trace|debug|info|warn|error|critical|off, got '" + level + "'");
  auto logger = std::make_shared<spdlog::logger>(
      "strata", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (format == "text") {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%t] %v", spdlog::pattern_time_type::utc);
  } else {
    throw std::invalid_argument("log.format: expected text or json, got '" + format + "'");
  }
  logger->set_level(lv);
  spdlog::set_default_logger(logger);
}

std::string format_rfc3339_ms(std::int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", tm, static_cast<int>(unix_ms % 1000));
}

}  // namespace strata::logging

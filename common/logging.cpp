#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
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

void append_json_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
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
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
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

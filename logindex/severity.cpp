#include "logindex/severity.h"

#include <array>
#include <utility>

namespace strata::logindex {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool all_upper(std::string_view w) {
  for (char c : w)
    if (!(c >= 'A' && c <= 'Z')) return false;
  return !w.empty();
}

// The spellings logging libraries print bare. ALERT, PANIC, ERR and the
// like are left out: bare, they are as often the start of a message
// (logrotate's "ALERT exited abnormally") as a level.
bool bare_level_word(std::string_view w) {
  static constexpr std::array<std::string_view, 10> kBare = {
      "TRACE",   "DEBUG", "INFO",     "NOTICE", "WARN",
      "WARNING", "ERROR", "CRITICAL", "FATAL",  "SEVERE"};
  for (auto b : kBare)
    if (w == b) return true;
  return false;
}

}  // namespace

std::string_view normalize_severity(std::string_view word) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 24> kSpellings = {{
      {"trace", "trace"},       {"finest", "trace"},     {"debug", "debug"},
      {"dbg", "debug"},         {"fine", "debug"},       {"finer", "debug"},
      {"info", "info"},         {"information", "info"}, {"informational", "info"},
      {"notice", "notice"},     {"warn", "warn"},        {"warning", "warn"},
      {"error", "error"},       {"err", "error"},        {"crit", "critical"},
      {"critical", "critical"}, {"severe", "critical"},  {"fatal", "fatal"},
      {"panic", "fatal"},       {"emerg", "fatal"},      {"emergency", "fatal"},
      {"alert", "fatal"},       {"dpanic", "fatal"},     {"eror", "error"},
  }};
  for (const auto& [spelling, level] : kSpellings)
    if (iequals(word, spelling)) return level;
  return {};
}

std::string_view detect_severity(std::string_view line, std::size_t from) {
  std::size_t i = from;
  for (std::size_t token = 0; token < kSeverityTokens; ++token) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    std::string_view word = line.substr(i, end - i);
    i = end;
    // `[error]`, `<warn>`, `INFO:`, `ERROR,`
    bool bracketed = word.size() > 2 && ((word.front() == '[' && word.back() == ']') ||
                                         (word.front() == '<' && word.back() == '>'));
    if (bracketed) {
      word = word.substr(1, word.size() - 2);
    } else {
      while (!word.empty() && (word.back() == ':' || word.back() == ',')) word.remove_suffix(1);
      if (!all_upper(word) || !bare_level_word(word)) continue;
    }
    if (auto level = normalize_severity(word); !level.empty()) return level;
  }
  return {};
}

}  // namespace strata::logindex

// StateFile: the alerts of every alerting rule, saved in
// <alerting.data_dir>/alert_state.json so that a restart neither re-pages
// (LastSentAt is kept) nor forgets a pending timer (ActiveAt is kept).
// The format is specified in docs/format/alert_state.md (version 1).
//
// Durability: every save writes the whole file to a temp file, fsyncs it and
// renames it into place (common/file.h write_file_durably), so after a
// crash the file is the last complete save, never half of one. A file that
// cannot be read (corrupt, or a newer version) is moved aside to
// alert_state.json.bad and alerting starts empty, loudly, rather than not
// at all.
//
// Rules are matched on load by group file, group name, rule name and
// expression: a rule whose expression changed starts afresh.
//
// Thread-safe: save() and load() serialise on an internal mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "alerting/alert_rule.h"

namespace strata::alerting {

inline constexpr int kStateFileVersion = 1;

struct RuleKey {
  std::string file, group, rule, expr;
  friend auto operator<=>(const RuleKey&, const RuleKey&) = default;
};

using SavedAlerts = std::map<RuleKey, std::vector<Alert>>;

std::string encode_state(const SavedAlerts& state, std::int64_t saved_at_ms);
// Throws std::runtime_error naming what is wrong.
SavedAlerts decode_state(const std::string& json);

class StateFile {
 public:
  explicit StateFile(std::filesystem::path dir);
  // Writes when anything but values and annotations changed since the last
  // write (those are refreshed by the first round after a restart).
  void save(const SavedAlerts& state, std::int64_t now_ms);
  SavedAlerts load();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::mutex mu_;
  std::string last_written_;
};

}  // namespace strata::alerting

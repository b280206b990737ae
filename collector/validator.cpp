#include "collector/validator.h"

#include <fmt/format.h>

#include "collector/decode_error.h"

namespace strata::collector {

std::string error_quote(std::string_view s, std::size_t max) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : s) {
    if (n++ == max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void Problems::add(std::string problem) {
  if (first_.size() < kReported) first_.push_back(std::move(problem));
  ++total_;
}

std::string Problems::message(std::string_view what) const {
  std::string out = fmt::format(
      "{}: {} problem{}; the whole request was rejected and nothing "
      "of it was stored:\n",
      what, total_, total_ == 1 ? "" : "s");
  for (const auto& p : first_) out += "  " + p + "\n";
  if (total_ > first_.size()) out += fmt::format("  ... and {} more\n", total_ - first_.size());
  return out;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

namespace {

std::string human(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 86'400'000 == 0) return fmt::format("{}d", ms / 86'400'000);
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace

std::optional<std::string> Validator::check_size(const wire::MetricsBatch& batch) const {
  if (batch.series.size() > limits_.max_series_per_request) {
    return fmt::format(
        "the request has {} series; the limit is {} (collector.limits.max_series_per_request): "
        "split it",
        batch.series.size(), limits_.max_series_per_request);
  }
  std::size_t samples = 0;
  for (const auto& s : batch.series) samples += s.samples.size();
  if (samples > limits_.max_samples_per_request) {
    return fmt::format(
        "the request has {} samples; the limit is {} (collector.limits.max_samples_per_request): "
        "split it",
        samples, limits_.max_samples_per_request);
  }
  return std::nullopt;
}

std::optional<std::string> Validator::check_size(const wire::LogsBatch& batch) const {
  std::size_t entries = 0;
  for (const auto& s : batch.streams) entries += s.entries.size();
  if (batch.streams.size() > limits_.max_series_per_request) {
    return fmt::format(
        "the request has {} streams; the limit is {} (collector.limits.max_series_per_request): "
        "split it",
        batch.streams.size(), limits_.max_series_per_request);
  }
  if (entries > limits_.max_entries_per_request) {
    return fmt::format(
        "the request has {} log lines; the limit is {} (collector.limits.max_entries_per_request): "
        "split it",
        entries, limits_.max_entries_per_request);
  }
  return std::nullopt;
}

void Validator::check_labels(const Labels& labels, bool metrics, const std::string& where,
                             Problems& problems) const {
  std::size_t present = 0;
  for (const auto& [name, value] : labels.items()) {
    if (value.empty()) continue;  // absent (Prometheus semantics)
    ++present;
    if (name.size() > limits_.max_label_name_bytes) {
      problems.add(fmt::format(
          "{}: label name {} is {} bytes; the limit is {} (collector.limits.max_label_name_bytes)",
          where, error_quote(name), name.size(), limits_.max_label_name_bytes));
    } else if (!wire::valid_label_name(name)) {
      problems.add(fmt::format("{}: invalid label name {} (must match [a-zA-Z_][a-zA-Z0-9_]*)",
                               where, error_quote(name)));
    }
    if (value.size() > limits_.max_label_value_bytes) {
      problems.add(
          fmt::format("{}: value of label {} is {} bytes; the limit is {} "
                      "(collector.limits.max_label_value_bytes)",
                      where, error_quote(name), value.size(), limits_.max_label_value_bytes));
    } else if (!wire::valid_utf8(value)) {
      problems.add(
          fmt::format("{}: value of label {} is not valid UTF-8", where, error_quote(name)));
    }
  }
  if (present == 0) {
    problems.add(fmt::format("{}: empty label set", where));
    return;
  }
  if (present > limits_.max_labels_per_series) {
    problems.add(
        fmt::format("{}: {} labels; the limit is {} (collector.limits.max_labels_per_series)",
                    where, present, limits_.max_labels_per_series));
  }
  if (metrics) {
    const std::string_view name = labels.get("__name__");
    if (name.empty()) {
      problems.add(fmt::format("{}: missing metric name (label __name__)", where));
    } else if (!valid_metric_name(name)) {
      problems.add(fmt::format("{}: invalid metric name {} (must match [a-zA-Z_:][a-zA-Z0-9_:]*)",
                               where, error_quote(name)));
    }
  }
}

void Validator::check_time(std::int64_t ts_ms, std::int64_t now_ms, const Locator& where,
                           std::size_t series, std::size_t item, Problems& problems) const {
  const auto age = limits_.max_sample_age.count();
  const auto skew = limits_.max_future_skew.count();
  // Compared as differences in long double so that extreme int64 timestamps
  // cannot overflow.
  const long double diff = static_cast<long double>(ts_ms) - static_cast<long double>(now_ms);
  if (age > 0 && -diff > static_cast<long double>(age)) {
    problems.add(
        fmt::format("{}: timestamp {} ms is older than {} (collector.limits.max_sample_age)",
                    where(series, item), ts_ms, human(limits_.max_sample_age)));
  } else if (skew > 0 && diff > static_cast<long double>(skew)) {
    problems.add(fmt::format(
        "{}: timestamp {} ms is more than {} in the future (collector.limits.max_future_skew)",
        where(series, item), ts_ms, human(limits_.max_future_skew)));
  }
}

void Validator::check(const wire::MetricsBatch& batch, const Locator& where, std::int64_t now_ms,
                      Problems& problems) const {
  for (std::size_t i = 0; i < batch.series.size(); ++i) {
    const auto& s = batch.series[i];
    check_labels(s.labels, /*metrics=*/true, where(i, std::nullopt), problems);
    for (std::size_t j = 0; j < s.samples.size(); ++j)
      check_time(s.samples[j].timestamp_ms, now_ms, where, i, j, problems);
  }
}

void Validator::check(const wire::LogsBatch& batch, const Locator& where, std::int64_t now_ms,
                      Problems& problems) const {
  for (std::size_t i = 0; i < batch.streams.size(); ++i) {
    const auto& s = batch.streams[i];
    check_labels(s.labels, /*metrics=*/false, where(i, std::nullopt), problems);
    for (std::size_t j = 0; j < s.entries.size(); ++j) {
      const auto& e = s.entries[j];
      // Floor division: -1 ns is in the millisecond before the epoch.
      const std::int64_t ms = e.timestamp_ns / 1'000'000 - (e.timestamp_ns % 1'000'000 < 0);
      check_time(ms, now_ms, where, i, j, problems);
      if (e.line.size() > limits_.max_line_bytes) {
        problems.add(fmt::format(
            "{}: log line is {} bytes; the limit is {} (collector.limits.max_line_bytes)",
            where(i, j), e.line.size(), limits_.max_line_bytes));
      }
      for (const auto& [name, value] : e.fields) {
        if (!wire::valid_label_name(name)) {
          problems.add(fmt::format("{}: invalid field name {} (must match [a-zA-Z_][a-zA-Z0-9_]*)",
                                   where(i, j), error_quote(name)));
        } else if (!wire::valid_utf8(value)) {
          problems.add(fmt::format("{}: value of field {} is not valid UTF-8", where(i, j),
                                   error_quote(name)));
        }
      }
    }
  }
}

}  // namespace strata::collector

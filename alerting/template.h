// Template: Prometheus's label and annotation templates (Go text/template
// with Prometheus's data and functions), the subset rule files use:
//
//   {{ $labels.instance }}  {{ .Labels.instance }}  {{ $value }}  {{ .Value }}
//   {{ $externalLabels.cluster }}  {{ $externalURL }}  {{ index $labels "x" }}
//   {{ $value | humanize }}  humanize1024  humanizePercentage  humanizeDuration
//   {{ printf "%.2f" $value }}  toUpper  toLower  title  reReplaceAll  match
//   {{ if gt $value 100.0 }}..{{ else if .. }}..{{ else }}..{{ end }}
//   eq ne lt le gt ge and or not, ( sub pipelines ), "strings", `raw`,
//   numbers, true/false, {{- and -}} whitespace trimming, {{/* comments */}}
//
// Everything is checked when the template is compiled (Template::parse), so
// a rule file with a bad template is rejected at load, naming the 1-based
// column in the template text: unknown functions or variables, unbalanced
// if/end, unsupported actions (range, with, define, query...) by name.
// Rendering errors that depend on data (e.g. humanize of a non-number) give
// Prometheus's "<error expanding template: ...>" text instead of throwing,
// so one bad annotation never blocks a notification.
//
// Numbers print as Go prints a float64 (%v), so {{ $value }} reads the same
// as in Prometheus. Regexes are RE2.
//
// A compiled Template is immutable and may be rendered from any thread.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/labels.h"

namespace strata::alerting {

class TemplateError : public std::invalid_argument {
 public:
  TemplateError(std::size_t column, const std::string& message);
  std::size_t column() const { return column_; }  // 1-based, in the template text

 private:
  std::size_t column_;
};

struct TemplateData {
  const Labels* labels = nullptr;  // the alert's labels ($labels)
  double value = 0;                // the sample value ($value)
  const std::map<std::string, std::string>* external_labels = nullptr;
  std::string external_url;
};

class Template {
 public:
  // Throws TemplateError on any syntax or name error.
  static Template parse(std::string_view text);
  // True when the text has no {{ }} action: rendering returns it unchanged.
  bool is_literal() const;
  std::string render(const TemplateData& data) const;

  struct Node;  // the parsed tree (template.cpp)

 private:
  std::shared_ptr<const Node> root_;
};

// Prometheus's humanize family and Go's %v for a float64, exposed for tests
// and for the /api/v1 JSON.
std::string go_float(double v);
std::string humanize(double v);
std::string humanize1024(double v);
std::string humanize_percentage(double v);
std::string humanize_duration(double seconds);

}  // namespace strata::alerting

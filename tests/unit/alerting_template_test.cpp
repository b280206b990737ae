#include "alerting/template.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace strata;
using namespace strata::alerting;

namespace {
std::string render(const std::string& text, double value = 0, Labels labels = {},
                   std::map<std::string, std::string> ext = {}) {
  TemplateData d{&labels, value, &ext, "http://alerting:9095"};
  return Template::parse(text).render(d);
}
}  // namespace

TEST_CASE("templates expand labels, value and external labels", "[alerting]") {
  Labels l{{"instance", "host:9100"}, {"job", "node"}};
  CHECK(render("{{ $labels.instance }} of {{ .Labels.job }}", 0, l) == "host:9100 of node");
  CHECK(render("v={{ $value }} {{ .Value }}", 1.5) == "v=1.5 1.5");
  CHECK(render("{{ $externalLabels.cluster }}", 0, {}, {{"cluster", "eu1"}}) == "eu1");
  CHECK(render("{{ $externalURL }}") == "http://alerting:9095");
  CHECK(render("{{ index $labels \"job\" }}", 0, l) == "node");
  CHECK(render("{{ $labels.missing }}", 0, l).empty());
  CHECK(render("plain text") == "plain text");
  CHECK(Template::parse("plain").is_literal());
  CHECK_FALSE(Template::parse("{{ $value }}").is_literal());
}

TEST_CASE("template values print as Go prints a float64", "[alerting]") {
  CHECK(go_float(1) == "1");
  CHECK(go_float(0.5) == "0.5");
  CHECK(go_float(123456) == "123456");
  CHECK(go_float(1e6) == "1e+06");
  CHECK(go_float(1234567) == "1.234567e+06");
  CHECK(go_float(0.0001) == "0.0001");
  CHECK(go_float(0.00001) == "1e-05");
  CHECK(go_float(-2.5) == "-2.5");
  CHECK(go_float(std::nan("")) == "NaN");
  CHECK(go_float(INFINITY) == "+Inf");
}

TEST_CASE("humanize functions match Prometheus", "[alerting]") {
  CHECK(humanize(0) == "0");
  CHECK(humanize(1234) == "1.234k");
  CHECK(humanize(1234567) == "1.235M");
  CHECK(humanize(0.001234) == "1.234m");
  CHECK(humanize(12) == "12");
  CHECK(humanize1024(1024) == "1ki");
  CHECK(humanize1024(1048576) == "1Mi");
  CHECK(humanize_percentage(0.1234) == "12.34%");
  CHECK(humanize_duration(0) == "0s");
  CHECK(humanize_duration(1.5) == "1.5s");
  CHECK(humanize_duration(90) == "1m 30s");
  CHECK(humanize_duration(3600 * 25 + 61) == "1d 1h 1m 1s");
  CHECK(humanize_duration(0.25) == "250ms");
  CHECK(render("{{ $value | humanize }}", 2048) == "2.048k");
  CHECK(render("{{ humanize $value }}", 2048) == "2.048k");
  CHECK(render("{{ $value | humanizePercentage }}", 0.5) == "50%");
  CHECK(render("{{ $value | humanizeDuration }}", 3661) == "1h 1m 1s");
}

TEST_CASE("printf, case functions, conditions and trimming", "[alerting]") {
  CHECK(render("{{ printf \"%.2f\" $value }}", 3.14159) == "3.14");
  CHECK(render("{{ printf \"%d items on %s\" $value \"disk\" }}", 42) == "42 items on disk");
  CHECK(render("{{ printf \"%5.1f%%\" $value }}", 12.34) == " 12.3%");
  CHECK(render("{{ \"abc\" | toUpper }}{{ toLower \"XY\" }}") == "ABCxy");
  CHECK(render("{{ title \"hello world\" }}") == "Hello World");
  CHECK(render("{{ if gt $value 10.0 }}big{{ else }}small{{ end }}", 11) == "big");
  CHECK(render("{{ if gt $value 10.0 }}big{{ else }}small{{ end }}", 9) == "small");
  CHECK(render("{{ if eq $labels.sev \"page\" }}P{{ else if eq $labels.sev \"warn\" }}W{{ else "
               "}}-{{ end }}",
               0, Labels{{"sev", "warn"}}) == "W");
  CHECK(render("{{ if and (gt $value 1.0) (lt $value 3.0) }}in{{ end }}", 2) == "in");
  CHECK(render("{{ if not (eq $value 1.0) }}ne{{ end }}", 2) == "ne");
  CHECK(render("a  {{- \"b\" -}}  c") == "abc");
  CHECK(render("{{/* a comment */}}x") == "x");
  CHECK(render("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", 0,
               Labels{{"instance", "host:9100"}}) == "host");
  CHECK(render("{{ $labels.instance | stripPort }}", 0, Labels{{"instance", "host:9100"}}) ==
        "host");
  CHECK(render("{{ `raw {{` }}") == "raw {{");
}

TEST_CASE("bad templates are rejected with their column", "[alerting]") {
  auto rejects = [](const std::string& text, const std::string& what, std::size_t col) {
    INFO(text);
    try {
      Template::parse(text);
      FAIL("accepted");
    } catch (const TemplateError& e) {
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      CHECK(e.column() == col);
    }
  };
  rejects("x {{ $labels.instance ", "unclosed action", 3);
  rejects("{{ $value | humanise }}", "function \"humanise\" not defined", 13);
  rejects("{{ $lables.x }}", "undefined variable $lables", 4);
  rejects("{{ if $value }}x", "missing {{end}}", 17);
  rejects("{{ end }}", "{{end}} without {{if}}", 4);
  rejects("{{ range $labels }}{{ end }}", "{{range}} is not supported", 4);
  rejects("{{ query \"up\" }}", "function \"query\" is not supported", 4);
  rejects("{{ .Foo }}", "unknown field .Foo", 4);
  rejects("{{ $value 1 }}", "can't give an argument to a non-function", 11);
  rejects("{{ }}", "empty action", 3);
}

TEST_CASE("data-dependent template errors render Prometheus's error text", "[alerting]") {
  CHECK(render("{{ humanize \"abc\" }}").find("<error expanding template:") == 0);
}

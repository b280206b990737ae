#include "common/metrics_registry.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "common/wire_format.h"

namespace strata::metrics {
namespace {

void atomic_add(std::atomic<double>& a, double by) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels, const std::string& extra_name = {},
                          const std::string& extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [n, v] : labels.items()) {
    out += fmt::format("{}{}=\"{}\"", first ? "" : ",", n, escape_label_value(v));
    first = false;
  }
  if (!extra_name.empty())
    out += fmt::format("{}{}=\"{}\"", first ? "" : ",", extra_name, extra_value);
  return out + "}";
}

}  // namespace

void Counter::inc(double by) {
  if (by < 0) throw std::invalid_argument("counter increment must be >= 0");
  atomic_add(value_, by);
}

void Gauge::add(double by) { atomic_add(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()))
    throw std::invalid_argument("histogram bounds must be sorted");
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double v) {
  auto i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) out[i] = acc += buckets_[i].load();
  return out;
}

std::vector<double> Histogram::default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Child& Registry::child(const std::string& name, Kind kind, const std::string& help,
                                 const Labels& labels) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(name, Family{kind, help, {}});
  if (!inserted && it->second.kind != kind)
    throw std::logic_error("metric '" + name + "' registered twice with different types");
  for (auto& c : it->second.children)
    if (c->labels == labels) return *c;
  it->second.children.push_back(std::make_unique<Child>());
  it->second.children.back()->labels = labels;
  return *it->second.children.back();
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  Child& c = child(name, Kind::kCounter, help, labels);
  std::lock_guard lock(mu_);
  if (!c.counter) c.counter = std::make_unique<Counter>();
  return *c.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  Child& c = child(name, Kind::kGauge, help, labels);
  std::lock_guard lock(mu_);
  if (!c.gauge) c.gauge = std::make_unique<Gauge>();
  return *c.gauge;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> upper_bounds, const Labels& labels) {
  Child& c = child(name, Kind::kHistogram, help, labels);
  std::lock_guard lock(mu_);
  if (!c.histogram) c.histogram = std::make_unique<Histogram>(std::move(upper_bounds));
  return *c.histogram;
}

void Registry::gauge_callback(const std::string& name, const std::string& help,
                              std::function<double()> read, const Labels& labels) {
  Child& c = child(name, Kind::kGauge, help, labels);
  std::lock_guard lock(mu_);
  c.read = std::move(read);
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    const char* type = fam.kind == Kind::kCounter ? "counter"
                       : fam.kind == Kind::kGauge ? "gauge"
                                                  : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name, type);
    for (const auto& c : fam.children) {
      if (c->histogram) {
        const auto& h = *c->histogram;
        auto counts = h.cumulative_counts();
        for (std::size_t i = 0; i < counts.size(); ++i) {
          std::string le = i < h.upper_bounds().size() ? wire::format_value(h.upper_bounds()[i])
                                                       : std::string("+Inf");
          out +=
              fmt::format("{}_bucket{} {}\n", name, render_labels(c->labels, "le", le), counts[i]);
        }
        out += fmt::format("{}_sum{} {}\n", name, render_labels(c->labels),
                           wire::format_value(h.sum()));
        out += fmt::format("{}_count{} {}\n", name, render_labels(c->labels), h.count());
        continue;
      }
      double v = c->read      ? c->read()
                 : c->counter ? c->counter->value()
                 : c->gauge   ? c->gauge->value()
                              : 0;
      out += fmt::format("{}{} {}\n", name, render_labels(c->labels), wire::format_value(v));
    }
  }
  return out;
}

}  // namespace strata::metrics

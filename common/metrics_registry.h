// Self-metrics: counters, gauges and histograms that every Strata service
// exposes at /metrics in the Prometheus text exposition format (0.0.4).
//
// Metrics are created once (registration takes a lock) and then updated
// lock-free from any thread; references returned by the registry stay valid
// for the registry's lifetime. A family is a metric name with its help text
// and type; its children are distinguished by label values.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/labels.h"

namespace strata::metrics {

class Counter {
 public:
  void inc(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative counts per bound, then +Inf; plus sum and count.
  std::vector<std::uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

  static std::vector<double> default_latency_buckets();  // seconds, 0.5ms .. 10s

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds = Histogram::default_latency_buckets(),
                       const Labels& labels = {});
  // A gauge whose value is read at scrape time (open connections, queue
  // depth). The callback must be thread-safe and outlive the registry's use.
  void gauge_callback(const std::string& name, const std::string& help,
                      std::function<double()> read, const Labels& labels = {});

  // Throws std::logic_error if a name is reused with another type.
  std::string render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Child {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<std::unique_ptr<Child>> children;
  };
  Child& child(const std::string& name, Kind kind, const std::string& help, const Labels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace strata::metrics

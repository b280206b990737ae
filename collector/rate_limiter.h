// RateLimiter: per-tenant token buckets for the collector's ingest limits
// (collector.limits.tenant_samples_per_second, tenant_log_bytes_per_second).
//
// Each tenant (the token's tenant; "" when authentication is off) has one
// bucket that refills at `rate` tokens per second up to `burst`. A request
// costing `cost` tokens (its samples, or its log-line bytes) is admitted when
// the bucket holds that many, and takes them. A request larger than the whole
// burst could never fit, so it is admitted when the bucket is full and leaves
// it in debt: the long-run rate stays bounded and a big request still gets in.
// A refused request takes nothing and learns how long until it would fit
// (the 429's Retry-After). refund() gives back a request's tokens when it
// was admitted but then not accepted (Kafka answered 503), so a retry is not
// charged twice.
//
// The clock is injected (tests); buckets are created on a tenant's first
// request. Thread-safety: admit() and refund() may run concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strata::collector {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // `rate` > 0 tokens per second, `burst` > 0; starts full.
  TokenBucket(double rate, double burst, Clock::time_point now);

  // nullopt: admitted, `cost` taken. Otherwise how long until it would be.
  std::optional<std::chrono::milliseconds> take(double cost, Clock::time_point now);
  void refund(double cost);
  double tokens(Clock::time_point now);

 private:
  void refill(Clock::time_point now);
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

class RateLimiter {
 public:
  using Clock = std::function<TokenBucket::Clock::time_point()>;

  // `rate` 0: off (admit() always admits). `burst` 0: one second's worth.
  explicit RateLimiter(double rate, double burst = 0, Clock clock = TokenBucket::Clock::now);

  bool enabled() const { return rate_ > 0; }
  double rate() const { return rate_; }
  double burst() const { return burst_; }

  // See TokenBucket::take, for `tenant`'s bucket.
  std::optional<std::chrono::milliseconds> admit(std::string_view tenant, double cost);
  void refund(std::string_view tenant, double cost);

 private:
  const double rate_;
  const double burst_;
  const Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace strata::collector

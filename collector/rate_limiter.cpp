#include "collector/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace strata::collector {

TokenBucket::TokenBucket(double rate, double burst, Clock::time_point now)
    : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  // A clock that goes backwards (it should not: steady) refills nothing.
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

double TokenBucket::tokens(Clock::time_point now) {
  refill(now);
  return tokens_;
}

std::optional<std::chrono::milliseconds> TokenBucket::take(double cost, Clock::time_point now) {
  refill(now);
  // A request larger than the burst needs a full bucket, then goes into debt.
  const double need = std::min(cost, burst_);
  // Refills are sums of products of doubles: a bucket that is "exactly" full
  // enough after the wait we announced must not miss by a rounding error.
  if (tokens_ + 1e-9 * std::max(1.0, need) >= need) {
    tokens_ -= cost;
    return std::nullopt;
  }
  const double wait_s = (need - tokens_) / rate_;
  return std::chrono::milliseconds(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait_s * 1000 - 1e-6))));
}

void TokenBucket::refund(double cost) { tokens_ = std::min(burst_, tokens_ + cost); }

RateLimiter::RateLimiter(double rate, double burst, Clock clock)
    : rate_(std::max(0.0, rate)),
      burst_(burst > 0 ? burst : std::max(0.0, rate)),
      clock_(std::move(clock)) {}

std::optional<std::chrono::milliseconds> RateLimiter::admit(std::string_view tenant, double cost) {
  if (!enabled()) return std::nullopt;
  const auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(tenant));
  if (it == buckets_.end())
    it = buckets_.emplace(std::string(tenant), TokenBucket(rate_, burst_, now)).first;
  return it->second.take(cost, now);
}

void RateLimiter::refund(std::string_view tenant, double cost) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  if (auto it = buckets_.find(std::string(tenant)); it != buckets_.end()) it->second.refund(cost);
}

}  // namespace strata::collector

// TokenBucket and RateLimiter with an injected clock: refill, burst, debt for
// requests larger than the burst, the wait a refused request is told, refunds
// and one bucket per tenant.
#include <catch2/catch.hpp>

#include "collector/rate_limiter.h"

using namespace strata::collector;
using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST_CASE("token bucket: starts full, refills at its rate, caps at the burst",
          "[collector][rate_limiter]") {
  const Clock::time_point t0{};
  TokenBucket b(100, 200, t0);  // 100/s, burst 200
  CHECK(b.tokens(t0) == Approx(200));
  CHECK_FALSE(b.take(150, t0));
  CHECK(b.tokens(t0) == Approx(50));
  // 60 more needs 10 tokens more than there are: 100 ms at 100/s.
  auto wait = b.take(60, t0);
  REQUIRE(wait);
  CHECK(*wait == 100ms);
  CHECK(b.tokens(t0) == Approx(50));  // a refusal takes nothing
  CHECK_FALSE(b.take(60, t0 + 100ms));
  CHECK(b.tokens(t0 + 100ms) == Approx(0));
  // Ten idle seconds refill only up to the burst.
  CHECK(b.tokens(t0 + 10s) == Approx(200));
}

TEST_CASE("token bucket: a request larger than the burst needs a full bucket and leaves debt",
          "[collector][rate_limiter]") {
  const Clock::time_point t0{};
  TokenBucket b(100, 100, t0);
  CHECK_FALSE(b.take(10, t0));
  // 500 > burst: wait until the bucket is full again (10 tokens: 100 ms).
  auto wait = b.take(500, t0);
  REQUIRE(wait);
  CHECK(*wait == 100ms);
  CHECK_FALSE(b.take(500, t0 + 100ms));
  CHECK(b.tokens(t0 + 100ms) == Approx(-400));
  // The debt is paid back at the rate: anything waits 4 s + its own cost.
  wait = b.take(1, t0 + 100ms);
  REQUIRE(wait);
  CHECK(*wait == 4010ms);
  CHECK_FALSE(b.take(1, t0 + 100ms + 4010ms));
}

TEST_CASE("token bucket: refund gives tokens back, up to the burst", "[collector][rate_limiter]") {
  const Clock::time_point t0{};
  TokenBucket b(10, 50, t0);
  CHECK_FALSE(b.take(40, t0));
  b.refund(40);
  CHECK(b.tokens(t0) == Approx(50));
  b.refund(40);
  CHECK(b.tokens(t0) == Approx(50));
}

TEST_CASE("token bucket: waits round up to the millisecond and are at least 1 ms",
          "[collector][rate_limiter]") {
  const Clock::time_point t0{};
  TokenBucket b(3, 3, t0);
  CHECK_FALSE(b.take(3, t0));
  auto wait = b.take(1, t0);  // 1/3 s
  REQUIRE(wait);
  CHECK(*wait == 334ms);
  CHECK(b.take(1, t0 + 333ms));
  CHECK_FALSE(b.take(1, t0 + 334ms));
  TokenBucket tiny(1e9, 1, t0);
  CHECK_FALSE(tiny.take(1, t0));
  wait = tiny.take(1, t0);
  REQUIRE(wait);
  CHECK(*wait == 1ms);
}

TEST_CASE("rate limiter: one bucket per tenant, burst defaults to one second's worth, 0 is off",
          "[collector][rate_limiter]") {
  Clock::time_point now{};
  RateLimiter limiter(1000, 0, [&now] { return now; });
  REQUIRE(limiter.enabled());
  CHECK(limiter.burst() == Approx(1000));
  CHECK_FALSE(limiter.admit("team-a", 1000));
  auto wait = limiter.admit("team-a", 1);
  REQUIRE(wait);
  CHECK(*wait == 1ms);
  // Another tenant is not affected by team-a's traffic.
  CHECK_FALSE(limiter.admit("team-b", 1000));
  CHECK_FALSE(limiter.admit("", 1000));
  now += 500ms;
  CHECK_FALSE(limiter.admit("team-a", 500));
  CHECK(limiter.admit("team-a", 1));
  limiter.refund("team-a", 300);
  CHECK_FALSE(limiter.admit("team-a", 300));

  RateLimiter off(0);
  CHECK_FALSE(off.enabled());
  for (int i = 0; i < 10; ++i) CHECK_FALSE(off.admit("x", 1e12));
}

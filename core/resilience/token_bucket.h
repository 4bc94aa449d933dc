#pragma once
// TokenBucket: a classic token-bucket rate limiter. The bucket holds at most `burst` tokens and
// refills continuously at `rate_per_s`; a request costing N tokens is admitted only if N tokens are
// available. It starts full, so a fresh client may send `burst` requests at once, then `rate_per_s`
// per second.
//
//   TokenBucket bucket(/*rate_per_s=*/10, /*burst=*/20, clock);
//   if (!bucket.TryAcquire()) return TooManyRequests(/*retry_after_ms=*/bucket.RetryAfterMs());
//
// Time comes only from the injected Clock, so tests are deterministic on a FakeClock.
//
// Thread safety: every method may be called from any thread concurrently. Each call takes one small
// uncontended-in-practice mutex for a few arithmetic operations and never allocates.
// Ownership: `clock` is not owned and must outlive the bucket.

#include <cstdint>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "core/clock/clock.h"

namespace core {

class TokenBucket {
 public:
  // RetryAfterMs() result when the request can never succeed (it costs more than `burst`). Callers
  // should reject such a request outright (InvalidArgument), not ask the client to retry.
  static constexpr int64_t kRetryNeverMs = -1;
  // Upper bound on any finite RetryAfterMs() result (one day), so a tiny rate cannot overflow it.
  static constexpr int64_t kRetryAfterMsMax = 24 * 3600 * 1000;

  // Checks constructor arguments that come from configuration: `rate_per_s` finite and > 0, `burst`
  // finite and >= 1. Returns InvalidArgument naming the bad argument.
  static absl::Status ValidateOptions(double rate_per_s, double burst);

  // Precondition: ValidateOptions(rate_per_s, burst).ok() (aborts otherwise; constructors never
  // fail, so validate configuration first). The bucket starts full.
  TokenBucket(double rate_per_s, double burst, Clock* clock);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes `tokens` tokens if that many are available now and returns true; otherwise takes nothing
  // and returns false. `tokens` == 0 always succeeds; negative or NaN `tokens` always fail.
  bool TryAcquire(double tokens = 1);

  // Milliseconds until `tokens` tokens will be available (0 if they are available now), rounded up
  // so that TryAcquire(tokens) succeeds after waiting that long if nobody else takes tokens
  // meanwhile. Suitable for an HTTP Retry-After header (round up to seconds there). Returns
  // kRetryNeverMs when `tokens` > burst (or is NaN), since such a request can never be admitted.
  int64_t RetryAfterMs(double tokens = 1) const;

  // Tokens available now (fractional), for metrics and tests.
  double AvailableTokens() const;

  double rate_per_s() const { return rate_per_s_; }
  double burst() const { return burst_; }

 private:
  // Tokens available at `now_ns`, without committing the refill.
  double AvailableLocked(int64_t now_ns) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double rate_per_s_;
  const double burst_;
  Clock* const clock_;

  mutable std::mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  int64_t refill_ns_
      ABSL_GUARDED_BY(mu_);  // Clock time at which tokens_ was last brought up to date.
};

}  // namespace core

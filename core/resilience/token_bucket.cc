#include "core/resilience/token_bucket.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/log/check.h"

namespace core {
namespace {

// Slack for floating-point rounding in the refill arithmetic: without it, waiting exactly
// RetryAfterMs() could leave the bucket at 0.9999999 tokens and fail a 1-token acquire.
constexpr double kTokensEpsilon = 1e-9;

constexpr double kNsPerS = 1e9;

}  // namespace

absl::Status TokenBucket::ValidateOptions(double rate_per_s, double burst) {
  if (!std::isfinite(rate_per_s) || rate_per_s <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate_per_s must be finite and > 0, got ", rate_per_s));
  }
  if (!std::isfinite(burst) || burst < 1) {
    return absl::InvalidArgumentError(absl::StrCat("burst must be finite and >= 1, got ", burst));
  }
  return absl::OkStatus();
}

TokenBucket::TokenBucket(double rate_per_s, double burst, Clock* clock)
    : rate_per_s_(rate_per_s), burst_(burst), clock_(clock) {
  CORE_CHECK(ValidateOptions(rate_per_s, burst).ok());
  CORE_CHECK(clock != nullptr);
  tokens_ = burst_;
  refill_ns_ = clock_->NowNs();
}

double TokenBucket::AvailableLocked(int64_t now_ns) const {
  // Clamp: a caller's clock read may race with another's, and a refill must never remove tokens.
  const int64_t elapsed_ns = std::max<int64_t>(0, now_ns - refill_ns_);
  return std::min(burst_, tokens_ + static_cast<double>(elapsed_ns) * rate_per_s_ / kNsPerS);
}

bool TokenBucket::TryAcquire(double tokens) {
  if (!(tokens >= 0)) return false;  // Negative or NaN.
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_ns = clock_->NowNs();
  const double available = AvailableLocked(now_ns);
  if (available + kTokensEpsilon < tokens) return false;
  tokens_ = std::max(0.0, available - tokens);
  refill_ns_ = std::max(refill_ns_, now_ns);
  return true;
}

int64_t TokenBucket::RetryAfterMs(double tokens) const {
  if (!(tokens <= burst_)) return kRetryNeverMs;  // Too large, or NaN.
  double available;
  {
    std::lock_guard<std::mutex> lock(mu_);
    available = AvailableLocked(clock_->NowNs());
  }
  // TryAcquire admits at tokens - kTokensEpsilon. Aim halfway into that slack: enough to absorb the
  // rounding of the refill (so waiting the answer suffices), while a deficit that is a whole number
  // of milliseconds plus rounding noise (0.1 token at 100/s -> 1.0000000001 ms) is not rounded up.
  const double deficit = tokens - available - kTokensEpsilon / 2;
  if (deficit <= 0) return 0;
  const double wait_ms = std::ceil(deficit * 1000.0 / rate_per_s_);
  return static_cast<int64_t>(std::min(wait_ms, static_cast<double>(kRetryAfterMsMax)));
}

double TokenBucket::AvailableTokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  return AvailableLocked(clock_->NowNs());
}

}  // namespace core

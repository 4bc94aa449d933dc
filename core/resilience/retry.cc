#include "core/resilience/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/log/check.h"

namespace core {

absl::Status Backoff::ValidateOptions(const Options& o) {
  if (o.initial_ms <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("initial_ms must be > 0, got ", o.initial_ms));
  }
  if (o.max_ms < o.initial_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_ms must be >= initial_ms (", o.initial_ms, "), got ", o.max_ms));
  }
  if (!std::isfinite(o.multiplier) || o.multiplier < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("multiplier must be finite and >= 1, got ", o.multiplier));
  }
  if (o.attempts_max < 1 || o.attempts_max > kAttemptsMaxLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("attempts_max must be in [1, ", kAttemptsMaxLimit, "], got ", o.attempts_max));
  }
  return absl::OkStatus();
}

Backoff::Backoff(Options options, uint64_t seed) : options_(options), rng_(seed) {
  CORE_CHECK(ValidateOptions(options_).ok());
}

int64_t Backoff::DelayCapMs(int32_t retry) const {
  // Multiply step by step and stop at max_ms, so large retry counts cannot overflow.
  double cap_ms = static_cast<double>(options_.initial_ms);
  const double max_ms = static_cast<double>(options_.max_ms);
  for (int32_t i = 0; i < retry && cap_ms < max_ms; ++i) cap_ms *= options_.multiplier;
  return static_cast<int64_t>(std::min(cap_ms, max_ms));
}

std::optional<int64_t> Backoff::NextDelayMs() {
  if (retries_ >= options_.attempts_max - 1) return std::nullopt;
  const int64_t cap_ms = DelayCapMs(retries_);
  ++retries_;
  return std::uniform_int_distribution<int64_t>(0, cap_ms)(rng_);
}

bool IsRetryableByDefault(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsAborted(status) || absl::IsDeadlineExceeded(status);
}

absl::Status RetryWithBackoff(const std::function<absl::Status()>& op, Backoff& backoff,
                              const std::function<void(int64_t delay_ms)>& sleeper,
                              const std::function<bool(const absl::Status&)>& retryable) {
  backoff.Reset();
  // Bounded: NextDelayMs() returns nullopt after attempts_max - 1 (<= kAttemptsMaxLimit) delays.
  while (true) {
    absl::Status status = op();
    if (status.ok() || !retryable(status)) return status;
    const std::optional<int64_t> delay_ms = backoff.NextDelayMs();
    if (!delay_ms.has_value()) return status;
    sleeper(*delay_ms);
  }
}

}  // namespace core

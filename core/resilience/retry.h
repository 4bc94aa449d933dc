#pragma once
// Exponential backoff with full jitter, and a retry loop built on it.
//
// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): retry n (0-based) waits a
// uniformly random time in [0, min(max_ms, initial_ms * multiplier^n)]. Randomizing the whole
// interval spreads clients that failed together, so they do not retry in synchronized waves.
//
//   Backoff backoff({.initial_ms = 50, .max_ms = 2'000, .multiplier = 2, .attempts_max = 4}, seed);
//   absl::Status s = RetryWithBackoff([&] { return client.Call(); }, backoff,
//                                     [](int64_t delay_ms) { SleepMs(delay_ms); });
//
// The PRNG is std::mt19937_64 seeded by the caller, so a test with a fixed seed sees fixed delays.
// Production callers should seed per instance (e.g. from std::random_device) so processes differ.
//
// Thread safety: a Backoff is not thread-safe; use one per retry loop (per thread).
// RetryWithBackoff runs on the calling thread and calls `op` and `sleeper` there.

#include <cstdint>
#include <functional>
#include <optional>
#include <random>

#include "absl/status/status.h"

namespace core {

class Backoff {
 public:
  // Named bound on the retry loop (STYLE.md rule 7).
  static constexpr int32_t kAttemptsMaxLimit = 100;

  struct Options {
    int64_t initial_ms = 100;  // Cap of the first retry's delay (> 0).
    int64_t max_ms = 10'000;   // Cap of any delay (>= initial_ms).
    double multiplier = 2.0;   // Growth of the cap per retry (finite, >= 1).
    // Total attempts of the operation, the first included, in [1, kAttemptsMaxLimit]. NextDelayMs()
    // therefore yields attempts_max - 1 delays before returning nullopt.
    int32_t attempts_max = 5;
  };

  // Checks options that come from configuration; InvalidArgument naming the bad field.
  static absl::Status ValidateOptions(const Options& options);

  // Precondition: ValidateOptions(options).ok() (aborts otherwise).
  Backoff(Options options, uint64_t seed);

  // Delay before the next retry: uniform in [0, min(max_ms, initial_ms * multiplier^n)] for retry
  // n, or nullopt once attempts_max attempts have been used up.
  std::optional<int64_t> NextDelayMs();
  // Starts over from the first retry (the PRNG continues its sequence).
  void Reset() { retries_ = 0; }

  // Cap of retry `retry` (0-based): min(max_ms, initial_ms * multiplier^retry).
  int64_t DelayCapMs(int32_t retry) const;
  // Retries handed out since construction or Reset().
  int32_t retries() const { return retries_; }
  const Options& options() const { return options_; }

 private:
  const Options options_;
  std::mt19937_64 rng_;
  int32_t retries_ = 0;
};

// The default `retryable` predicate: true for errors that mean "try again later" per STYLE.md rule
// 3:
//   Unavailable       (the server is down or overloaded: back off and retry),
//   Aborted           (a transaction conflict: retry the transaction),
//   DeadlineExceeded  (this attempt timed out; a fresh attempt may succeed).
// Everything else is returned at once: InvalidArgument / FailedPrecondition / NotFound and the like
// will fail the same way again, and ResourceExhausted means the callee asked us to shed load, which
// callers should honour (e.g. via Retry-After) rather than retry blindly.
bool IsRetryableByDefault(const absl::Status& status);

// Calls `op` until it returns OK, returns a non-retryable error, or `backoff` runs out of attempts,
// calling `sleeper(delay_ms)` between attempts (inject a no-op or recorder in tests, a real sleep
// or a timer in production). Returns OK or the last error, unchanged. Calls backoff.Reset() first,
// so one Backoff can serve successive operations; `op` runs at most options().attempts_max times.
absl::Status RetryWithBackoff(
    const std::function<absl::Status()>& op, Backoff& backoff,
    const std::function<void(int64_t delay_ms)>& sleeper,
    const std::function<bool(const absl::Status&)>& retryable = IsRetryableByDefault);

}  // namespace core

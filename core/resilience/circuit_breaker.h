#pragma once
// CircuitBreaker: stops sending requests to a dependency that is failing, so callers fail fast
// instead of piling up on timeouts, and lets a few probe requests through later to see whether it
// recovered.
//
//   CLOSED    requests flow; results are counted in a sliding window. Opens when either
//             - the window holds >= min_requests_in_window results and the failure share is
//               >= error_rate_open_threshold, or
//             - consecutive_failures_open failures arrive in a row (if that trigger is enabled).
//   OPEN      Allow() returns false. After open_duration_ms the next Allow() (or state()) moves to
//             HALF_OPEN.
//   HALF_OPEN at most half_open_probes_max requests are admitted as probes. Any probe failure
//   reopens
//             (for a fresh open_duration_ms); half_open_successes_to_close successes close the
//             breaker with an empty window.
//
//   ASSIGN_OR_RETURN(auto breaker, CircuitBreaker::Create(options, clock));
//   if (!breaker->Allow()) return absl::UnavailableError("model backend circuit open");
//   absl::Status s = CallBackend();
//   if (IsBackendFault(s)) breaker->RecordFailure(); else breaker->RecordSuccess();
//
// Contract: every Allow() that returns true must be followed by exactly one RecordSuccess() or
// RecordFailure(). Results reported while OPEN are ignored (they belong to requests admitted before
// it opened). The breaker cannot tell a late result of a pre-open request from a probe's result; in
// HALF_OPEN every result counts as a probe result. If admitted probes never report (a caller lost
// them), the breaker would stay HALF_OPEN forever; so once all probes are out and open_duration_ms
// passes with no verdict, a new round of probes is admitted.
//
// The sliding window is a ring of window_buckets buckets, each window_ms / window_buckets wide;
// results older than the window drop out one bucket at a time.
//
// Thread safety: all methods may be called from any thread concurrently; one internal mutex guards
// the state. `on_transition` is invoked while that mutex is held, on the thread whose call caused
// the transition, so transitions are reported in order; it must be cheap (bump a metric, log) and
// must not call back into this breaker (that would deadlock). Ownership: `clock` is not owned and
// must outlive the breaker.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "core/clock/clock.h"

namespace core {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  static constexpr int32_t kWindowBucketsMax = 1000;

  struct Options {
    // Sliding window length; must be a positive multiple of window_buckets.
    int64_t window_ms = 10'000;
    // Ring size, in [1, kWindowBucketsMax]. More buckets make old results slide out more smoothly.
    int32_t window_buckets = 10;
    // The error-rate trigger needs at least this many results (>= 1) in the window.
    int64_t min_requests_in_window = 20;
    // Failure share in (0, 1] at or above which the breaker opens.
    double error_rate_open_threshold = 0.5;
    // Opens after this many failures in a row while CLOSED; 0 disables this trigger.
    int32_t consecutive_failures_open = 5;
    // Time spent OPEN before probing (> 0).
    int64_t open_duration_ms = 5'000;
    // Probe requests admitted per HALF_OPEN round (>= 1).
    int32_t half_open_probes_max = 1;
    // Probe successes needed to close, in [1, half_open_probes_max].
    int32_t half_open_successes_to_close = 1;
    // Optional; see the thread-safety notes above.
    std::function<void(State from, State to)> on_transition;
  };

  // Results currently counted in the sliding window.
  struct WindowCounts {
    int64_t successes = 0;
    int64_t failures = 0;
  };

  // Returns InvalidArgument naming the bad field.
  static absl::StatusOr<std::unique_ptr<CircuitBreaker>> Create(Options options, Clock* clock);

  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // Whether to send a request now: true while CLOSED, false while OPEN, and true for up to
  // half_open_probes_max probes in HALF_OPEN.
  bool Allow();
  void RecordSuccess();
  void RecordFailure();

  // The current state, after applying the time-driven OPEN -> HALF_OPEN move (which may invoke
  // on_transition), so it agrees with what Allow() would do.
  State state() const;
  static const char* StateName(State state);

  // Number of state transitions so far (for metrics and tests).
  int64_t transitions_count() const;
  WindowCounts window_counts() const;

 private:
  struct Bucket {
    int64_t epoch = -1;  // now_ms / bucket width when this bucket was last reset; -1 = never used.
    int64_t successes = 0;
    int64_t failures = 0;
  };

  CircuitBreaker(Options options, Clock* clock);

  void TransitionLocked(State to, int64_t now_ms) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves OPEN -> HALF_OPEN once open_duration_ms has passed.
  void ApplyTimeLocked(int64_t now_ms) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordLocked(bool success, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WindowCounts SumWindowLocked(int64_t now_ms) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const int64_t bucket_width_ms_;
  Clock* const clock_;

  // Mutable because state() applies time-driven transitions.
  mutable std::mutex mu_;
  mutable State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  mutable int64_t transitions_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int64_t opened_ms_ ABSL_GUARDED_BY(mu_) = 0;  // When state_ last became OPEN.
  mutable int64_t round_ms_ ABSL_GUARDED_BY(mu_) = 0;   // When the current probe round began.
  mutable int32_t probes_admitted_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int32_t probe_successes_ ABSL_GUARDED_BY(mu_) = 0;
  mutable int32_t consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  mutable std::vector<Bucket> ring_ ABSL_GUARDED_BY(mu_);
};

}  // namespace core

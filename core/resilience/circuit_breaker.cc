#include "core/resilience/circuit_breaker.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace core {

absl::StatusOr<std::unique_ptr<CircuitBreaker>> CircuitBreaker::Create(Options options,
                                                                       Clock* clock) {
  const Options& o = options;
  if (o.window_buckets < 1 || o.window_buckets > kWindowBucketsMax) {
    return absl::InvalidArgumentError(absl::StrCat("window_buckets must be in [1, ",
                                                   kWindowBucketsMax, "], got ", o.window_buckets));
  }
  if (o.window_ms <= 0 || o.window_ms % o.window_buckets != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("window_ms must be a positive multiple of window_buckets (", o.window_buckets,
                     "), got ", o.window_ms));
  }
  if (o.min_requests_in_window < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_requests_in_window must be >= 1, got ", o.min_requests_in_window));
  }
  if (!(o.error_rate_open_threshold > 0 && o.error_rate_open_threshold <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "error_rate_open_threshold must be in (0, 1], got ", o.error_rate_open_threshold));
  }
  if (o.consecutive_failures_open < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consecutive_failures_open must be >= 0 (0 disables), got ", o.consecutive_failures_open));
  }
  if (o.open_duration_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("open_duration_ms must be > 0, got ", o.open_duration_ms));
  }
  if (o.half_open_probes_max < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("half_open_probes_max must be >= 1, got ", o.half_open_probes_max));
  }
  if (o.half_open_successes_to_close < 1 ||
      o.half_open_successes_to_close > o.half_open_probes_max) {
    return absl::InvalidArgumentError(
        absl::StrCat("half_open_successes_to_close must be in [1, half_open_probes_max (",
                     o.half_open_probes_max, ")], got ", o.half_open_successes_to_close));
  }
  if (clock == nullptr) return absl::InvalidArgumentError("clock must not be null");
  return std::unique_ptr<CircuitBreaker>(new CircuitBreaker(std::move(options), clock));
}

CircuitBreaker::CircuitBreaker(Options options, Clock* clock)
    : options_(std::move(options)),
      bucket_width_ms_(options_.window_ms / options_.window_buckets),
      clock_(clock),
      ring_(options_.window_buckets) {}

const char* CircuitBreaker::StateName(State state) {
  switch (state) {
    case State::kClosed:
      return "CLOSED";
    case State::kOpen:
      return "OPEN";
    case State::kHalfOpen:
      return "HALF_OPEN";
  }
  return "UNKNOWN";
}

void CircuitBreaker::TransitionLocked(State to, int64_t now_ms) const {
  const State from = state_;
  state_ = to;
  ++transitions_;
  switch (to) {
    case State::kOpen:
      opened_ms_ = now_ms;
      break;
    case State::kHalfOpen:
      round_ms_ = now_ms;
      probes_admitted_ = 0;
      probe_successes_ = 0;
      break;
    case State::kClosed:
      // Start from a clean slate: the failures that opened the breaker must not reopen it.
      for (Bucket& b : ring_) b = Bucket{};
      consecutive_failures_ = 0;
      break;
  }
  if (options_.on_transition) options_.on_transition(from, to);
}

void CircuitBreaker::ApplyTimeLocked(int64_t now_ms) const {
  if (state_ == State::kOpen && now_ms - opened_ms_ >= options_.open_duration_ms) {
    TransitionLocked(State::kHalfOpen, now_ms);
  }
}

CircuitBreaker::WindowCounts CircuitBreaker::SumWindowLocked(int64_t now_ms) const {
  const int64_t epoch = now_ms / bucket_width_ms_;
  WindowCounts counts;
  for (const Bucket& b : ring_) {
    if (b.epoch >= 0 && b.epoch > epoch - options_.window_buckets) {
      counts.successes += b.successes;
      counts.failures += b.failures;
    }
  }
  return counts;
}

bool CircuitBreaker::Allow() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_ms = clock_->NowMs();
  ApplyTimeLocked(now_ms);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      return false;
    case State::kHalfOpen:
      if (probes_admitted_ >= options_.half_open_probes_max &&
          now_ms - round_ms_ >= options_.open_duration_ms) {
        // Every probe of this round is out and none decided within open_duration_ms: assume they
        // were lost and start a new round rather than stay HALF_OPEN forever.
        round_ms_ = now_ms;
        probes_admitted_ = 0;
        probe_successes_ = 0;
      }
      if (probes_admitted_ < options_.half_open_probes_max) {
        ++probes_admitted_;
        return true;
      }
      return false;
  }
  return false;
}

void CircuitBreaker::RecordLocked(bool success, int64_t now_ms) {
  switch (state_) {
    case State::kOpen:
      return;  // A request admitted before the breaker opened; it tells us nothing new.
    case State::kHalfOpen:
      if (!success) {
        TransitionLocked(State::kOpen, now_ms);
      } else if (++probe_successes_ >= options_.half_open_successes_to_close) {
        TransitionLocked(State::kClosed, now_ms);
      }
      return;
    case State::kClosed:
      break;
  }
  const int64_t epoch = now_ms / bucket_width_ms_;
  Bucket& bucket = ring_[epoch % options_.window_buckets];
  if (bucket.epoch != epoch) bucket = Bucket{.epoch = epoch};
  if (success) {
    ++bucket.successes;
    consecutive_failures_ = 0;
    return;
  }
  ++bucket.failures;
  ++consecutive_failures_;
  if (options_.consecutive_failures_open > 0 &&
      consecutive_failures_ >= options_.consecutive_failures_open) {
    TransitionLocked(State::kOpen, now_ms);
    return;
  }
  const WindowCounts counts = SumWindowLocked(now_ms);
  const int64_t total = counts.successes + counts.failures;
  if (total >= options_.min_requests_in_window &&
      static_cast<double>(counts.failures) >=
          options_.error_rate_open_threshold * static_cast<double>(total)) {
    TransitionLocked(State::kOpen, now_ms);
  }
}

void CircuitBreaker::RecordSuccess() {
  std::lock_guard<std::mutex> lock(mu_);
  RecordLocked(/*success=*/true, clock_->NowMs());
}

void CircuitBreaker::RecordFailure() {
  std::lock_guard<std::mutex> lock(mu_);
  RecordLocked(/*success=*/false, clock_->NowMs());
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  ApplyTimeLocked(clock_->NowMs());
  return state_;
}

int64_t CircuitBreaker::transitions_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return transitions_;
}

CircuitBreaker::WindowCounts CircuitBreaker::window_counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return SumWindowLocked(clock_->NowMs());
}

}  // namespace core

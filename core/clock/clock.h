#pragma once
// Clock: the one source of time for code that must be testable. Production code takes a `Clock*`
// (never reads std::chrono directly on a path a test must control); tests pass a FakeClock and advance
// it explicitly, so timing-dependent logic (rate limits, breakers, expiry, batching) is deterministic.
//
// Thread safety: both implementations are safe to call from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in nanoseconds since an arbitrary epoch. Never goes backwards.
  virtual int64_t NowNs() const = 0;
  // Wall-clock time in milliseconds since the Unix epoch (for values shown to users, e.g. expires_at_ms).
  virtual int64_t WallMs() const = 0;

  int64_t NowUs() const { return NowNs() / 1000; }
  int64_t NowMs() const { return NowNs() / 1000000; }

  // The process-wide real clock.
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  int64_t NowNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t WallMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

inline Clock* Clock::Real() {
  static RealClock clock;
  return &clock;
}

// A clock that moves only when told to. Starts at an arbitrary non-zero time so code that treats 0 as
// "unset" is exercised honestly.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 1'000'000'000'000, int64_t wall_start_ms = 1'700'000'000'000)
      : now_ns_(start_ns), wall_offset_ms_(wall_start_ms - start_ns / 1000000) {}
  int64_t NowNs() const override { return now_ns_.load(std::memory_order_acquire); }
  int64_t WallMs() const override { return NowMs() + wall_offset_ms_; }
  void AdvanceNs(int64_t ns) { now_ns_.fetch_add(ns, std::memory_order_acq_rel); }
  void AdvanceMs(int64_t ms) { AdvanceNs(ms * 1000000); }
  void SetNs(int64_t ns) { now_ns_.store(ns, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_ns_;
  const int64_t wall_offset_ms_;
};

}  // namespace core

#include "core/resilience/circuit_breaker.h"

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

using State = CircuitBreaker::State;

// Error-rate trigger only: consecutive failures disabled.
CircuitBreaker::Options RateOptions() {
  return {.window_ms = 10'000,
          .window_buckets = 10,
          .min_requests_in_window = 10,
          .error_rate_open_threshold = 0.5,
          .consecutive_failures_open = 0,
          .open_duration_ms = 5'000,
          .half_open_probes_max = 2,
          .half_open_successes_to_close = 2};
}

std::unique_ptr<CircuitBreaker> MakeBreaker(CircuitBreaker::Options options, Clock* clock) {
  auto breaker = CircuitBreaker::Create(std::move(options), clock);
  EXPECT_TRUE(breaker.ok()) << breaker.status();
  return std::move(breaker).value();
}

void Open(CircuitBreaker& breaker) {
  for (int i = 0; i < 10 && breaker.state() == State::kClosed; ++i) breaker.RecordFailure();
  ASSERT_EQ(breaker.state(), State::kOpen);
}

TEST(CircuitBreakerTest, StartsClosedAndAllows) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  EXPECT_EQ(breaker->state(), State::kClosed);
  EXPECT_TRUE(breaker->Allow());
  EXPECT_EQ(breaker->transitions_count(), 0);
}

TEST(CircuitBreakerTest, OpensOnErrorRateOverWindow) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  // 9 results at a 4/9 error rate, spread over the window: still closed.
  for (int i = 0; i < 9; ++i) {
    if (i % 2 == 0) {
      breaker->RecordSuccess();
    } else {
      breaker->RecordFailure();
    }
    clock.AdvanceMs(900);
  }
  EXPECT_EQ(breaker->state(), State::kClosed);
  EXPECT_EQ(breaker->window_counts().failures, 4);
  EXPECT_EQ(breaker->window_counts().successes, 5);
  breaker->RecordFailure();  // 5 of 10 = 0.5 >= threshold.
  EXPECT_EQ(breaker->state(), State::kOpen);
  EXPECT_FALSE(breaker->Allow());
}

TEST(CircuitBreakerTest, StaysClosedBelowErrorRate) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  for (int i = 0; i < 100; ++i) {
    if (i % 3 == 0) {
      breaker->RecordFailure();
    } else {
      breaker->RecordSuccess();
    }
  }
  EXPECT_EQ(breaker->state(), State::kClosed);
}

TEST(CircuitBreakerTest, DoesNotOpenBelowMinRequests) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  for (int i = 0; i < 9; ++i) breaker->RecordFailure();  // 100% errors, but only 9 results.
  EXPECT_EQ(breaker->state(), State::kClosed);
  EXPECT_TRUE(breaker->Allow());
  breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kOpen);
}

TEST(CircuitBreakerTest, OpensOnConsecutiveFailures) {
  FakeClock clock;
  CircuitBreaker::Options options = RateOptions();
  options.min_requests_in_window = 1000;  // Rate trigger out of reach.
  options.consecutive_failures_open = 3;
  auto breaker = MakeBreaker(std::move(options), &clock);
  breaker->RecordFailure();
  breaker->RecordFailure();
  breaker->RecordSuccess();  // Breaks the run.
  breaker->RecordFailure();
  breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kClosed);
  breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kOpen);
}

TEST(CircuitBreakerTest, OldFailuresSlideOutOfWindow) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  for (int i = 0; i < 6; ++i) breaker->RecordFailure();
  clock.AdvanceMs(9'999);  // Still inside the 10 s window.
  EXPECT_EQ(breaker->window_counts().failures, 6);
  clock.AdvanceMs(1);  // The first bucket has slid out.
  EXPECT_EQ(breaker->window_counts().failures, 0);
  for (int i = 0; i < 4; ++i) breaker->RecordFailure();
  // 10 failures in total, but only 4 inside the window: below min_requests_in_window.
  EXPECT_EQ(breaker->state(), State::kClosed);
}

TEST(CircuitBreakerTest, WindowSlidesOneBucketAtATime) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  for (int i = 0; i < 4; ++i) breaker->RecordFailure();
  clock.AdvanceMs(5'000);
  for (int i = 0; i < 4; ++i) breaker->RecordFailure();
  EXPECT_EQ(breaker->window_counts().failures, 8);
  clock.AdvanceMs(5'000);  // The first four slide out; the second four stay.
  EXPECT_EQ(breaker->window_counts().failures, 4);
  for (int i = 0; i < 5; ++i) breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kClosed);  // 9 in the window.
  breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kOpen);
}

TEST(CircuitBreakerTest, MovesToHalfOpenAfterOpenDuration) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  Open(*breaker);
  clock.AdvanceMs(4'999);
  EXPECT_FALSE(breaker->Allow());
  EXPECT_EQ(breaker->state(), State::kOpen);
  clock.AdvanceMs(1);
  EXPECT_EQ(breaker->state(), State::kHalfOpen);
  EXPECT_TRUE(breaker->Allow());
}

TEST(CircuitBreakerTest, HalfOpenAdmitsAtMostProbesMax) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  Open(*breaker);
  clock.AdvanceMs(5'000);
  EXPECT_TRUE(breaker->Allow());
  EXPECT_TRUE(breaker->Allow());
  EXPECT_FALSE(breaker->Allow());
  EXPECT_FALSE(breaker->Allow());
  EXPECT_EQ(breaker->state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, ClosesAfterProbeSuccesses) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  Open(*breaker);
  clock.AdvanceMs(5'000);
  ASSERT_TRUE(breaker->Allow());
  ASSERT_TRUE(breaker->Allow());
  breaker->RecordSuccess();
  EXPECT_EQ(breaker->state(), State::kHalfOpen);
  breaker->RecordSuccess();
  EXPECT_EQ(breaker->state(), State::kClosed);
  EXPECT_TRUE(breaker->Allow());
  // The failures that opened it are gone: it takes a fresh run of errors to reopen.
  EXPECT_EQ(breaker->window_counts().failures, 0);
  for (int i = 0; i < 9; ++i) breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kClosed);
}

TEST(CircuitBreakerTest, ReopensOnProbeFailure) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  Open(*breaker);
  clock.AdvanceMs(5'000);
  ASSERT_TRUE(breaker->Allow());
  ASSERT_TRUE(breaker->Allow());
  breaker->RecordSuccess();
  breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kOpen);
  EXPECT_FALSE(breaker->Allow());
  // A full open_duration_ms again, counted from the reopening.
  clock.AdvanceMs(4'999);
  EXPECT_FALSE(breaker->Allow());
  clock.AdvanceMs(1);
  EXPECT_TRUE(breaker->Allow());
  EXPECT_EQ(breaker->state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, IgnoresResultsWhileOpen) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  Open(*breaker);
  const int64_t transitions = breaker->transitions_count();
  breaker->RecordSuccess();  // Late results of requests admitted before it opened.
  breaker->RecordFailure();
  EXPECT_EQ(breaker->state(), State::kOpen);
  EXPECT_EQ(breaker->transitions_count(), transitions);
}

TEST(CircuitBreakerTest, LostProbesDoNotWedgeHalfOpen) {
  FakeClock clock;
  auto breaker = MakeBreaker(RateOptions(), &clock);
  Open(*breaker);
  clock.AdvanceMs(5'000);
  ASSERT_TRUE(breaker->Allow());
  ASSERT_TRUE(breaker->Allow());
  // Neither probe ever reports.
  clock.AdvanceMs(4'999);
  EXPECT_FALSE(breaker->Allow());
  clock.AdvanceMs(1);
  EXPECT_TRUE(breaker->Allow());  // A new round.
  EXPECT_TRUE(breaker->Allow());
  EXPECT_FALSE(breaker->Allow());
}

TEST(CircuitBreakerTest, ReportsTransitions) {
  FakeClock clock;
  std::vector<std::pair<State, State>> transitions;
  CircuitBreaker::Options options = RateOptions();
  options.on_transition = [&transitions](State from, State to) {
    transitions.emplace_back(from, to);
  };
  auto breaker = MakeBreaker(std::move(options), &clock);
  Open(*breaker);
  clock.AdvanceMs(5'000);
  ASSERT_TRUE(breaker->Allow());
  breaker->RecordFailure();
  clock.AdvanceMs(5'000);
  ASSERT_TRUE(breaker->Allow());
  ASSERT_TRUE(breaker->Allow());
  breaker->RecordSuccess();
  breaker->RecordSuccess();
  const std::vector<std::pair<State, State>> expected = {
      {State::kClosed, State::kOpen},     {State::kOpen, State::kHalfOpen},
      {State::kHalfOpen, State::kOpen},   {State::kOpen, State::kHalfOpen},
      {State::kHalfOpen, State::kClosed},
  };
  EXPECT_EQ(transitions, expected);
  EXPECT_EQ(breaker->transitions_count(), 5);
}

TEST(CircuitBreakerTest, StateNames) {
  EXPECT_STREQ(CircuitBreaker::StateName(State::kClosed), "CLOSED");
  EXPECT_STREQ(CircuitBreaker::StateName(State::kOpen), "OPEN");
  EXPECT_STREQ(CircuitBreaker::StateName(State::kHalfOpen), "HALF_OPEN");
}

TEST(CircuitBreakerTest, CreateRejectsBadOptionsNamingTheField) {
  FakeClock clock;
  struct Case {
    void (*mutate)(CircuitBreaker::Options&);
    const char* field;
  };
  const Case cases[] = {
      {[](CircuitBreaker::Options& o) { o.window_ms = 0; }, "window_ms"},
      {[](CircuitBreaker::Options& o) { o.window_ms = 10'001; }, "window_ms"},
      {[](CircuitBreaker::Options& o) { o.window_buckets = 0; }, "window_buckets"},
      {[](CircuitBreaker::Options& o) { o.window_buckets = CircuitBreaker::kWindowBucketsMax + 1; },
       "window_buckets"},
      {[](CircuitBreaker::Options& o) { o.min_requests_in_window = 0; }, "min_requests_in_window"},
      {[](CircuitBreaker::Options& o) { o.error_rate_open_threshold = 0; },
       "error_rate_open_threshold"},
      {[](CircuitBreaker::Options& o) { o.error_rate_open_threshold = 1.5; },
       "error_rate_open_threshold"},
      {[](CircuitBreaker::Options& o) { o.consecutive_failures_open = -1; },
       "consecutive_failures_open"},
      {[](CircuitBreaker::Options& o) { o.open_duration_ms = 0; }, "open_duration_ms"},
      {[](CircuitBreaker::Options& o) { o.half_open_probes_max = 0; }, "half_open_probes_max"},
      {[](CircuitBreaker::Options& o) { o.half_open_successes_to_close = 0; },
       "half_open_successes_to_close"},
      {[](CircuitBreaker::Options& o) { o.half_open_successes_to_close = 3; },
       "half_open_successes_to_close"},
  };
  for (const Case& c : cases) {
    CircuitBreaker::Options options = RateOptions();
    c.mutate(options);
    auto breaker = CircuitBreaker::Create(options, &clock);
    ASSERT_FALSE(breaker.ok()) << c.field;
    EXPECT_EQ(breaker.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(breaker.status().message().find(c.field), std::string::npos) << breaker.status();
  }
  EXPECT_TRUE(CircuitBreaker::Create(CircuitBreaker::Options{}, &clock).ok());
}

// Many threads drive the breaker through all states while one advances time. Checks that it stays
// consistent (no lost transitions) and, under TSan, that it is race-free.
TEST(CircuitBreakerTest, ConcurrentUseIsConsistent) {
  FakeClock clock;
  std::atomic<int> callbacks{0};
  CircuitBreaker::Options options = RateOptions();
  options.consecutive_failures_open = 3;
  options.open_duration_ms = 10;
  options.on_transition = [&callbacks](State, State) { callbacks.fetch_add(1); };
  auto breaker = MakeBreaker(std::move(options), &clock);
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOpsPerThread; ++i) {
        if (t == 0 && i % 10 == 0) clock.AdvanceMs(1);
        if (breaker->Allow()) {
          if ((i + t) % 3 == 0) {
            breaker->RecordFailure();
          } else {
            breaker->RecordSuccess();
          }
        }
        (void)breaker->state();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(callbacks.load(), breaker->transitions_count());
}

}  // namespace
}  // namespace core

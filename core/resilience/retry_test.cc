#include "core/resilience/retry.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

constexpr uint64_t kSeed = 20240601;

TEST(BackoffTest, DelaysStayWithinTheirAttemptCap) {
  const Backoff::Options options{
      .initial_ms = 100, .max_ms = 1'000, .multiplier = 2, .attempts_max = 7};
  const int64_t caps_ms[] = {100, 200, 400, 800, 1'000, 1'000};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Backoff(options, kSeed).DelayCapMs(i), caps_ms[i]);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Backoff backoff(options, seed);
    for (int64_t cap_ms : caps_ms) {
      std::optional<int64_t> delay_ms = backoff.NextDelayMs();
      ASSERT_TRUE(delay_ms.has_value());
      EXPECT_GE(*delay_ms, 0);
      EXPECT_LE(*delay_ms, cap_ms);
    }
    EXPECT_EQ(backoff.NextDelayMs(), std::nullopt);
  }
}

TEST(BackoffTest, CapsAtMaxWithoutOverflow) {
  Backoff backoff({.initial_ms = 1,
                   .max_ms = 60'000,
                   .multiplier = 10,
                   .attempts_max = Backoff::kAttemptsMaxLimit},
                  kSeed);
  EXPECT_EQ(backoff.DelayCapMs(4), 10'000);
  EXPECT_EQ(backoff.DelayCapMs(5), 60'000);
  EXPECT_EQ(backoff.DelayCapMs(Backoff::kAttemptsMaxLimit), 60'000);
  int64_t largest_ms = 0;
  while (std::optional<int64_t> delay_ms = backoff.NextDelayMs()) {
    EXPECT_LE(*delay_ms, 60'000);
    largest_ms = std::max(largest_ms, *delay_ms);
  }
  EXPECT_GT(largest_ms, 30'000);  // Later retries really do use the full capped range.
}

TEST(BackoffTest, FullJitterIsRoughlyUniform) {
  constexpr int kSamples = 100'000;
  constexpr int64_t kCapMs = 1'000;
  Backoff backoff({.initial_ms = kCapMs, .max_ms = kCapMs, .multiplier = 1, .attempts_max = 2},
                  kSeed);
  double sum = 0;
  int below_quarter = 0;
  int64_t low_ms = kCapMs;
  int64_t high_ms = 0;
  for (int i = 0; i < kSamples; ++i) {
    backoff.Reset();
    const int64_t delay_ms = backoff.NextDelayMs().value();
    sum += static_cast<double>(delay_ms);
    if (delay_ms < kCapMs / 4) ++below_quarter;
    low_ms = std::min(low_ms, delay_ms);
    high_ms = std::max(high_ms, delay_ms);
  }
  // Uniform on [0, 1000]: mean 500, standard error of the mean ~0.9.
  EXPECT_NEAR(sum / kSamples, 500.0, 10.0);
  EXPECT_NEAR(static_cast<double>(below_quarter) / kSamples, 0.25, 0.01);
  EXPECT_EQ(low_ms, 0);
  EXPECT_EQ(high_ms, kCapMs);
}

TEST(BackoffTest, SameSeedSameDelays) {
  const Backoff::Options options{.attempts_max = 10};
  Backoff a(options, kSeed);
  Backoff b(options, kSeed);
  Backoff c(options, kSeed + 1);
  bool differs = false;
  for (int i = 0; i < 9; ++i) {
    const int64_t a_ms = a.NextDelayMs().value();
    EXPECT_EQ(a_ms, b.NextDelayMs().value());
    differs |= a_ms != c.NextDelayMs().value();
  }
  EXPECT_TRUE(differs);
}

TEST(BackoffTest, StopsAfterAttemptsMaxAndResets) {
  Backoff backoff({.attempts_max = 4}, kSeed);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(backoff.NextDelayMs().has_value()) << i;
  EXPECT_EQ(backoff.retries(), 3);
  EXPECT_EQ(backoff.NextDelayMs(), std::nullopt);
  EXPECT_EQ(backoff.NextDelayMs(), std::nullopt);
  backoff.Reset();
  EXPECT_EQ(backoff.retries(), 0);
  EXPECT_TRUE(backoff.NextDelayMs().has_value());
}

TEST(BackoffTest, SingleAttemptMeansNoRetries) {
  Backoff backoff({.attempts_max = 1}, kSeed);
  EXPECT_EQ(backoff.NextDelayMs(), std::nullopt);
}

TEST(BackoffTest, ValidateOptionsNamesTheField) {
  struct Case {
    Backoff::Options options;
    const char* field;
  };
  const Case cases[] = {
      {{.initial_ms = 0}, "initial_ms"},
      {{.initial_ms = 100, .max_ms = 99}, "max_ms"},
      {{.multiplier = 0.5}, "multiplier"},
      {{.attempts_max = 0}, "attempts_max"},
      {{.attempts_max = Backoff::kAttemptsMaxLimit + 1}, "attempts_max"},
  };
  for (const Case& c : cases) {
    const absl::Status status = Backoff::ValidateOptions(c.options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(status.message().find(c.field), std::string::npos) << status;
  }
  EXPECT_TRUE(Backoff::ValidateOptions({}).ok());
}

TEST(RetryTest, DefaultRetryableCodes) {
  EXPECT_TRUE(IsRetryableByDefault(absl::UnavailableError("")));
  EXPECT_TRUE(IsRetryableByDefault(absl::AbortedError("")));
  EXPECT_TRUE(IsRetryableByDefault(absl::DeadlineExceededError("")));
  EXPECT_FALSE(IsRetryableByDefault(absl::OkStatus()));
  EXPECT_FALSE(IsRetryableByDefault(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsRetryableByDefault(absl::FailedPreconditionError("")));
  EXPECT_FALSE(IsRetryableByDefault(absl::ResourceExhaustedError("")));
  EXPECT_FALSE(IsRetryableByDefault(absl::NotFoundError("")));
  EXPECT_FALSE(IsRetryableByDefault(absl::InternalError("")));
}

TEST(RetryTest, RetriesUntilSuccessSleepingTheBackoffDelays) {
  const Backoff::Options options{.initial_ms = 10, .max_ms = 100, .attempts_max = 5};
  Backoff backoff(options, kSeed);
  int calls = 0;
  std::vector<int64_t> slept_ms;
  const absl::Status status = RetryWithBackoff(
      [&calls]() { return ++calls < 3 ? absl::UnavailableError("down") : absl::OkStatus(); },
      backoff, [&slept_ms](int64_t delay_ms) { slept_ms.push_back(delay_ms); });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 3);
  Backoff expected(options, kSeed);
  ASSERT_EQ(slept_ms.size(), 2u);
  EXPECT_EQ(slept_ms[0], expected.NextDelayMs().value());
  EXPECT_EQ(slept_ms[1], expected.NextDelayMs().value());
}

TEST(RetryTest, StopsAfterAttemptsMaxReturningTheLastError) {
  Backoff backoff({.attempts_max = 4}, kSeed);
  int calls = 0;
  int sleeps = 0;
  const absl::Status status = RetryWithBackoff(
      [&calls]() { return absl::AbortedError("conflict " + std::to_string(++calls)); }, backoff,
      [&sleeps](int64_t) { ++sleeps; });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(status.message(), "conflict 4");
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(sleeps, 3);
}

TEST(RetryTest, ResetsTheBackoffForEachOperation) {
  Backoff backoff({.attempts_max = 3}, kSeed);
  for (int round = 0; round < 2; ++round) {
    int calls = 0;
    const absl::Status status = RetryWithBackoff(
        [&calls]() {
          ++calls;
          return absl::UnavailableError("down");
        },
        backoff, [](int64_t) {});
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(calls, 3) << "round " << round;
  }
}

TEST(RetryTest, NonRetryableErrorReturnsImmediately) {
  Backoff backoff({.attempts_max = 5}, kSeed);
  int calls = 0;
  int sleeps = 0;
  const absl::Status status = RetryWithBackoff(
      [&calls]() {
        ++calls;
        return absl::InvalidArgumentError("bad request");
      },
      backoff, [&sleeps](int64_t) { ++sleeps; });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sleeps, 0);
}

TEST(RetryTest, CustomRetryablePredicate) {
  Backoff backoff({.attempts_max = 3}, kSeed);
  int calls = 0;
  const absl::Status status = RetryWithBackoff(
      [&calls]() {
        ++calls;
        return absl::NotFoundError("not replicated yet");
      },
      backoff, [](int64_t) {}, [](const absl::Status& s) { return absl::IsNotFound(s); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace core

#include "core/resilience/token_bucket.h"

#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace core {
namespace {

TEST(TokenBucketTest, StartsFullAndAdmitsBurst) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/1, /*burst=*/5, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryAcquire()) << i;
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, RefillsAtRate) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/10, /*burst=*/2, &clock);
  ASSERT_TRUE(bucket.TryAcquire(2));
  clock.AdvanceMs(99);
  EXPECT_FALSE(bucket.TryAcquire());
  clock.AdvanceMs(1);
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, NeverHoldsMoreThanBurst) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/100, /*burst=*/3, &clock);
  clock.AdvanceMs(3'600'000);
  EXPECT_DOUBLE_EQ(bucket.AvailableTokens(), 3);
  EXPECT_TRUE(bucket.TryAcquire(3));
  EXPECT_FALSE(bucket.TryAcquire());
}

TEST(TokenBucketTest, FailedAcquireTakesNothing) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/1, /*burst=*/4, &clock);
  ASSERT_TRUE(bucket.TryAcquire(3));
  EXPECT_FALSE(bucket.TryAcquire(2));
  EXPECT_TRUE(bucket.TryAcquire(1));
}

TEST(TokenBucketTest, ZeroNegativeAndNanTokens) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/1, /*burst=*/1, &clock);
  ASSERT_TRUE(bucket.TryAcquire());
  EXPECT_TRUE(bucket.TryAcquire(0));
  EXPECT_FALSE(bucket.TryAcquire(-1));
  EXPECT_FALSE(bucket.TryAcquire(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_DOUBLE_EQ(bucket.AvailableTokens(), 0);
}

TEST(TokenBucketTest, RetryAfterMsIsExactForWholeMilliseconds) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/10, /*burst=*/1, &clock);
  EXPECT_EQ(bucket.RetryAfterMs(), 0);
  ASSERT_TRUE(bucket.TryAcquire());
  EXPECT_EQ(bucket.RetryAfterMs(), 100);
  clock.AdvanceMs(99);
  EXPECT_EQ(bucket.RetryAfterMs(), 1);
  EXPECT_FALSE(bucket.TryAcquire());
  clock.AdvanceMs(1);
  EXPECT_EQ(bucket.RetryAfterMs(), 0);
  EXPECT_TRUE(bucket.TryAcquire());
}

TEST(TokenBucketTest, WaitingRetryAfterMsAlwaysSucceeds) {
  // Rates that do not divide a second evenly, and fractional leftovers, exercise the rounding.
  for (double rate_per_s : {3.0, 7.0, 0.7, 1000.0 / 3}) {
    FakeClock clock;
    TokenBucket bucket(rate_per_s, /*burst=*/2, &clock);
    ASSERT_TRUE(bucket.TryAcquire(1.3));
    for (int i = 0; i < 50; ++i) {
      const int64_t wait_ms = bucket.RetryAfterMs(1.1);
      ASSERT_GE(wait_ms, 0);
      if (wait_ms > 0) {
        // Rounded up by less than a millisecond: one millisecond less is not enough.
        clock.AdvanceMs(wait_ms - 1);
        ASSERT_FALSE(bucket.TryAcquire(1.1)) << "rate " << rate_per_s << " round " << i;
        clock.AdvanceMs(1);
      }
      ASSERT_TRUE(bucket.TryAcquire(1.1)) << "rate " << rate_per_s << " round " << i;
    }
  }
}

TEST(TokenBucketTest, RetryAfterMsForMultipleTokens) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/4, /*burst=*/8, &clock);
  ASSERT_TRUE(bucket.TryAcquire(8));
  EXPECT_EQ(bucket.RetryAfterMs(2), 500);
  EXPECT_EQ(bucket.RetryAfterMs(8), 2000);
}

TEST(TokenBucketTest, RetryAfterMsNeverForMoreThanBurst) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/4, /*burst=*/8, &clock);
  EXPECT_EQ(bucket.RetryAfterMs(9), TokenBucket::kRetryNeverMs);
  EXPECT_FALSE(bucket.TryAcquire(9));
}

TEST(TokenBucketTest, RetryAfterMsIsCapped) {
  FakeClock clock;
  TokenBucket bucket(/*rate_per_s=*/1e-9, /*burst=*/1, &clock);
  ASSERT_TRUE(bucket.TryAcquire());
  EXPECT_EQ(bucket.RetryAfterMs(), TokenBucket::kRetryAfterMsMax);
}

TEST(TokenBucketTest, ValidateOptions) {
  EXPECT_TRUE(TokenBucket::ValidateOptions(1, 1).ok());
  EXPECT_EQ(TokenBucket::ValidateOptions(0, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::ValidateOptions(-1, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenBucket::ValidateOptions(std::numeric_limits<double>::infinity(), 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(TokenBucket::ValidateOptions(0, 1).message().find("rate_per_s"), std::string::npos);
  EXPECT_EQ(TokenBucket::ValidateOptions(1, 0.5).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(TokenBucket::ValidateOptions(1, 0.5).message().find("burst"), std::string::npos);
}

TEST(TokenBucketTest, ConcurrentAcquiresNeverOverAdmit) {
  FakeClock clock;  // Frozen: exactly `burst` acquires can succeed.
  constexpr int kBurst = 1000;
  constexpr int kThreads = 4;
  constexpr int kAttemptsPerThread = 600;
  TokenBucket bucket(/*rate_per_s=*/1, kBurst, &clock);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAttemptsPerThread; ++i) {
        if (bucket.TryAcquire()) admitted.fetch_add(1, std::memory_order_relaxed);
        (void)bucket.RetryAfterMs();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), kBurst);
}

}  // namespace
}  // namespace core

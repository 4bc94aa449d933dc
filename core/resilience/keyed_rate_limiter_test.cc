#include "core/resilience/keyed_rate_limiter.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace core {
namespace {

std::unique_ptr<KeyedRateLimiter> MakeLimiter(const KeyedRateLimiter::Options& options,
                                              Clock* clock) {
  auto limiter = KeyedRateLimiter::Create(options, clock);
  EXPECT_TRUE(limiter.ok()) << limiter.status();
  return std::move(limiter).value();
}

TEST(KeyedRateLimiterTest, KeysHaveIndependentBuckets) {
  FakeClock clock;
  auto limiter = MakeLimiter({.rate_per_s = 1, .burst = 2}, &clock);
  EXPECT_TRUE(limiter->TryAcquire("alice"));
  EXPECT_TRUE(limiter->TryAcquire("alice"));
  EXPECT_FALSE(limiter->TryAcquire("alice"));
  EXPECT_TRUE(limiter->TryAcquire("bob"));
  EXPECT_EQ(limiter->RetryAfterMs("alice"), 1000);
  EXPECT_EQ(limiter->RetryAfterMs("bob"), 0);
  clock.AdvanceMs(1000);
  EXPECT_TRUE(limiter->TryAcquire("alice"));
  EXPECT_FALSE(limiter->TryAcquire("alice"));
}

TEST(KeyedRateLimiterTest, RetryAfterMsForUnknownKeyDoesNotTrackIt) {
  FakeClock clock;
  auto limiter = MakeLimiter({.rate_per_s = 1, .burst = 2}, &clock);
  EXPECT_EQ(limiter->RetryAfterMs("nobody"), 0);
  EXPECT_EQ(limiter->RetryAfterMs("nobody", 3), TokenBucket::kRetryNeverMs);
  EXPECT_EQ(limiter->size(), 0u);
}

TEST(KeyedRateLimiterTest, KeyCountIsBounded) {
  FakeClock clock;
  auto limiter = MakeLimiter({.rate_per_s = 1, .burst = 5, .keys_max = 40, .shards = 4}, &clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter->TryAcquire(absl::StrCat("key-", i)));
  EXPECT_LE(limiter->size(), 40u);
  EXPECT_GE(limiter->evictions_premature(), 1000 - 40);
}

TEST(KeyedRateLimiterTest, EvictsLeastRecentlyUsedKeyWhenFull) {
  FakeClock clock;
  auto limiter = MakeLimiter({.rate_per_s = 1, .burst = 1, .keys_max = 3, .shards = 1}, &clock);
  ASSERT_TRUE(limiter->TryAcquire("a"));
  ASSERT_TRUE(limiter->TryAcquire("b"));
  ASSERT_TRUE(limiter->TryAcquire("c"));
  EXPECT_FALSE(limiter->TryAcquire("a"));  // Touches "a": "b" is now least recently used.
  ASSERT_TRUE(limiter->TryAcquire("d"));   // Evicts "b".
  EXPECT_EQ(limiter->size(), 3u);
  EXPECT_EQ(limiter->evictions_premature(), 1);
  EXPECT_FALSE(limiter->TryAcquire("a"));  // Still tracked, still empty.
  EXPECT_FALSE(limiter->TryAcquire("c"));
  EXPECT_TRUE(limiter->TryAcquire("b"));  // Forgotten, so it starts over with a full bucket.
}

TEST(KeyedRateLimiterTest, IdleKeysAreDroppedBeforeActiveOnes) {
  FakeClock clock;
  // A bucket is full again after burst / rate_per_s = 1 s idle.
  auto limiter = MakeLimiter({.rate_per_s = 1, .burst = 1, .keys_max = 2, .shards = 1}, &clock);
  ASSERT_TRUE(limiter->TryAcquire("idle"));
  clock.AdvanceMs(1000);
  ASSERT_TRUE(limiter->TryAcquire("active"));
  ASSERT_TRUE(limiter->TryAcquire("new"));  // "idle" is full again: dropping it loses nothing.
  EXPECT_EQ(limiter->evictions_premature(), 0);
  EXPECT_EQ(limiter->size(), 2u);
  EXPECT_FALSE(limiter->TryAcquire("active"));
}

TEST(KeyedRateLimiterTest, CreateRejectsBadOptions) {
  FakeClock clock;
  struct Case {
    KeyedRateLimiter::Options options;
    const char* field;
  };
  const Case cases[] = {
      {{.rate_per_s = 0}, "rate_per_s"},
      {{.burst = 0}, "burst"},
      {{.keys_max = 4, .shards = 8}, "keys_max"},
      {{.shards = 0}, "shards"},
      {{.shards = KeyedRateLimiter::kShardsMax + 1}, "shards"},
  };
  for (const Case& c : cases) {
    auto limiter = KeyedRateLimiter::Create(c.options, &clock);
    ASSERT_FALSE(limiter.ok()) << c.field;
    EXPECT_EQ(limiter.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(limiter.status().message().find(c.field), std::string::npos) << limiter.status();
  }
  EXPECT_EQ(KeyedRateLimiter::Create({}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KeyedRateLimiterTest, ConcurrentCallersNeverOverAdmit) {
  FakeClock clock;  // Frozen: each key admits exactly `burst`.
  constexpr int kKeys = 10;
  constexpr int kBurst = 50;
  constexpr int kThreads = 4;
  auto limiter = MakeLimiter({.rate_per_s = 1, .burst = kBurst}, &clock);
  std::vector<std::string> keys;
  for (int k = 0; k < kKeys; ++k) keys.push_back(absl::StrCat("tenant-", k));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kBurst; ++i) {
        for (const std::string& key : keys) {
          if (limiter->TryAcquire(key)) admitted.fetch_add(1, std::memory_order_relaxed);
        }
        (void)limiter->size();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), kKeys * kBurst);
  EXPECT_EQ(limiter->size(), static_cast<size_t>(kKeys));
}

}  // namespace
}  // namespace core

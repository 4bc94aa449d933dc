#include "core/resilience/weighted_split.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace core {
namespace {

constexpr int kSamples = 20'000;

WeightedSplit MakeSplit(std::vector<std::pair<std::string, uint32_t>> weights) {
  auto split = WeightedSplit::Create(std::move(weights));
  EXPECT_TRUE(split.ok()) << split.status();
  return std::move(split).value();
}

void ExpectInvalid(std::vector<std::pair<std::string, uint32_t>> weights, const char* message) {
  auto split = WeightedSplit::Create(std::move(weights));
  ASSERT_FALSE(split.ok()) << message;
  EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(split.status().message().find(message), std::string::npos) << split.status();
}

TEST(WeightedSplitTest, CreateRejectsBadWeights) {
  ExpectInvalid({}, "no targets");
  ExpectInvalid({{"1", 0}, {"2", 0}}, "all weights are zero");
  ExpectInvalid({{"1", 50}, {"2", 25}, {"1", 25}}, "duplicate target name \"1\"");
  ExpectInvalid({{"", 1}}, "empty target name");
  std::vector<std::pair<std::string, uint32_t>> too_many;
  for (size_t i = 0; i <= WeightedSplit::kTargetsMax; ++i)
    too_many.emplace_back(absl::StrCat(i), 1);
  ExpectInvalid(std::move(too_many), "targets, more than");
}

TEST(WeightedSplitTest, TargetsAreSortedByName) {
  const WeightedSplit split = MakeSplit({{"b", 1}, {"c", 0}, {"a", 2}});
  ASSERT_EQ(split.targets().size(), 3u);
  EXPECT_EQ(split.targets()[0].name, "a");
  EXPECT_EQ(split.targets()[1].name, "b");
  EXPECT_EQ(split.targets()[2].name, "c");
  EXPECT_EQ(split.total_weight(), 3u);
}

TEST(WeightedSplitTest, RandomPicksFollowWeights) {
  const WeightedSplit split = MakeSplit({{"1", 90}, {"2", 10}});
  std::mt19937_64 rng(12345);
  int ones = 0;
  for (int i = 0; i < kSamples; ++i) ones += split.Pick(rng()) == "1";
  EXPECT_NEAR(static_cast<double>(ones) / kSamples, 0.90, 0.02);
}

TEST(WeightedSplitTest, StickyKeysFollowWeights) {
  const WeightedSplit split = MakeSplit({{"1", 90}, {"2", 10}});
  int ones = 0;
  for (int i = 0; i < kSamples; ++i) ones += split.PickSticky(absl::StrCat("user-", i)) == "1";
  EXPECT_NEAR(static_cast<double>(ones) / kSamples, 0.90, 0.02);
}

TEST(WeightedSplitTest, SameKeyAlwaysSameTarget) {
  const WeightedSplit split = MakeSplit({{"1", 50}, {"2", 30}, {"3", 20}});
  // Same weights listed in another order: the layout is by sorted name, so nothing changes.
  const WeightedSplit reordered = MakeSplit({{"3", 20}, {"1", 50}, {"2", 30}});
  for (int i = 0; i < 1000; ++i) {
    const std::string key = absl::StrCat("session-", i);
    const std::string& target = split.PickSticky(key);
    EXPECT_EQ(split.PickSticky(key), target);
    EXPECT_EQ(reordered.PickSticky(key), target);
  }
}

TEST(WeightedSplitTest, ZeroWeightTargetIsNeverPicked) {
  const WeightedSplit split = MakeSplit({{"a", 0}, {"b", 5}, {"c", 0}, {"d", 5}, {"e", 0}});
  std::mt19937_64 rng(7);
  for (int i = 0; i < kSamples; ++i) {
    const std::string& target = split.Pick(rng());
    ASSERT_TRUE(target == "b" || target == "d") << target;
    const std::string& sticky = split.PickSticky(absl::StrCat("k", i));
    ASSERT_TRUE(sticky == "b" || sticky == "d") << sticky;
  }
  EXPECT_EQ(split.Pick(0), "b");
  EXPECT_EQ(split.Pick(std::numeric_limits<uint64_t>::max()), "d");
}

TEST(WeightedSplitTest, PickBoundaries) {
  const WeightedSplit split = MakeSplit({{"a", 1}, {"b", 1}});
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  EXPECT_EQ(split.Pick(0), "a");
  EXPECT_EQ(split.Pick(kHalf - 1), "a");
  EXPECT_EQ(split.Pick(kHalf), "b");
  EXPECT_EQ(split.Pick(std::numeric_limits<uint64_t>::max()), "b");
}

TEST(WeightedSplitTest, ShiftingWeightMovesOnlyTheShiftedSlice) {
  const WeightedSplit before = MakeSplit({{"1", 90}, {"2", 10}});
  const WeightedSplit after = MakeSplit({{"1", 80}, {"2", 20}});
  int moved = 0;
  for (int i = 0; i < kSamples; ++i) {
    const std::string key = absl::StrCat("user-", i);
    const std::string& from = before.PickSticky(key);
    const std::string& to = after.PickSticky(key);
    if (from != to) {
      ++moved;
      ASSERT_EQ(from, "1");  // Keys only move toward the target that gained weight.
      ASSERT_EQ(to, "2");
    }
  }
  EXPECT_NEAR(static_cast<double>(moved) / kSamples, 0.10, 0.02);
}

TEST(WeightedSplitTest, ScalingAllWeightsMovesNoKey) {
  const WeightedSplit before = MakeSplit({{"1", 90}, {"2", 10}});
  const WeightedSplit after = MakeSplit({{"1", 9}, {"2", 1}});
  for (int i = 0; i < kSamples; ++i) {
    const std::string key = absl::StrCat("user-", i);
    ASSERT_EQ(before.PickSticky(key), after.PickSticky(key)) << key;
  }
}

// The hash must never change: sticky assignments of every user depend on it. Expected values were
// computed by an independent implementation (Python) of FNV-1a 64 + fmix64; the FNV-1a part matches
// the published test vector FNV-1a64("a") = 0xaf63dc4c8601ec8c.
TEST(WeightedSplitTest, StableHashIsPinned) {
  EXPECT_EQ(WeightedSplit::StableHash64(""), 17280346270528514342u);
  EXPECT_EQ(WeightedSplit::StableHash64("a"), 9413272369427828315u);
  EXPECT_EQ(WeightedSplit::StableHash64("user-1"), 4729620347622785477u);
  EXPECT_EQ(WeightedSplit::StableHash64("user-2"), 12246603554355352635u);
}

}  // namespace
}  // namespace core

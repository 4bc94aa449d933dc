#include "bench/loadgen/histogram.h"

#include <gtest/gtest.h>

namespace loadgen {
namespace {

TEST(HistogramTest, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Quantile(0.5), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 50; ++v) h.Record(v);
  EXPECT_EQ(h.Quantile(0.5), 25u);
  EXPECT_EQ(h.Quantile(1.0), 50u);
  EXPECT_EQ(h.min(), 1u);
}

TEST(HistogramTest, BucketsRoundTripAndCoverEveryValue) {
  for (uint64_t v : {64ull, 65ull, 127ull, 128ull, 1000ull, 123456789ull, 1ull << 40}) {
    const int i = Histogram::BucketIndex(v);
    EXPECT_LE(Histogram::BucketLow(i), v) << v;
    EXPECT_GT(Histogram::BucketHigh(i), v) << v;
  }
  EXPECT_LT(Histogram::BucketIndex(UINT64_MAX), Histogram::kBucketCount);
}

TEST(HistogramTest, QuantilesWithinRelativeError) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms in ns
  const double p50 = static_cast<double>(h.Quantile(0.50));
  const double p99 = static_cast<double>(h.Quantile(0.99));
  EXPECT_NEAR(p50, 50e6, 50e6 / Histogram::kSubBuckets);
  EXPECT_NEAR(p99, 99e6, 99e6 / Histogram::kSubBuckets);
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  a.Record(10);
  b.Record(1000);
  b.Record(2000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 2000u);
}

}  // namespace
}  // namespace loadgen

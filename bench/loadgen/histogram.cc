#include "bench/loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace loadgen {

int Histogram::BucketIndex(uint64_t value) {
  if (value < kSubBuckets) return static_cast<int>(value);
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;
  const uint64_t sub = (value >> shift) & (kSubBuckets - 1);
  return static_cast<int>(kSubBuckets + shift * kSubBuckets + sub);
}

uint64_t Histogram::BucketLow(int index) {
  if (index < static_cast<int>(kSubBuckets)) return static_cast<uint64_t>(index);
  const int shift = (index - static_cast<int>(kSubBuckets)) / static_cast<int>(kSubBuckets);
  const uint64_t sub = static_cast<uint64_t>(index) % kSubBuckets;
  return (kSubBuckets + sub) << shift;
}

uint64_t Histogram::BucketHigh(int index) {
  if (index < static_cast<int>(kSubBuckets)) return static_cast<uint64_t>(index) + 1;
  const int shift = (index - static_cast<int>(kSubBuckets)) / static_cast<int>(kSubBuckets);
  return BucketLow(index) + (uint64_t{1} << shift);
}

void Histogram::Record(uint64_t value) {
  ++buckets_[BucketIndex(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::Reset() { *this = Histogram(); }

uint64_t Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Rank of the requested sample, 1-based: the smallest value with at least q of samples <= it.
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i) - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace loadgen

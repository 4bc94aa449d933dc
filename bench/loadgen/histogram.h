// Latency histogram with log-linear buckets (HDR-style): each power of two is split into
// kSubBuckets linear buckets, so every recorded value is reported within 1/kSubBuckets (~1.6%) of
// its true value. Fixed-size storage: Record() never allocates, so it is safe on the hot path.
//
// Thread safety: none. Use one histogram per thread and Merge() them at the end.
#pragma once

#include <array>
#include <cstdint>

namespace loadgen {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 6;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  // Values below kSubBuckets get one bucket each; every further power of two gets kSubBuckets.
  static constexpr int kBucketCount = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;

  void Record(uint64_t value);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // Value at quantile q in [0, 1] (the midpoint of the bucket holding it); 0 when empty.
  uint64_t Quantile(double q) const;

  static int BucketIndex(uint64_t value);
  static uint64_t BucketLow(int index);
  static uint64_t BucketHigh(int index);  // exclusive

 private:
  std::array<uint64_t, kBucketCount> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace loadgen

#pragma once
// WeightedSplit: picks one of several named targets in proportion to integer weights, e.g. a canary
// rollout sending 10% of traffic to model version "2":
//
//   ASSIGN_OR_RETURN(WeightedSplit split, WeightedSplit::Create({{"1", 90}, {"2", 10}}));
//   const std::string& version = split.PickSticky(user_id);   // same user -> same version
//   const std::string& version = split.Pick(rng());            // anonymous traffic
//
// Targets are laid out on [0, total_weight) as consecutive ranges in sorted name order. A 64-bit
// value (random, or the stable hash of a sticky key) is scaled to a point in that space by its
// fraction of 2^64, so the mapping depends only on the weights' proportions. Moving weight between
// two adjacent targets (e.g. 90/10 -> 80/20) moves only the keys in the shifted slice; scaling all
// weights alike (90/10 -> 9/1) moves none.
//
// PickSticky uses StableHash64 (FNV-1a 64 with the MurmurHash3 fmix64 finalizer), which is fixed
// forever: it is the same in every process, run, build and platform. Changing it would move sticky
// users between targets, so the test pins its output. (absl::Hash and std::hash are per-process
// randomized or unspecified, so they must not be used here.)
//
// Thread safety: immutable after Create; all const methods may be called from any thread. Returned
// references point into this object and live as long as it does.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace core {

class WeightedSplit {
 public:
  static constexpr size_t kTargetsMax = 1024;

  struct Target {
    std::string name;
    uint32_t weight = 0;
  };

  // Rejects (InvalidArgument): no targets, more than kTargetsMax, an empty or duplicate name, or
  // all weights zero. Zero-weight targets are allowed and are never picked.
  static absl::StatusOr<WeightedSplit> Create(
      std::vector<std::pair<std::string, uint32_t>> weights);

  // The target whose range holds `random`'s point; `random` should be uniform over uint64_t.
  const std::string& Pick(uint64_t random) const;
  // The target for `key`; the same key maps to the same target for the same weights, everywhere.
  const std::string& PickSticky(std::string_view key) const { return Pick(StableHash64(key)); }

  // Targets sorted by name, zero-weight ones included.
  const std::vector<Target>& targets() const { return targets_; }
  uint64_t total_weight() const { return total_weight_; }

  static uint64_t StableHash64(std::string_view key);

 private:
  WeightedSplit(std::vector<Target> targets, std::vector<uint64_t> range_ends);

  std::vector<Target> targets_;       // Sorted by name.
  std::vector<uint64_t> range_ends_;  // range_ends_[i]: exclusive end of target i's range.
  uint64_t total_weight_ = 0;
};

}  // namespace core

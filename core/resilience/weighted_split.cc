#include "core/resilience/weighted_split.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/log/check.h"

namespace core {

absl::StatusOr<WeightedSplit> WeightedSplit::Create(
    std::vector<std::pair<std::string, uint32_t>> weights) {
  if (weights.empty()) return absl::InvalidArgumentError("weighted split: no targets");
  if (weights.size() > kTargetsMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("weighted split: ", weights.size(), " targets, more than ", kTargetsMax));
  }
  std::vector<Target> targets;
  targets.reserve(weights.size());
  for (auto& [name, weight] : weights) {
    if (name.empty()) return absl::InvalidArgumentError("weighted split: empty target name");
    targets.push_back(Target{std::move(name), weight});
  }
  std::sort(targets.begin(), targets.end(),
            [](const Target& a, const Target& b) { return a.name < b.name; });
  std::vector<uint64_t> range_ends;
  range_ends.reserve(targets.size());
  uint64_t total = 0;  // <= kTargetsMax * 2^32: cannot overflow.
  for (size_t i = 0; i < targets.size(); ++i) {
    if (i > 0 && targets[i].name == targets[i - 1].name) {
      return absl::InvalidArgumentError(
          absl::StrCat("weighted split: duplicate target name \"", targets[i].name, "\""));
    }
    total += targets[i].weight;
    range_ends.push_back(total);
  }
  if (total == 0) return absl::InvalidArgumentError("weighted split: all weights are zero");
  return WeightedSplit(std::move(targets), std::move(range_ends));
}

WeightedSplit::WeightedSplit(std::vector<Target> targets, std::vector<uint64_t> range_ends)
    : targets_(std::move(targets)),
      range_ends_(std::move(range_ends)),
      total_weight_(range_ends_.back()) {}

const std::string& WeightedSplit::Pick(uint64_t random) const {
  // point = floor(random / 2^64 * total): uses the high bits and is exactly proportional.
  const uint64_t point =
      static_cast<uint64_t>((static_cast<unsigned __int128>(random) * total_weight_) >> 64);
  // The first range whose end is past the point. A zero-weight target's range is empty (its end
  // equals its predecessor's), so it is never the first such range.
  const auto it = std::upper_bound(range_ends_.begin(), range_ends_.end(), point);
  CORE_CHECK(it != range_ends_.end());
  return targets_[static_cast<size_t>(it - range_ends_.begin())].name;
}

uint64_t WeightedSplit::StableHash64(std::string_view key) {
  // FNV-1a 64: offset basis and prime from the FNV specification.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : key) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  // fmix64 from MurmurHash3: FNV-1a's high bits mix poorly for keys differing only at the end
  // ("user-1", "user-2"), and Pick() uses the high bits.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace core

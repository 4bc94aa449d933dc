#pragma once
// RoutingTable: which model version serves a request that does not pin one.
//
// Routing file (YAML), every model optional:
//
//   models:
//     mlp:
//       versions: {"1": 90, "2": 10}   # weights (integers >= 0, at least one > 0)
//
// A request for a model listed here gets a version by weighted split (core::WeightedSplit): sticky
// on the user id when one is given (one user always sees one version for the same weights), random
// otherwise. A model that is not listed is forwarded without a version (the worker serves its
// latest).
//
// Validation is strict (unknown keys, non-numeric version names, negative or all-zero weights are
// InvalidArgument naming the file and key), so a typo never silently changes traffic.
//
// Thread safety: immutable after Create; every method may be called from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/resilience/weighted_split.h"

namespace inference::gateway {

inline constexpr size_t kRoutedModelsMax = 1024;
inline constexpr int64_t kVersionWeightMax = 1'000'000;

class RoutingTable {
 public:
  // Parses routing YAML text; `source_name` appears in error messages.
  static absl::StatusOr<std::shared_ptr<const RoutingTable>> Parse(std::string_view yaml,
                                                                   std::string_view source_name);
  static absl::StatusOr<std::shared_ptr<const RoutingTable>> LoadFile(const std::string& path);
  // A table that routes nothing (every model goes to its latest version).
  static std::shared_ptr<const RoutingTable> Empty();

  // The version for `model`: nullopt when the model has no split. `user_id` empty means anonymous
  // (then `random` decides). The returned view lives as long as this table.
  std::optional<std::string_view> Resolve(std::string_view model, std::string_view user_id,
                                          uint64_t random) const;

  bool HasModel(std::string_view model) const {
    return splits_.contains(absl::string_view(model.data(), model.size()));
  }
  size_t model_count() const { return splits_.size(); }
  // {"models":{"mlp":{"versions":{"1":90,"2":10}}}}
  std::string ToJson() const;

 private:
  RoutingTable() = default;
  absl::flat_hash_map<std::string, core::WeightedSplit> splits_;
};

}  // namespace inference::gateway

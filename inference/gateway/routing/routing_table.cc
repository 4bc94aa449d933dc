#include "inference/gateway/routing/routing_table.h"

#include <algorithm>
#include <fstream>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/http/json.h"
#include "core/status/status_macros.h"
#include "fmt/format.h"

namespace inference::gateway {
namespace {

bool IsVersionName(std::string_view v) {
  return !v.empty() && v.size() <= 18 &&
         std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RoutingTable>> RoutingTable::Parse(
    std::string_view yaml, std::string_view source_name) {
  ASSIGN_OR_RETURN(core::ConfigNode root, core::ParseYaml(yaml, source_name));
  ASSIGN_OR_RETURN(core::ConfigNode models, root.Child("models"));
  auto table = std::shared_ptr<RoutingTable>(new RoutingTable());
  const std::vector<std::string> names = models.Keys();
  if (names.size() > kRoutedModelsMax) {
    return root.Error("models", fmt::format("at most {} models", kRoutedModelsMax));
  }
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(core::ConfigNode model, models.Child(name));
    ASSIGN_OR_RETURN(core::ConfigNode versions, model.Child("versions"));
    std::vector<std::pair<std::string, uint32_t>> weights;
    for (const std::string& v : versions.Keys()) {
      if (!IsVersionName(v)) {
        return versions.Error(v, "a version name must be a positive integer, e.g. \"2\"");
      }
      ASSIGN_OR_RETURN(int64_t w, versions.GetRequiredInt(v, 0, kVersionWeightMax));
      weights.emplace_back(v, static_cast<uint32_t>(w));
    }
    if (weights.empty()) return model.Error("versions", "at least one version with a weight");
    absl::StatusOr<core::WeightedSplit> split = core::WeightedSplit::Create(std::move(weights));
    if (!split.ok()) {
      return model.Error("versions", std::string(split.status().message()));
    }
    table->splits_.emplace(name, *std::move(split));
  }
  RETURN_IF_ERROR(root.CheckNoUnknownKeys());
  return std::shared_ptr<const RoutingTable>(std::move(table));
}

absl::StatusOr<std::shared_ptr<const RoutingTable>> RoutingTable::LoadFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > core::kConfigFileBytesMax) {
      return absl::InvalidArgumentError(
          fmt::format("{}: larger than {} bytes", path, core::kConfigFileBytesMax));
    }
  }
  return Parse(text, path);
}

std::shared_ptr<const RoutingTable> RoutingTable::Empty() {
  return std::shared_ptr<const RoutingTable>(new RoutingTable());
}

std::optional<std::string_view> RoutingTable::Resolve(std::string_view model,
                                                      std::string_view user_id,
                                                      uint64_t random) const {
  auto it = splits_.find(absl::string_view(model.data(), model.size()));
  if (it == splits_.end()) return std::nullopt;
  const std::string& v = user_id.empty() ? it->second.Pick(random) : it->second.PickSticky(user_id);
  return std::string_view(v);
}

std::string RoutingTable::ToJson() const {
  std::vector<const std::string*> names;
  for (const auto& [name, split] : splits_) names.push_back(&name);
  std::sort(names.begin(), names.end(), [](auto* a, auto* b) { return *a < *b; });
  std::string out = "{\"models\":{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back(',');
    core::http::AppendJsonString(&out, *names[i]);
    out.append(":{\"versions\":{");
    const auto& targets = splits_.at(*names[i]).targets();
    for (size_t t = 0; t < targets.size(); ++t) {
      if (t) out.push_back(',');
      core::http::AppendJsonString(&out, targets[t].name);
      out.append(fmt::format(":{}", targets[t].weight));
    }
    out.append("}}");
  }
  out.append("}}");
  return out;
}

}  // namespace inference::gateway

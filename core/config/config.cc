#include "core/config/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace core {
namespace config_internal {

struct Value {
  enum class Kind { kNull, kScalar, kMap, kList };
  Kind kind = Kind::kNull;
  std::string scalar;
  std::vector<std::string> keys;  // kMap: keys[i] names values[i], in file order.
  std::vector<Value> values;      // kMap values or kList items.
  int line = 0;                   // 1-based; 0 when unknown.
};

struct Document {
  std::string source;
  Value root;
  // Dotted paths of every key a getter asked for. Mutable through const ConfigNodes by design.
  std::set<std::string, std::less<>> known_paths;
};

}  // namespace config_internal

using config_internal::Document;
using config_internal::Value;

namespace {

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string path(parent);
  path.push_back('.');
  path.append(key);
  return path;
}

std::string Located(std::string_view source, std::string_view path, std::string_view problem) {
  if (path.empty()) return fmt::format("{}: {}", source, problem);
  return fmt::format("{}: {}: {}", source, path, problem);
}

std::string Describe(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kNull:
      return "nothing";
    case Value::Kind::kScalar:
      return fmt::format("'{}'", value.scalar);
    case Value::Kind::kMap:
      return "a map";
    case Value::Kind::kList:
      return "a list";
  }
  return "";
}

std::string Join(absl::Span<const std::string_view> items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.append(", ");
    out.append(items[i]);
  }
  return out;
}

bool LooksNumeric(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
  });
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Converts yaml-cpp's tree into ours (may throw: called only inside ParseYaml's try block).
class Converter {
 public:
  explicit Converter(const std::string& source) : source_(source) {}

  absl::Status Convert(const YAML::Node& node, const std::string& path, int depth, Value* out) {
    if (++nodes_ > kConfigNodesMax) {
      return absl::InvalidArgumentError(
          Located(source_, "",
                  fmt::format("more than {} nodes (anchors and aliases count "
                              "once per use)",
                              kConfigNodesMax)));
    }
    if (depth > kConfigNestingDepthMax) {
      return absl::InvalidArgumentError(Located(
          source_, path, fmt::format("nested deeper than {} levels", kConfigNestingDepthMax)));
    }
    out->line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out->kind = Value::Kind::kNull;
        return absl::OkStatus();
      case YAML::NodeType::Scalar:
        out->kind = Value::Kind::kScalar;
        out->scalar = node.Scalar();
        return absl::OkStatus();
      case YAML::NodeType::Sequence: {
        out->kind = Value::Kind::kList;
        out->values.resize(node.size());
        size_t i = 0;
        for (const YAML::Node& item : node) {
          const absl::Status status =
              Convert(item, fmt::format("{}[{}]", path, i), depth + 1, &out->values[i]);
          if (!status.ok()) return status;
          ++i;
        }
        return absl::OkStatus();
      }
      case YAML::NodeType::Map: {
        out->kind = Value::Kind::kMap;
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return absl::InvalidArgumentError(
                Located(source_, path,
                        fmt::format("line {}: map keys must be plain strings",
                                    entry.first.Mark().line + 1)));
          }
          const std::string& key = entry.first.Scalar();
          const std::string child_path = JoinPath(path, key);
          const auto previous = std::find(out->keys.begin(), out->keys.end(), key);
          if (previous != out->keys.end()) {
            return absl::InvalidArgumentError(Located(
                source_, child_path,
                fmt::format("duplicate key (lines {} and {})",
                            out->values[static_cast<size_t>(previous - out->keys.begin())].line,
                            entry.first.Mark().line + 1)));
          }
          out->keys.push_back(key);
          out->values.emplace_back();
          const absl::Status status =
              Convert(entry.second, child_path, depth + 1, &out->values.back());
          if (!status.ok()) return status;
          if (out->values.back().line == 0) out->values.back().line = entry.first.Mark().line + 1;
        }
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string& source_;
  size_t nodes_ = 0;
};

}  // namespace

// --- Parsing ------------------------------------------------------------------------------------

absl::StatusOr<ConfigNode> ParseYaml(std::string_view text, std::string_view source_name) {
  auto document = std::make_shared<Document>();
  document->source = std::string(source_name);
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    Converter converter(document->source);
    const absl::Status status = converter.Convert(root, "", 0, &document->root);
    if (!status.ok()) return status;
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(fmt::format("{}: line {}, column {}: invalid YAML: {}",
                                                  source_name, e.mark.line + 1, e.mark.column + 1,
                                                  e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: invalid YAML: {}", source_name, e.what()));
  } catch (...) {
    return absl::InternalError(fmt::format("{}: unknown exception from yaml-cpp", source_name));
  }
  const Value& root = document->root;
  if (root.kind == Value::Kind::kNull) {
    document->root.kind = Value::Kind::kMap;  // An empty file: every default applies.
  } else if (root.kind != Value::Kind::kMap) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: expected a map of settings at the top level, got {}", source_name, Describe(root)));
  }
  const Value* root_value = &document->root;
  return ConfigNode(std::move(document), root_value, "");
}

absl::StatusOr<ConfigNode> LoadYamlFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    const std::string message = fmt::format("{}: cannot open: {}", path, std::strerror(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::InvalidArgumentError(message);
  }
  std::string text;
  char buffer[65536];
  size_t n;
  bool too_large = false;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    if (text.size() + n > kConfigFileBytesMax) {
      too_large = true;
      break;
    }
    text.append(buffer, n);
  }
  const bool read_error = std::ferror(file) != 0;
  std::fclose(file);
  if (too_large) {
    return absl::InvalidArgumentError(
        fmt::format("{}: larger than {} bytes", path, kConfigFileBytesMax));
  }
  if (read_error) return absl::InvalidArgumentError(fmt::format("{}: read error", path));
  return ParseYaml(text, path);
}

// --- ConfigNode ---------------------------------------------------------------------------------

ConfigNode::ConfigNode(std::shared_ptr<Document> document, const Value* value, std::string path)
    : document_(std::move(document)), value_(value), path_(std::move(path)) {}

const std::string& ConfigNode::source() const { return document_->source; }

std::string ConfigNode::KeyPath(std::string_view key) const { return JoinPath(path_, key); }

absl::Status ConfigNode::Error(std::string_view key, std::string_view problem) const {
  return absl::InvalidArgumentError(Located(document_->source, KeyPath(key), problem));
}

const Value* ConfigNode::Find(std::string_view key) const {
  document_->known_paths.insert(KeyPath(key));
  if (value_ == nullptr || value_->kind != Value::Kind::kMap) return nullptr;
  for (size_t i = 0; i < value_->keys.size(); ++i) {
    if (value_->keys[i] == key) {
      const Value* found = &value_->values[i];
      return found->kind == Value::Kind::kNull ? nullptr : found;
    }
  }
  return nullptr;
}

bool ConfigNode::Has(std::string_view key) const { return Find(key) != nullptr; }

std::vector<std::string> ConfigNode::Keys() const {
  if (value_ == nullptr || value_->kind != Value::Kind::kMap) return {};
  return value_->keys;
}

absl::StatusOr<std::optional<bool>> ConfigNode::FindBool(std::string_view key) const {
  const Value* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->kind == Value::Kind::kScalar) {
    std::string lower = value->scalar;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "true") return true;
    if (lower == "false") return false;
  }
  return Error(key, fmt::format("expected true or false, got {}", Describe(*value)));
}

absl::StatusOr<std::optional<int64_t>> ConfigNode::FindInt(std::string_view key, int64_t min,
                                                           int64_t max) const {
  const Value* value = Find(key);
  if (value == nullptr) return std::nullopt;
  const bool ranged =
      min != std::numeric_limits<int64_t>::min() || max != std::numeric_limits<int64_t>::max();
  const std::string expected =
      ranged ? fmt::format("expected an integer in [{}, {}]", min, max) : "expected an integer";
  int64_t parsed = 0;
  if (value->kind == Value::Kind::kScalar && absl::SimpleAtoi(value->scalar, &parsed)) {
    if (parsed >= min && parsed <= max) return parsed;
    return Error(key, fmt::format("{}, got {}", expected, value->scalar));
  }
  if (value->kind == Value::Kind::kScalar && LooksNumeric(value->scalar)) {
    return Error(key, fmt::format("{}, got {}", expected, value->scalar));  // 1.5, 1e99, ...
  }
  return Error(key, fmt::format("{}, got {}", expected, Describe(*value)));
}

absl::StatusOr<std::optional<double>> ConfigNode::FindDouble(std::string_view key, double min,
                                                             double max) const {
  const Value* value = Find(key);
  if (value == nullptr) return std::nullopt;
  const bool ranged = std::isfinite(min) || std::isfinite(max);
  const std::string expected =
      ranged ? fmt::format("expected a number in [{}, {}]", min, max) : "expected a number";
  double parsed = 0;
  if (value->kind == Value::Kind::kScalar && LooksNumeric(value->scalar) &&
      absl::SimpleAtod(value->scalar, &parsed) && std::isfinite(parsed)) {
    if (parsed >= min && parsed <= max) return parsed;
    return Error(key, fmt::format("{}, got {}", expected, value->scalar));
  }
  return Error(key, fmt::format("{}, got {}", expected, Describe(*value)));
}

absl::StatusOr<std::optional<std::string>> ConfigNode::FindString(std::string_view key) const {
  const Value* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->kind == Value::Kind::kScalar) return value->scalar;
  return Error(key, fmt::format("expected a string, got {}", Describe(*value)));
}

absl::StatusOr<std::optional<std::string>> ConfigNode::FindEnum(
    std::string_view key, absl::Span<const std::string_view> allowed) const {
  const Value* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->kind == Value::Kind::kScalar &&
      std::find(allowed.begin(), allowed.end(), value->scalar) != allowed.end()) {
    return value->scalar;
  }
  return Error(key, fmt::format("expected one of [{}], got {}", Join(allowed), Describe(*value)));
}

absl::StatusOr<std::optional<std::vector<std::string>>> ConfigNode::FindStringList(
    std::string_view key) const {
  const Value* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (value->kind != Value::Kind::kList) {
    return Error(key, fmt::format("expected a list of strings, got {}", Describe(*value)));
  }
  std::vector<std::string> items;
  items.reserve(value->values.size());
  for (size_t i = 0; i < value->values.size(); ++i) {
    const Value& item = value->values[i];
    if (item.kind != Value::Kind::kScalar) {
      return absl::InvalidArgumentError(
          Located(document_->source, fmt::format("{}[{}]", KeyPath(key), i),
                  fmt::format("expected a string, got {}", Describe(item))));
    }
    items.push_back(item.scalar);
  }
  return items;
}

namespace {

// Turns "found or not" into a value: the default, or the required-key error.
template <typename T>
absl::StatusOr<T> OrDefault(absl::StatusOr<std::optional<T>> found, T default_value) {
  if (!found.ok()) return found.status();
  if (!found->has_value()) return default_value;
  return std::move(**found);
}

}  // namespace

#define CORE_CONFIG_REQUIRED_(find_call)                                 \
  auto found = (find_call);                                              \
  if (!found.ok()) return found.status();                                \
  if (!found->has_value()) return Error(key, "required key is missing"); \
  return std::move(**found)

absl::StatusOr<bool> ConfigNode::GetBool(std::string_view key, bool default_value) const {
  return OrDefault(FindBool(key), default_value);
}
absl::StatusOr<int64_t> ConfigNode::GetInt(std::string_view key, int64_t default_value, int64_t min,
                                           int64_t max) const {
  return OrDefault(FindInt(key, min, max), default_value);
}
absl::StatusOr<double> ConfigNode::GetDouble(std::string_view key, double default_value, double min,
                                             double max) const {
  return OrDefault(FindDouble(key, min, max), default_value);
}
absl::StatusOr<std::string> ConfigNode::GetString(std::string_view key,
                                                  std::string_view default_value) const {
  return OrDefault(FindString(key), std::string(default_value));
}
absl::StatusOr<std::string> ConfigNode::GetEnum(std::string_view key,
                                                std::string_view default_value,
                                                absl::Span<const std::string_view> allowed) const {
  return OrDefault(FindEnum(key, allowed), std::string(default_value));
}
absl::StatusOr<std::vector<std::string>> ConfigNode::GetStringList(
    std::string_view key, std::vector<std::string> default_value) const {
  return OrDefault(FindStringList(key), std::move(default_value));
}

absl::StatusOr<bool> ConfigNode::GetRequiredBool(std::string_view key) const {
  CORE_CONFIG_REQUIRED_(FindBool(key));
}
absl::StatusOr<int64_t> ConfigNode::GetRequiredInt(std::string_view key, int64_t min,
                                                   int64_t max) const {
  CORE_CONFIG_REQUIRED_(FindInt(key, min, max));
}
absl::StatusOr<double> ConfigNode::GetRequiredDouble(std::string_view key, double min,
                                                     double max) const {
  CORE_CONFIG_REQUIRED_(FindDouble(key, min, max));
}
absl::StatusOr<std::string> ConfigNode::GetRequiredString(std::string_view key) const {
  CORE_CONFIG_REQUIRED_(FindString(key));
}
absl::StatusOr<std::string> ConfigNode::GetRequiredEnum(
    std::string_view key, absl::Span<const std::string_view> allowed) const {
  CORE_CONFIG_REQUIRED_(FindEnum(key, allowed));
}
absl::StatusOr<std::vector<std::string>> ConfigNode::GetRequiredStringList(
    std::string_view key) const {
  CORE_CONFIG_REQUIRED_(FindStringList(key));
}

#undef CORE_CONFIG_REQUIRED_

absl::StatusOr<ConfigNode> ConfigNode::Child(std::string_view key) const {
  const Value* value = Find(key);
  if (value != nullptr && value->kind != Value::Kind::kMap) {
    return Error(key, fmt::format("expected a map, got {}", Describe(*value)));
  }
  return ConfigNode(document_, value, KeyPath(key));
}

absl::StatusOr<std::vector<ConfigNode>> ConfigNode::ChildList(std::string_view key) const {
  const Value* value = Find(key);
  std::vector<ConfigNode> children;
  if (value == nullptr) return children;
  if (value->kind != Value::Kind::kList) {
    return Error(key, fmt::format("expected a list of maps, got {}", Describe(*value)));
  }
  for (size_t i = 0; i < value->values.size(); ++i) {
    const Value& item = value->values[i];
    const std::string item_path = fmt::format("{}[{}]", KeyPath(key), i);
    if (item.kind != Value::Kind::kMap) {
      return absl::InvalidArgumentError(Located(
          document_->source, item_path, fmt::format("expected a map, got {}", Describe(item))));
    }
    children.push_back(ConfigNode(document_, &item, item_path));
  }
  return children;
}

absl::Status ConfigNode::CheckNoUnknownKeys() const {
  if (value_ == nullptr) return absl::OkStatus();
  const auto& known = document_->known_paths;
  std::vector<std::string> problems;
  size_t unknown_count = 0;

  // Suggests the known sibling closest to `key` (at most 2 edits away), if any.
  const auto suggestion = [&](std::string_view parent, std::string_view key) -> std::string {
    const std::string prefix = parent.empty() ? "" : std::string(parent) + ".";
    std::string best;
    size_t best_distance = std::min<size_t>(3, key.size());
    for (auto it = known.lower_bound(prefix); it != known.end(); ++it) {
      const std::string_view path = *it;
      if (path.substr(0, prefix.size()) != prefix) break;
      const std::string_view sibling = path.substr(prefix.size());
      if (sibling.find_first_of(".[") != std::string_view::npos) continue;
      const size_t distance = EditDistance(key, sibling);
      if (distance < best_distance) {
        best_distance = distance;
        best = std::string(sibling);
      }
    }
    return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
  };

  // Depth is bounded by kConfigNestingDepthMax at parse time.
  const auto walk = [&](const auto& self, const Value& value, const std::string& path) -> void {
    if (value.kind == Value::Kind::kMap) {
      for (size_t i = 0; i < value.keys.size(); ++i) {
        const std::string child_path = JoinPath(path, value.keys[i]);
        if (known.find(child_path) == known.end()) {
          if (++unknown_count <= kUnknownKeysReportedMax) {
            problems.push_back(Located(document_->source, child_path,
                                       "unknown key" + suggestion(path, value.keys[i])));
          }
        } else {
          self(self, value.values[i], child_path);
        }
      }
    } else if (value.kind == Value::Kind::kList) {
      for (size_t i = 0; i < value.values.size(); ++i) {
        self(self, value.values[i], fmt::format("{}[{}]", path, i));
      }
    }
  };
  walk(walk, *value_, path_);

  if (problems.empty()) return absl::OkStatus();
  std::string message;
  for (const std::string& problem : problems) {
    if (!message.empty()) message.append("; ");
    message.append(problem);
  }
  if (unknown_count > problems.size()) {
    message.append(fmt::format("; and {} more unknown keys", unknown_count - problems.size()));
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace core

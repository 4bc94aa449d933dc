#pragma once
// Typed, validating access to a YAML configuration file.
//
//   ASSIGN_OR_RETURN(core::ConfigNode root, core::LoadYamlFile(path));
//   ASSIGN_OR_RETURN(core::ConfigNode http, root.Child("server"));         // missing: all defaults
//   ASSIGN_OR_RETURN(int64_t port, http.GetInt("port", 8080, 1, 65535));
//   ASSIGN_OR_RETURN(std::string fsync, root.GetEnum("journal_fsync", "batch", {"always", "batch",
//   "none"})); RETURN_IF_ERROR(root.CheckNoUnknownKeys());                            // after
//   every Get
//
// Every error is an absl::InvalidArgumentError (fix the file) whose message names the file, the
// dotted key and the problem, e.g.
//   stockd.yaml: server.port: expected an integer in [1, 65535], got 70000
//   stockd.yaml: journal.fsync: expected one of [always, batch, none], got 'sometimes'
//   stockd.yaml: server.htpp: unknown key (did you mean 'http'?)
//   stockd.yaml: line 3, column 9: invalid YAML: end of map flow not found
// except a file that cannot be read at all, which is NotFound / PermissionDenied from the OS error.
//
// Unknown keys. Every key a getter asks for (present or not) is recorded as known;
// CheckNoUnknownKeys() then reports every key in the file (under this node) that no getter asked
// for, so a typo never silently falls back to a default. Call it last, on the root.
//
// A key with an empty value (`port:` or `port: ~`) counts as absent: the default applies.
// Booleans are exactly true/false (any case), not YAML 1.1's yes/no/on/off. Duplicate keys are an
// error (yaml-cpp would silently keep one).
//
// yaml-cpp reports errors by throwing; ParseYaml() catches everything at this boundary. Once
// parsed, the document is our own tree, so no accessor can throw.
//
// Thread safety: a ConfigNode and all nodes derived from the same document share the record of
// known keys without locking: use them from one thread (start-up), then copy the values out.

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace core {

inline constexpr size_t kConfigFileBytesMax = 16 << 20;
// Bounds on the parsed tree, so that anchors and aliases ("billion laughs") cannot blow it up.
inline constexpr size_t kConfigNodesMax = 1'000'000;
inline constexpr int kConfigNestingDepthMax = 64;
// CheckNoUnknownKeys() lists at most this many keys in its message.
inline constexpr size_t kUnknownKeysReportedMax = 20;

namespace config_internal {
struct Document;
struct Value;
}  // namespace config_internal

class ConfigNode {
 public:
  // Source name (as given to ParseYaml / the path given to LoadYamlFile).
  const std::string& source() const;
  // Dotted path of this node from the root ("" for the root, "models[2]" inside lists).
  const std::string& path() const { return path_; }

  // Whether `key` is present with a non-empty value. Marks the key as known.
  bool Has(std::string_view key) const;
  // The keys present in this map, in file order (for maps keyed by user data, e.g. model names).
  // Does not mark them as known: Child(key) does.
  std::vector<std::string> Keys() const;

  absl::StatusOr<bool> GetBool(std::string_view key, bool default_value) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key, int64_t default_value,
                                 int64_t min = std::numeric_limits<int64_t>::min(),
                                 int64_t max = std::numeric_limits<int64_t>::max()) const;
  absl::StatusOr<double> GetDouble(std::string_view key, double default_value,
                                   double min = -std::numeric_limits<double>::infinity(),
                                   double max = std::numeric_limits<double>::infinity()) const;
  absl::StatusOr<std::string> GetString(std::string_view key, std::string_view default_value) const;
  // A string that must be one of `allowed`.
  absl::StatusOr<std::string> GetEnum(std::string_view key, std::string_view default_value,
                                      absl::Span<const std::string_view> allowed) const;
  absl::StatusOr<std::vector<std::string>> GetStringList(
      std::string_view key, std::vector<std::string> default_value) const;

  // As above, but a missing key is an error ("required key is missing").
  absl::StatusOr<bool> GetRequiredBool(std::string_view key) const;
  absl::StatusOr<int64_t> GetRequiredInt(std::string_view key,
                                         int64_t min = std::numeric_limits<int64_t>::min(),
                                         int64_t max = std::numeric_limits<int64_t>::max()) const;
  absl::StatusOr<double> GetRequiredDouble(
      std::string_view key, double min = -std::numeric_limits<double>::infinity(),
      double max = std::numeric_limits<double>::infinity()) const;
  absl::StatusOr<std::string> GetRequiredString(std::string_view key) const;
  absl::StatusOr<std::string> GetRequiredEnum(std::string_view key,
                                              absl::Span<const std::string_view> allowed) const;
  absl::StatusOr<std::vector<std::string>> GetRequiredStringList(std::string_view key) const;

  // Typed shorthands: T is bool, int, int64_t, double, std::string or std::vector<std::string>.
  template <typename T>
  absl::StatusOr<T> Get(std::string_view key, const T& default_value) const;
  template <typename T>
  absl::StatusOr<T> GetRequired(std::string_view key) const;

  // The map under `key`. A missing key gives an empty node (every getter returns its default), so
  // optional sections need no special casing.
  absl::StatusOr<ConfigNode> Child(std::string_view key) const;
  // The maps in the list under `key` (e.g. `models: [{name: a}, {name: b}]`); missing: empty.
  absl::StatusOr<std::vector<ConfigNode>> ChildList(std::string_view key) const;

  // InvalidArgument naming every key under this node that no getter asked for (see above).
  absl::Status CheckNoUnknownKeys() const;

  // For checks across keys: InvalidArgument "<file>: <path.key>: <problem>".
  absl::Status Error(std::string_view key, std::string_view problem) const;

 private:
  friend absl::StatusOr<ConfigNode> ParseYaml(std::string_view text, std::string_view source_name);
  ConfigNode(std::shared_ptr<config_internal::Document> document,
             const config_internal::Value* value, std::string path);

  std::string KeyPath(std::string_view key) const;
  // The value under `key`, or nullptr when absent or empty. Marks the key as known.
  const config_internal::Value* Find(std::string_view key) const;
  absl::StatusOr<std::optional<bool>> FindBool(std::string_view key) const;
  absl::StatusOr<std::optional<int64_t>> FindInt(std::string_view key, int64_t min,
                                                 int64_t max) const;
  absl::StatusOr<std::optional<double>> FindDouble(std::string_view key, double min,
                                                   double max) const;
  absl::StatusOr<std::optional<std::string>> FindString(std::string_view key) const;
  absl::StatusOr<std::optional<std::string>> FindEnum(
      std::string_view key, absl::Span<const std::string_view> allowed) const;
  absl::StatusOr<std::optional<std::vector<std::string>>> FindStringList(
      std::string_view key) const;

  std::shared_ptr<config_internal::Document> document_;
  const config_internal::Value* value_;  // nullptr: absent section. Owned by document_.
  std::string path_;
};

// Parses YAML text. `source_name` is used in messages (usually the file path).
absl::StatusOr<ConfigNode> ParseYaml(std::string_view text, std::string_view source_name);
// Reads (at most kConfigFileBytesMax) and parses `path`.
absl::StatusOr<ConfigNode> LoadYamlFile(const std::string& path);

// --- Implementation details ------------------------------------------------------------------

template <typename T>
absl::StatusOr<T> ConfigNode::Get(std::string_view key, const T& default_value) const {
  if constexpr (std::is_same_v<T, bool>) {
    return GetBool(key, default_value);
  } else if constexpr (std::is_same_v<T, int>) {
    absl::StatusOr<int64_t> v = GetInt(key, default_value, std::numeric_limits<int>::min(),
                                       std::numeric_limits<int>::max());
    if (!v.ok()) return v.status();
    return static_cast<int>(*v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return GetInt(key, default_value);
  } else if constexpr (std::is_same_v<T, double>) {
    return GetDouble(key, default_value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return GetString(key, default_value);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return GetStringList(key, default_value);
  } else {
    static_assert(!sizeof(T),
                  "ConfigNode::Get supports bool, int, int64_t, double, std::string, "
                  "std::vector<std::string>");
  }
}

template <typename T>
absl::StatusOr<T> ConfigNode::GetRequired(std::string_view key) const {
  if constexpr (std::is_same_v<T, bool>) {
    return GetRequiredBool(key);
  } else if constexpr (std::is_same_v<T, int>) {
    absl::StatusOr<int64_t> v =
        GetRequiredInt(key, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    if (!v.ok()) return v.status();
    return static_cast<int>(*v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return GetRequiredInt(key);
  } else if constexpr (std::is_same_v<T, double>) {
    return GetRequiredDouble(key);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return GetRequiredString(key);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return GetRequiredStringList(key);
  } else {
    static_assert(!sizeof(T),
                  "ConfigNode::GetRequired supports bool, int, int64_t, double, "
                  "std::string, std::vector<std::string>");
  }
}

}  // namespace core

#pragma once
// MANIFEST.json: what a model version folder must contain, and the link to the version before it.
//
//   {"format": 1, "model": "mlp", "version": 2,
//    "files": {"model.pt": {"sha256": "<hex>", "bytes": 82448}},
//    "parent_version": 1, "parent_manifest_sha256": "<hex of the bytes of 1/MANIFEST.json>"}
//
// The parent link makes the versions of a model a hash chain: a version is accepted only if its
// parent's manifest (on disk, or remembered from an earlier verification when the folder was
// pruned) hashes to the recorded value. Version 1 of a chain has parent_version 0 and an empty
// hash, and is accepted only when no lower version is known.
//
// Verification (VerifyVersion) answers, by what the caller should do next:
//   NotFound        no MANIFEST.json yet: the version is still being written; wait (state PENDING).
//   InvalidArgument a malformed manifest, or one naming another model/version.
//   DataLoss        a listed file missing, short (half-copied), or with another hash; an unlisted
//   file;
//                   a broken chain. The version is rejected until its files change.
// Hashing uses OpenSSL's EVP SHA-256 and streams files (bounded memory).
//
// Thread safety: free functions without shared state.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace inference {

inline constexpr std::string_view kManifestFileName = "MANIFEST.json";
inline constexpr int kManifestFormat = 1;
inline constexpr size_t kManifestFilesMax = 256;
inline constexpr size_t kManifestBytesMax = 1 << 20;

struct ManifestFile {
  std::string sha256;  // lower-case hex
  uint64_t bytes = 0;
};

struct Manifest {
  int format = kManifestFormat;
  std::string model;
  int64_t version = 0;
  int64_t parent_version = 0;  // 0: first of its chain
  std::string parent_manifest_sha256;
  std::map<std::string, ManifestFile> files;
};

std::string Sha256Hex(std::string_view bytes);
absl::StatusOr<std::string> Sha256File(const std::string& path);

absl::StatusOr<Manifest> ParseManifest(std::string_view json);
std::string SerializeManifest(const Manifest& manifest);

// What the verifier may know about the other versions of the same model.
struct ChainView {
  // SHA-256 of version v's MANIFEST.json, when known (on disk or remembered).
  std::function<std::optional<std::string>(int64_t version)> manifest_sha256;
  // Whether any version below `version` is known.
  std::function<bool(int64_t version)> has_lower;
};

struct VerifiedVersion {
  Manifest manifest;
  std::string manifest_sha256;
};

// Verifies <version_dir> (= <repo>/<model>/<version>) as described above.
absl::StatusOr<VerifiedVersion> VerifyVersion(const std::string& version_dir,
                                              std::string_view model, int64_t version,
                                              const ChainView& chain);

// A ChainView reading <model_dir>/<v>/MANIFEST.json from disk.
ChainView DiskChain(const std::string& model_dir);

// Numeric version folders of <model_dir>, ascending (other names are ignored).
std::vector<int64_t> ListVersions(const std::string& model_dir);

struct AddVersionOptions {
  std::string repo;
  std::string model;
  int64_t version = 0;             // 0: one more than the highest existing
  std::vector<std::string> files;  // copied into the version folder under their base names
  std::string config_path;         // optional: installed as <repo>/<model>/config.yaml
};

// What `infer-repo add` does: copies the files into a hidden staging folder, writes MANIFEST.json
// linked to the highest existing version, and renames the folder into place, so a watcher never
// sees a partial version. AlreadyExists when the version exists.
absl::StatusOr<Manifest> AddVersion(const AddVersionOptions& options);

}  // namespace inference

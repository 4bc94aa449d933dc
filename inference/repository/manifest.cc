#include "inference/repository/manifest.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/status/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace inference {
namespace {

namespace fs = std::filesystem;

constexpr size_t kHashChunkBytes = 1 << 20;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::string Hex(const unsigned char* d, unsigned n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    s[2 * i] = kHex[d[i] >> 4];
    s[2 * i + 1] = kHex[d[i] & 0xf];
  }
  return s;
}

bool IsPlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name != kManifestFileName;
}

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t bytes_max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::string data;
  char buf[64 * 1024];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > bytes_max) return absl::InvalidArgumentError(path + ": too large");
  }
  return data;
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(fmt::format("copy {} -> {}: {}", from, to, ec.message()));
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(tmp + ": cannot create");
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) return absl::InternalError(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(fmt::format("rename {}: {}", path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(fmt::format("{}: {}", path, std::strerror(errno)));
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::unique_ptr<char[]> buf(new char[kHashChunkBytes]);
  size_t n;
  while ((n = std::fread(buf.get(), 1, kHashChunkBytes, f)) > 0) {
    EVP_DigestUpdate(ctx.get(), buf.get(), n);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return absl::DataLossError(path + ": read error");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return Hex(md, len);
}

absl::StatusOr<Manifest> ParseManifest(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("MANIFEST.json: not a JSON object");
  }
  try {
    Manifest m;
    m.format = j.at("format").get<int>();
    if (m.format != kManifestFormat) {
      return absl::InvalidArgumentError(fmt::format("MANIFEST.json: unknown format {}", m.format));
    }
    m.model = j.at("model").get<std::string>();
    m.version = j.at("version").get<int64_t>();
    m.parent_version = j.value("parent_version", int64_t{0});
    m.parent_manifest_sha256 = j.value("parent_manifest_sha256", std::string());
    const auto& files = j.at("files");
    if (!files.is_object() || files.empty() || files.size() > kManifestFilesMax) {
      return absl::InvalidArgumentError("MANIFEST.json: files: expected 1.." +
                                        std::to_string(kManifestFilesMax) + " entries");
    }
    for (const auto& [name, entry] : files.items()) {
      if (!IsPlainName(name)) {
        return absl::InvalidArgumentError(fmt::format("MANIFEST.json: bad file name '{}'", name));
      }
      ManifestFile f;
      f.sha256 = entry.at("sha256").get<std::string>();
      f.bytes = entry.at("bytes").get<uint64_t>();
      if (!IsHex64(f.sha256)) {
        return absl::InvalidArgumentError(fmt::format("MANIFEST.json: {}: bad sha256", name));
      }
      m.files.emplace(name, std::move(f));
    }
    if (m.version < 1 || m.parent_version < 0 || m.parent_version >= m.version) {
      return absl::InvalidArgumentError(
          "MANIFEST.json: need version >= 1 and parent_version < version");
    }
    if ((m.parent_version == 0) != m.parent_manifest_sha256.empty() ||
        (m.parent_version != 0 && !IsHex64(m.parent_manifest_sha256))) {
      return absl::InvalidArgumentError(
          "MANIFEST.json: parent_manifest_sha256 must be set exactly when parent_version is");
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(fmt::format("MANIFEST.json: {}", e.what()));
  }
}

std::string SerializeManifest(const Manifest& m) {
  nlohmann::ordered_json j;
  j["format"] = m.format;
  j["model"] = m.model;
  j["version"] = m.version;
  j["parent_version"] = m.parent_version;
  j["parent_manifest_sha256"] = m.parent_manifest_sha256;
  nlohmann::ordered_json files = nlohmann::ordered_json::object();
  for (const auto& [name, f] : m.files) files[name] = {{"sha256", f.sha256}, {"bytes", f.bytes}};
  j["files"] = std::move(files);
  return j.dump(2) + "\n";
}

absl::StatusOr<VerifiedVersion> VerifyVersion(const std::string& dir, std::string_view model,
                                              int64_t version, const ChainView& chain) {
  const std::string manifest_path = dir + "/" + std::string(kManifestFileName);
  std::error_code ec;
  if (!fs::exists(manifest_path, ec)) {
    return absl::NotFoundError(fmt::format("{}/{}: no MANIFEST.json yet", model, version));
  }
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(manifest_path, kManifestBytesMax));
  ASSIGN_OR_RETURN(Manifest m, ParseManifest(text));
  if (m.model != model || m.version != version) {
    return absl::InvalidArgumentError(
        fmt::format("{}/{}: manifest names {}/{}", model, version, m.model, m.version));
  }
  // Exactly the listed files (hidden dot-files are ignored: editors and copy tools leave them).
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == kManifestFileName || name.starts_with(".")) continue;
    if (!m.files.contains(name)) {
      return absl::DataLossError(fmt::format("{}/{}: unlisted file '{}'", model, version, name));
    }
  }
  for (const auto& [name, f] : m.files) {
    const std::string path = dir + "/" + name;
    auto size = fs::file_size(path, ec);
    if (ec)
      return absl::DataLossError(fmt::format("{}/{}: missing file '{}'", model, version, name));
    if (size != f.bytes) {
      return absl::DataLossError(fmt::format("{}/{}: '{}' has {} bytes, manifest says {}{}", model,
                                             version, name, size, f.bytes,
                                             size < f.bytes ? " (incomplete copy?)" : ""));
    }
    ASSIGN_OR_RETURN(std::string sha, Sha256File(path));
    if (sha != f.sha256) {
      return absl::DataLossError(fmt::format("{}/{}: '{}' sha256 mismatch", model, version, name));
    }
  }
  if (m.parent_version == 0) {
    if (chain.has_lower && chain.has_lower(version)) {
      return absl::DataLossError(
          fmt::format("{}/{}: chain broken: manifest claims no parent but lower versions exist",
                      model, version));
    }
  } else {
    std::optional<std::string> parent =
        chain.manifest_sha256 ? chain.manifest_sha256(m.parent_version) : std::nullopt;
    if (!parent) {
      return absl::DataLossError(fmt::format("{}/{}: chain broken: parent version {} unknown",
                                             model, version, m.parent_version));
    }
    if (*parent != m.parent_manifest_sha256) {
      return absl::DataLossError(
          fmt::format("{}/{}: chain broken: parent {} manifest hash mismatch", model, version,
                      m.parent_version));
    }
  }
  return VerifiedVersion{std::move(m), Sha256Hex(text)};
}

std::vector<int64_t> ListVersions(const std::string& model_dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 18 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    int64_t v = std::stoll(name);
    if (v > 0) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

ChainView DiskChain(const std::string& model_dir) {
  ChainView chain;
  chain.manifest_sha256 = [model_dir](int64_t v) -> std::optional<std::string> {
    auto text =
        ReadSmallFile(fmt::format("{}/{}/{}", model_dir, v, kManifestFileName), kManifestBytesMax);
    if (!text.ok()) return std::nullopt;
    return Sha256Hex(*text);
  };
  chain.has_lower = [model_dir](int64_t v) {
    auto versions = ListVersions(model_dir);
    return !versions.empty() && versions.front() < v;
  };
  return chain;
}

absl::StatusOr<Manifest> AddVersion(const AddVersionOptions& o) {
  if (o.model.empty() || !IsPlainName(o.model) || o.model.starts_with(".")) {
    return absl::InvalidArgumentError("model: a plain, non-hidden folder name is required");
  }
  if (o.files.empty()) return absl::InvalidArgumentError("files: at least one file is required");
  const std::string model_dir = o.repo + "/" + o.model;
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  if (ec) return absl::InternalError(fmt::format("{}: {}", model_dir, ec.message()));
  if (!o.config_path.empty()) {
    ASSIGN_OR_RETURN(std::string config, ReadSmallFile(o.config_path, kManifestBytesMax));
    RETURN_IF_ERROR(WriteFileAtomic(model_dir + "/config.yaml", config));
  }
  const std::vector<int64_t> existing = ListVersions(model_dir);
  Manifest m;
  m.model = o.model;
  m.version = o.version > 0 ? o.version : (existing.empty() ? 1 : existing.back() + 1);
  if (std::find(existing.begin(), existing.end(), m.version) != existing.end()) {
    return absl::AlreadyExistsError(fmt::format("{}/{} exists", o.model, m.version));
  }
  for (auto it = existing.rbegin(); it != existing.rend(); ++it) {
    if (*it >= m.version) continue;
    auto sha = DiskChain(model_dir).manifest_sha256(*it);
    if (!sha)
      return absl::FailedPreconditionError(fmt::format("{}/{}: no MANIFEST.json", o.model, *it));
    m.parent_version = *it;
    m.parent_manifest_sha256 = *sha;
    break;
  }
  const std::string staging = fmt::format("{}/.staging-{}-{}", model_dir, m.version, ::getpid());
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return absl::InternalError(fmt::format("{}: {}", staging, ec.message()));
  for (const std::string& file : o.files) {
    const std::string name = fs::path(file).filename().string();
    if (!IsPlainName(name)) return absl::InvalidArgumentError("bad file name: " + file);
    RETURN_IF_ERROR(CopyFile(file, staging + "/" + name));
    ASSIGN_OR_RETURN(std::string sha, Sha256File(staging + "/" + name));
    m.files[name] = ManifestFile{sha, static_cast<uint64_t>(fs::file_size(staging + "/" + name))};
  }
  RETURN_IF_ERROR(
      WriteFileAtomic(staging + "/" + std::string(kManifestFileName), SerializeManifest(m)));
  const std::string final_dir = fmt::format("{}/{}", model_dir, m.version);
  if (std::rename(staging.c_str(), final_dir.c_str()) != 0) {
    const int err = errno;
    fs::remove_all(staging, ec);
    return absl::InternalError(fmt::format("rename to {}: {}", final_dir, std::strerror(err)));
  }
  return m;
}

}  // namespace inference

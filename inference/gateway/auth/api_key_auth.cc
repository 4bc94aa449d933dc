#include "inference/gateway/auth/api_key_auth.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "core/log/check.h"
#include "fmt/format.h"

namespace inference::gateway {
namespace {

constexpr size_t kDigestBytes = 32;

std::string RawSha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  CORE_CHECK(EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) == 1);
  CORE_CHECK(len == kDigestBytes);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string ApiKeyAuth::Sha256Hex(std::string_view data) {
  const std::string raw = RawSha256(data);
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) out.append(fmt::format("{:02x}", c));
  return out;
}

absl::StatusOr<std::unique_ptr<ApiKeyAuth>> ApiKeyAuth::Create(std::vector<ApiKeyConfig> keys,
                                                               core::Clock* clock) {
  if (keys.size() > kApiKeysMax) {
    return absl::InvalidArgumentError(fmt::format("auth.keys: at most {} keys", kApiKeysMax));
  }
  auto auth = std::unique_ptr<ApiKeyAuth>(new ApiKeyAuth());
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < keys.size(); ++i) {
    ApiKeyConfig& k = keys[i];
    const std::string where = fmt::format("auth.keys[{}]", i);
    if (k.name.empty()) return absl::InvalidArgumentError(where + ".name: required");
    if (!names.insert(k.name).second) {
      return absl::InvalidArgumentError(fmt::format("{}.name: duplicate '{}'", where, k.name));
    }
    if (k.sha256_hex.size() != 2 * kDigestBytes) {
      return absl::InvalidArgumentError(
          fmt::format("{}.sha256: expected 64 hex characters, got {}", where, k.sha256_hex.size()));
    }
    std::string raw(kDigestBytes, '\0');
    for (size_t b = 0; b < kDigestBytes; ++b) {
      const int hi = HexValue(k.sha256_hex[2 * b]);
      const int lo = HexValue(k.sha256_hex[2 * b + 1]);
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(where + ".sha256: not a hex string");
      }
      raw[b] = static_cast<char>(hi * 16 + lo);
    }
    if (absl::Status s = core::TokenBucket::ValidateOptions(k.rate_per_s, k.burst); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", where, std::string(s.message())));
    }
    Key key{k.name, k.admin, std::make_unique<core::TokenBucket>(k.rate_per_s, k.burst, clock)};
    if (!auth->keys_.emplace(std::move(raw), std::move(key)).second) {
      return absl::InvalidArgumentError(where + ".sha256: the same key is configured twice");
    }
  }
  return auth;
}

AuthResult ApiKeyAuth::Authenticate(std::string_view authorization) const {
  AuthResult result;
  if (keys_.empty()) {
    result.admin = true;
    return result;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || authorization.size() > kApiKeyBytesMax ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    result.status =
        absl::UnauthenticatedError("missing API key: send 'Authorization: Bearer <key>'");
    return result;
  }
  const std::string digest = RawSha256(authorization.substr(kBearer.size()));
  auto it = keys_.find(digest);
  if (it == keys_.end()) {
    result.status = absl::UnauthenticatedError("invalid API key");
    return result;
  }
  result.key_name = &it->second.name;
  result.admin = it->second.admin;
  if (!it->second.bucket->TryAcquire()) {
    result.retry_after_ms = it->second.bucket->RetryAfterMs();
    result.status = absl::ResourceExhaustedError(
        fmt::format("rate limit of key '{}' exceeded", it->second.name));
  }
  return result;
}

absl::Status ApiKeyAuth::RequireAdmin(const AuthResult& result) const {
  if (result.admin) return absl::OkStatus();
  return absl::PermissionDeniedError("this endpoint needs an admin API key");
}

}  // namespace inference::gateway

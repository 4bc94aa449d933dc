#pragma once
// ApiKeyAuth: bearer API keys checked against SHA-256 hashes from the configuration, each with its
// own token bucket.
//
//   auth:
//     keys:
//       - {name: alice, sha256: "<64 hex chars>", rate_per_s: 100, burst: 200}
//       - {name: ops, sha256: "...", rate_per_s: 10, burst: 10, admin: true}
//
// The configuration holds only hashes (`printf %s KEY | sha256sum`), so a leaked config file does
// not leak keys. Authenticate() hashes the presented key once and looks the hash up; hashes are
// compared as whole digests through a hash map, and the presented key is never logged.
//
// Outcomes (absl codes, mapped to HTTP by the caller):
//   Unauthenticated   no "Authorization: Bearer <key>" header, or an unknown key      -> 401
//   ResourceExhausted the key's bucket is empty; retry_after_ms says when to come back -> 429
//   PermissionDenied  RequireAdmin() on a non-admin key                                -> 403
// With no keys configured, auth is disabled: every request is admitted as the anonymous admin.
//
// Thread safety: immutable key table; buckets are thread-safe. Any thread may call any method.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "core/resilience/token_bucket.h"

namespace inference::gateway {

inline constexpr size_t kApiKeysMax = 10'000;
inline constexpr size_t kApiKeyBytesMax = 512;

struct ApiKeyConfig {
  std::string name;
  std::string sha256_hex;  // lower- or upper-case hex of SHA-256(key)
  double rate_per_s = 100;
  double burst = 200;
  bool admin = false;
};

struct AuthResult {
  absl::Status status;                    // OK, Unauthenticated, ResourceExhausted
  const std::string* key_name = nullptr;  // set when the key was recognised
  bool admin = false;
  int64_t retry_after_ms = 0;  // with ResourceExhausted
};

class ApiKeyAuth {
 public:
  // InvalidArgument for a malformed hash, a duplicate hash or name, or bad rate/burst.
  static absl::StatusOr<std::unique_ptr<ApiKeyAuth>> Create(std::vector<ApiKeyConfig> keys,
                                                            core::Clock* clock);

  bool enabled() const { return !keys_.empty(); }
  // `authorization` is the raw header value ("Bearer <key>"). Takes a token on success.
  AuthResult Authenticate(std::string_view authorization) const;
  // PermissionDenied unless `result` is an admin key (or auth is disabled).
  absl::Status RequireAdmin(const AuthResult& result) const;

  static std::string Sha256Hex(std::string_view data);

 private:
  struct Key {
    std::string name;
    bool admin;
    std::unique_ptr<core::TokenBucket> bucket;
  };
  ApiKeyAuth() = default;
  absl::flat_hash_map<std::string, Key> keys_;  // by raw 32-byte digest
};

}  // namespace inference::gateway

#pragma once
// TlsFiles: the gateway's certificate and private key (PEM), read and checked once at start-up so
// a bad file stops the process with the field, the path and OpenSSL's reason instead of failing
// at the first handshake.
//
// Checks: both files readable; the certificate file holds a PEM certificate (chain); the key
// file holds a PEM private key; the key matches the (first) certificate.
//
// Thread safety: a free function on values.

#include <string>

#include "absl/status/statusor.h"

namespace inference::gateway {

struct TlsFiles {
  std::string cert_pem;  // the certificate chain file's contents
  std::string key_pem;   // the private key file's contents
};

// InvalidArgument naming "tls.cert_file" or "tls.key_file" (or both: one without the other).
absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& cert_file, const std::string& key_file);

}  // namespace inference::gateway

#include "inference/gateway/tls/tls_files.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "fmt/format.h"

namespace inference::gateway {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

absl::StatusOr<std::string> ReadFile(const std::string& field, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        fmt::format("{} '{}': cannot read: {}", field, path, std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (out.str().empty()) {
    return absl::InvalidArgumentError(fmt::format("{} '{}': empty file", field, path));
  }
  return out.str();
}

}  // namespace

absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("tls: cert_file and key_file go together (got {} only)",
                    cert_file.empty() ? "key_file" : "cert_file"));
  }
  TlsFiles files;
  auto cert = ReadFile("tls.cert_file", cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("tls.key_file", key_file);
  if (!key.ok()) return key.status();
  files.cert_pem = *std::move(cert);
  files.key_pem = *std::move(key);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError("tls: " + OpenSslError());
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(fmt::format(
        "tls.cert_file '{}': not a PEM certificate chain: {}", cert_file, OpenSslError()));
  }
  // The key alone first (a context without a certificate does not check the pair), so a bad key
  // and a mismatched one get different messages.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> key_only(SSL_CTX_new(TLS_server_method()),
                                                             &SSL_CTX_free);
  if (key_only == nullptr) return absl::InternalError("tls: " + OpenSslError());
  if (SSL_CTX_use_PrivateKey_file(key_only.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("tls.key_file '{}': not a PEM private key: {}", key_file, OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::InvalidArgumentError(
        fmt::format("tls.key_file '{}': does not match the certificate in tls.cert_file '{}': {}",
                    key_file, cert_file, OpenSslError()));
  }
  return files;
}

}  // namespace inference::gateway

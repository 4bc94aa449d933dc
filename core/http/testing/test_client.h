#pragma once
// Blocking HTTP/1.1 client for tests (unit and integration). Not for hot paths: it favours clarity.
//
// Thread safety: one TestClient per thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace core::http::testing {

struct ClientResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestClient {
 public:
  // Connects over TCP (host:port) or, when `unix_path` is set, a Unix socket.
  static absl::StatusOr<std::unique_ptr<TestClient>> Connect(const std::string& host, uint16_t port);
  static absl::StatusOr<std::unique_ptr<TestClient>> ConnectUnix(const std::string& unix_path);
  ~TestClient();

  absl::StatusOr<ClientResponse> Request(
      std::string_view method, std::string_view target, std::string_view body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  absl::StatusOr<ClientResponse> Get(std::string_view target) { return Request("GET", target); }
  absl::StatusOr<ClientResponse> Post(std::string_view target, std::string_view body) {
    return Request("POST", target, body);
  }

  struct Impl;

 private:
  explicit TestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sends raw bytes on a fresh TCP connection, half-closes nothing, and reads until the server closes
// the connection or `timeout_ms` passes. Returns everything read.
std::string RawExchange(uint16_t port, std::string_view bytes, int timeout_ms = 5000);

// Parses the status code out of a raw response ("HTTP/1.1 404 ..." -> 404); 0 when unparsable.
int RawStatus(std::string_view raw);
// The body of a raw response (after the blank line).
std::string_view RawBody(std::string_view raw);

}  // namespace core::http::testing

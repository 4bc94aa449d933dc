#pragma once
// TCP connections for the load generators (h2_stream_load, sse_stream_load): resolve once, then
// connect as often as a load needs (a new connection per generation must not pay a name lookup).

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inference {

struct TcpEndpoint {
  sockaddr_storage address{};
  socklen_t address_bytes = 0;
  int family = 0;
  int socktype = 0;
  int protocol = 0;
};

// The addresses `host` (numeric or a name) and `port` resolve to, in getaddrinfo's order.
// InvalidArgument when the host does not resolve.
absl::StatusOr<std::vector<TcpEndpoint>> ResolveTcp(const std::string& host, uint16_t port);

// A connected blocking socket (close-on-exec, TCP_NODELAY) to the first of `endpoints` that
// accepts; the caller owns it. Unavailable, with the last connect error, when none does.
absl::StatusOr<int> ConnectTcp(const std::vector<TcpEndpoint>& endpoints);

// ResolveTcp then ConnectTcp.
absl::StatusOr<int> ConnectTcp(const std::string& host, uint16_t port);

}  // namespace inference

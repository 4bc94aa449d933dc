#include "inference/tools/tcp_connect.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace inference {

absl::StatusOr<std::vector<TcpEndpoint>> ResolveTcp(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(host, ": ", ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  std::vector<TcpEndpoint> endpoints;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    TcpEndpoint& e = endpoints.emplace_back();
    std::memcpy(&e.address, a->ai_addr, a->ai_addrlen);
    e.address_bytes = a->ai_addrlen;
    e.family = a->ai_family;
    e.socktype = a->ai_socktype;
    e.protocol = a->ai_protocol;
  }
  if (endpoints.empty()) return absl::InvalidArgumentError(absl::StrCat(host, ": no address"));
  return endpoints;
}

absl::StatusOr<int> ConnectTcp(const std::vector<TcpEndpoint>& endpoints) {
  std::string error = "no address";
  for (const TcpEndpoint& e : endpoints) {
    const int fd = ::socket(e.family, e.socktype | SOCK_CLOEXEC, e.protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&e.address), e.address_bytes) == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      return fd;
    }
    error = std::strerror(errno);
    ::close(fd);
  }
  return absl::UnavailableError(absl::StrCat("connect: ", error));
}

absl::StatusOr<int> ConnectTcp(const std::string& host, uint16_t port) {
  absl::StatusOr<std::vector<TcpEndpoint>> endpoints = ResolveTcp(host, port);
  if (!endpoints.ok()) return endpoints.status();
  absl::StatusOr<int> fd = ConnectTcp(*endpoints);
  if (!fd.ok()) {
    return absl::UnavailableError(absl::StrCat(host, ":", port, ": ", fd.status().message()));
  }
  return fd;
}

}  // namespace inference

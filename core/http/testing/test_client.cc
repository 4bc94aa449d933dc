#include "core/http/testing/test_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace core::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Protocol = asio::generic::stream_protocol;

struct TestClient::Impl {
  asio::io_context ctx;
  Protocol::socket socket{ctx};
  beast::flat_buffer buffer;
};

TestClient::TestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestClient::~TestClient() = default;

absl::StatusOr<std::unique_ptr<TestClient>> TestClient::Connect(const std::string& host,
                                                                uint16_t port) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad host ", host));
  Protocol::endpoint ep(asio::ip::tcp::endpoint(addr, port));
  impl->socket.connect(ep, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  return std::unique_ptr<TestClient>(new TestClient(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TestClient>> TestClient::ConnectUnix(const std::string& unix_path) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  Protocol::endpoint ep(asio::local::stream_protocol::endpoint{unix_path});
  impl->socket.connect(ep, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  return std::unique_ptr<TestClient>(new TestClient(std::move(impl)));
}

absl::StatusOr<ClientResponse> TestClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  beast::http::request<beast::http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(beast::http::field::host, "localhost");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body() = std::string(body);
    if (req.find(beast::http::field::content_type) == req.end()) {
      req.set(beast::http::field::content_type, "application/json");
    }
    req.prepare_payload();
  }
  beast::error_code ec;
  beast::http::write(impl_->socket, req, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(1ull << 32);
  parser.header_limit(1 << 20);
  beast::http::read(impl_->socket, impl_->buffer, parser, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
  auto res = parser.release();
  ClientResponse out;
  out.status = res.result_int();
  out.body = std::move(res.body());
  for (const auto& f : res) {
    out.headers[absl::AsciiStrToLower(std::string(f.name_string()))] = std::string(f.value());
  }
  return out;
}

std::string RawExchange(uint16_t port, std::string_view bytes, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int RawStatus(std::string_view raw) {
  if (raw.size() < 12 || raw.substr(0, 5) != "HTTP/") return 0;
  size_t sp = raw.find(' ');
  if (sp == std::string_view::npos || sp + 4 > raw.size()) return 0;
  int code = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (raw[i] < '0' || raw[i] > '9') return 0;
    code = code * 10 + (raw[i] - '0');
  }
  return code;
}

std::string_view RawBody(std::string_view raw) {
  size_t p = raw.find("\r\n\r\n");
  return p == std::string_view::npos ? std::string_view() : raw.substr(p + 4);
}

}  // namespace core::http::testing

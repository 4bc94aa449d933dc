#include "core/http/testing/sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace core::http::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

int RemainingMs(SteadyClock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::max<int64_t>(0, ms.count()));
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

SseClient::~SseClient() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<SseClient>> SseClient::Post(
    const std::string& host, uint16_t port, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers, Options options) {
  std::unique_ptr<SseClient> c(new SseClient());
  c->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  if (options.receive_buffer_bytes > 0) {
    ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer_bytes,
                 sizeof(options.receive_buffer_bytes));
  }
  const int one = 1;
  ::setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(fmt::format("host {}: not an IPv4 address", host));
  }
  if (::connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(
        fmt::format("connect {}:{}: {}", host, port, std::strerror(errno)));
  }
  std::string req = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: "
      "text/event-stream\r\nContent-Length: {}\r\n",
      target, host, body.size());
  for (const auto& [k, v] : headers) req.append(fmt::format("{}: {}\r\n", k, v));
  req.append("\r\n").append(body);
  for (size_t sent = 0; sent < req.size();) {
    ssize_t n = ::send(c->fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError(fmt::format("send: {}", std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(options.timeout_ms);
  size_t end;
  while ((end = c->raw_.find("\r\n\r\n")) == std::string::npos) {
    if (!c->Fill(RemainingMs(deadline))) {
      return absl::DeadlineExceededError("no complete response head");
    }
  }
  const std::string head = c->raw_.substr(0, end);
  c->raw_.erase(0, end + 4);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (std::sscanf(status_line.c_str(), "HTTP/1.%*d %d", &c->status_) != 1) {
    return absl::InternalError(fmt::format("bad status line '{}'", status_line));
  }
  while (line_end != std::string::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    c->headers_[Lower(line.substr(0, colon))] = value;
  }
  c->chunked_ = Lower(c->header("transfer-encoding")).find("chunked") != std::string::npos;
  return c;
}

bool SseClient::Fill(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) {
    ended_ = true;
    return false;
  }
  raw_.append(buf, static_cast<size_t>(n));
  return true;
}

void SseClient::Decode() {
  if (!chunked_) {
    decoded_.append(raw_);
    raw_.clear();
    return;
  }
  while (true) {
    const size_t line_end = raw_.find("\r\n");
    if (line_end == std::string::npos) return;
    const size_t size = std::strtoul(raw_.substr(0, line_end).c_str(), nullptr, 16);
    if (size == 0) {
      ended_ = true;
      raw_.clear();
      return;
    }
    if (raw_.size() < line_end + 2 + size + 2) return;
    decoded_.append(raw_, line_end + 2, size);
    raw_.erase(0, line_end + 2 + size + 2);
  }
}

absl::StatusOr<std::string> SseClient::ReadBody(int timeout_ms) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string length = header("content-length");
  if (!length.empty()) {
    const size_t want = std::stoul(length);
    while (raw_.size() < want) {
      if (!Fill(RemainingMs(deadline))) return absl::DeadlineExceededError("body incomplete");
    }
    return raw_.substr(0, want);
  }
  while (true) {
    Decode();
    if (ended_) return decoded_;
    if (!Fill(RemainingMs(deadline)) && !ended_) return absl::DeadlineExceededError("no end");
  }
}

std::optional<SseEvent> SseClient::Next(int timeout_ms) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    Decode();
    size_t end = decoded_.find("\n\n");
    if (end != std::string::npos) {
      SseEvent e;
      e.at = SteadyClock::now();
      const std::string block = decoded_.substr(0, end);
      decoded_.erase(0, end + 2);
      size_t pos = 0;
      bool any = false;
      while (pos <= block.size()) {
        size_t nl = block.find('\n', pos);
        if (nl == std::string::npos) nl = block.size();
        const std::string_view line(block.data() + pos, nl - pos);
        pos = nl + 1;
        if (line.starts_with("event: ")) {
          e.event = std::string(line.substr(7));
        } else if (line.starts_with("data: ")) {
          if (any) e.data.push_back('\n');
          e.data.append(line.substr(6));
          any = true;
        }
      }
      if (!any && e.event.empty()) continue;  // a comment-only block
      return e;
    }
    if (ended_) return std::nullopt;
    const int left = RemainingMs(deadline);
    if (left <= 0 || !Fill(left)) {
      if (ended_) continue;  // decode what is left
      return std::nullopt;
    }
  }
}

}  // namespace core::http::testing

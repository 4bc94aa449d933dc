#include "bench/loadgen/http_load.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <vector>

namespace loadgen {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr size_t kReadChunkBytes = 64 << 10;

bool IEqualsPrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

class HttpSession final : public Session {
 public:
  HttpSession(asio::io_context& io, CompletionSink* sink, const tcp::endpoint& endpoint,
              const HttpRequestRenderer& render, const HttpResponseClassifier& classify)
      : socket_(io),
        sink_(sink),
        endpoint_(endpoint),
        render_(render),
        classify_(classify),
        buffer_(kReadChunkBytes) {}

  void Connect(std::function<void(absl::Status)> done) override {
    socket_.async_connect(endpoint_, [this, done = std::move(done)](boost::system::error_code ec) {
      if (ec) return done(absl::UnavailableError(fmt::format("connect: {}", ec.message())));
      socket_.set_option(tcp::no_delay(true), ec);
      done(absl::OkStatus());
    });
  }

  void Issue(uint64_t seq) override {
    seq_ = seq;
    request_.clear();
    render_(seq, &request_);
    asio::async_write(socket_, asio::buffer(request_),
                      [this](boost::system::error_code ec, size_t) {
                        if (ec) return Fail();
                        Parse();
                      });
  }

  void Close() override {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  void Fail() { sink_->OnRequestDone(Counts{.errors = 1}, false); }

  void ReadMore() {
    if (used_ == buffer_.size()) {
      if (buffer_.size() >= kHttpResponseBytesMax) return Fail();
      buffer_.resize(std::min(buffer_.size() * 2, kHttpResponseBytesMax));
    }
    socket_.async_read_some(asio::buffer(buffer_.data() + used_, buffer_.size() - used_),
                            [this](boost::system::error_code ec, size_t n) {
                              if (ec) return Fail();
                              used_ += n;
                              Parse();
                            });
  }

  // Parses what is buffered; completes the request or reads more.
  void Parse() {
    std::string_view data(buffer_.data(), used_);
    const size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return ReadMore();
    std::string_view head = data.substr(0, head_end + 2);
    if (head.size() < 12 || !head.starts_with("HTTP/1.")) return Fail();
    const int status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    size_t content_length = 0;
    bool keep_alive = true;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
      const size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(pos + 2, next - pos - 2);
      if (IEqualsPrefix(line, "content-length:")) {
        std::string_view v = line.substr(15);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        if (std::from_chars(v.data(), v.data() + v.size(), content_length).ec != std::errc()) {
          return Fail();
        }
      } else if (IEqualsPrefix(line, "connection:") &&
                 line.find("close") != std::string_view::npos) {
        keep_alive = false;
      } else if (IEqualsPrefix(line, "transfer-encoding:")) {
        return Fail();  // chunked responses are not supported
      }
      pos = next;
    }
    const size_t body_start = head_end + 4;
    if (body_start + content_length > kHttpResponseBytesMax) return Fail();
    if (used_ < body_start + content_length) {
      if (buffer_.size() < body_start + content_length) buffer_.resize(body_start + content_length);
      return ReadMore();
    }
    const Counts counts = classify_(seq_, status, data.substr(body_start, content_length));
    const size_t consumed = body_start + content_length;
    std::memmove(buffer_.data(), buffer_.data() + consumed, used_ - consumed);
    used_ -= consumed;
    sink_->OnRequestDone(counts, keep_alive);
  }

  tcp::socket socket_;
  CompletionSink* sink_;
  tcp::endpoint endpoint_;
  const HttpRequestRenderer& render_;
  const HttpResponseClassifier& classify_;
  std::string request_;
  std::vector<char> buffer_;
  size_t used_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace

Counts ClassifyByStatus(uint64_t, int status, std::string_view) {
  return status >= 200 && status < 300 ? Counts{.ok = 1} : Counts{.errors = 1};
}

void AppendHttpRequest(std::string* out, std::string_view method, std::string_view host,
                       std::string_view path, std::string_view body,
                       std::string_view content_type) {
  fmt::format_to(std::back_inserter(*out), "{} {} HTTP/1.1\r\nHost: {}\r\n", method, path, host);
  if (!body.empty()) {
    fmt::format_to(std::back_inserter(*out), "Content-Type: {}\r\nContent-Length: {}\r\n",
                   content_type, body.size());
  }
  out->append("\r\n");
  out->append(body);
}

absl::StatusOr<LoadResult> RunHttpLoad(const HttpLoadOptions& options,
                                       const HttpRequestRenderer& render,
                                       const HttpResponseClassifier& classify) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("host must be an IP: {}", options.host));
  const tcp::endpoint endpoint(address, options.port);
  return RunClosedLoop(options.load, [&](asio::io_context& io, CompletionSink* sink) {
    return std::make_unique<HttpSession>(io, sink, endpoint, render, classify);
  });
}

}  // namespace loadgen

#include "inference/tools/sse_stream_load.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inference/tools/tcp_connect.h"

namespace inference {

SseResponseReader::SseResponseReader(size_t event_bytes_max, std::function<void()> on_token)
    : event_bytes_max_(event_bytes_max), on_token_(std::move(on_token)) {
  on_chunk_ = [this](uint64_t, boost::beast::string_view data, boost::beast::error_code& ec) {
    return OnChunk(std::string_view(data.data(), data.size()), ec);
  };
}

void SseResponseReader::Start() {
  parser_.emplace();
  parser_->body_limit(boost::none);  // an event stream has no length; it ends with its last chunk
  parser_->eager(true);
  parser_->on_chunk_body(on_chunk_);
  unparsed_.clear();
  events_.clear();
  progress_ = Progress::kMore;
  status_checked_ = false;
  final_ = false;
  error_ = false;
  keep_alive_ = false;
  failure_.clear();
}

SseResponseReader::Progress SseResponseReader::Feed(std::string_view bytes) {
  if (progress_ == Progress::kFailed) return progress_;
  if (progress_ == Progress::kDone) return Fail("bytes after the end of the response");
  // The common case parses the bytes in place; only an unfinished header or chunk header is kept,
  // and the next bytes are appended to it (the parser resumes where that tail starts).
  std::string_view in = bytes;
  if (!unparsed_.empty()) {
    unparsed_.append(bytes);
    in = unparsed_;
  }
  size_t used = 0;
  while (used < in.size()) {
    boost::beast::error_code ec;
    const size_t n = parser_->put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
    used += n;
    if (!status_checked_ && parser_->is_header_done()) {
      const unsigned status = parser_->get().result_int();
      if (status != 200) return Fail(absl::StrCat("status ", status));
      status_checked_ = true;
    }
    if (ec == boost::beast::http::error::need_more) break;
    if (ec) return Fail(failure_.empty() ? absl::StrCat("HTTP: ", ec.message()) : failure_);
    if (parser_->is_done()) {
      if (used < in.size()) return Fail("bytes after the end of the response");
      keep_alive_ = parser_->keep_alive();
      unparsed_.clear();
      progress_ = Progress::kDone;
      return progress_;
    }
    if (n == 0) return Fail("HTTP: the parser made no progress");  // never loop on the same bytes
  }
  if (in.size() - used > kSseUnparsedBytesMax) {
    return Fail(absl::StrCat("HTTP framing longer than ", kSseUnparsedBytesMax, " bytes"));
  }
  if (in.data() == unparsed_.data()) {
    unparsed_.erase(0, used);
  } else {
    unparsed_.assign(in.substr(used));
  }
  return progress_;
}

SseResponseReader::Progress SseResponseReader::FeedEof() {
  if (progress_ != Progress::kMore) return progress_;
  if (!parser_->got_some()) return Fail("connection closed before the response");
  boost::beast::error_code ec;
  parser_->put_eof(ec);
  if (ec || !parser_->is_done()) return Fail("connection closed in the middle of the response");
  keep_alive_ = false;
  progress_ = Progress::kDone;
  return progress_;
}

size_t SseResponseReader::OnChunk(std::string_view data, boost::beast::error_code& ec) {
  if (events_.empty()) {  // the common case: whole events in the chunk, split in place
    const size_t used = SplitEvents(data);
    events_.assign(data.substr(used));
  } else {
    events_.append(data);
    events_.erase(0, SplitEvents(events_));
  }
  if (events_.size() > event_bytes_max_) {
    failure_ = absl::StrCat("an event longer than ", event_bytes_max_, " bytes");
    ec = boost::beast::http::error::body_limit;
  }
  return data.size();
}

size_t SseResponseReader::SplitEvents(std::string_view text) {
  size_t start = 0;
  for (size_t end; (end = text.find("\n\n", start)) != std::string_view::npos; start = end + 2) {
    const std::string_view block = text.substr(start, end - start);
    if (block.starts_with("event: final")) {
      final_ = true;
    } else if (block.starts_with("event: error")) {
      error_ = true;
    } else if (block.starts_with("data: ")) {
      on_token_();
    }
  }
  return start;
}

SseResponseReader::Progress SseResponseReader::Fail(std::string why) {
  failure_ = std::move(why);
  progress_ = Progress::kFailed;
  return progress_;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadBytes = 64 << 10;  // one recv
constexpr int kEpollEventsMax = 64;      // one epoll_wait

struct Stream {
  // Token events count into `result`; the first of a generation records its TTFT.
  Stream(int index, size_t event_bytes_max, SseStreamLoadResult* result)
      : index(index), reader(event_bytes_max, [this, result] {
          ++result->tokens;
          if (awaiting_first) {
            result->ttft_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
            awaiting_first = false;
          }
        }) {}
  const int index;
  int fd = -1;
  int done = 0;  // generations completed
  bool over = false;
  bool awaiting_first = false;
  bool want_write = false;  // EPOLLOUT registered: the request did not fit the socket buffer
  Clock::time_point sent;
  std::string out;  // the request being sent
  size_t out_sent = 0;
  SseResponseReader reader;
};

class Load {
 public:
  explicit Load(const SseStreamLoadOptions& o) : o_(o) {}

  ~Load() {
    for (auto& st : streams_) Close(st.get());
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  absl::StatusOr<SseStreamLoadResult> Run() {
    if (o_.streams < 1 || o_.requests < 1 || !o_.make_body) {
      return absl::InvalidArgumentError("SSE load: streams and requests >= 1 and make_body");
    }
    absl::StatusOr<std::vector<TcpEndpoint>> endpoints = ResolveTcp(o_.host, o_.port);
    if (!endpoints.ok()) return endpoints.status();
    endpoints_ = *std::move(endpoints);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return absl::InternalError(absl::StrCat("epoll: ", std::strerror(errno)));
    head_ = absl::StrCat("POST ", o_.target, " HTTP/1.1\r\nHost: ", o_.host, ":", o_.port,
                         "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n",
                         o_.api_key.empty() ? "" : "Authorization: Bearer ", o_.api_key,
                         o_.api_key.empty() ? "" : "\r\n",
                         o_.new_connection ? "Connection: close\r\n" : "", "Content-Length: ");

    streams_.reserve(static_cast<size_t>(o_.streams));
    for (int s = 0; s < o_.streams; ++s) {
      streams_.push_back(std::make_unique<Stream>(s, o_.event_bytes_max, &result_));
    }
    live_ = o_.streams;
    for (auto& st : streams_) {
      if (Connect(st.get())) Send(st.get());
    }

    std::array<epoll_event, kEpollEventsMax> events;
    while (live_ > 0) {
      const int n = ::epoll_wait(epoll_fd_, events.data(), kEpollEventsMax, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat("epoll_wait: ", std::strerror(errno)));
      }
      for (int i = 0; i < n; ++i) {
        // A stream has one socket registered at a time; an event for one it has since closed
        // (and replaced) at worst finds nothing to read.
        Stream* st = static_cast<Stream*>(events[static_cast<size_t>(i)].data.ptr);
        const uint32_t what = events[static_cast<size_t>(i)].events;
        if (st->over || st->fd < 0) continue;
        if ((what & EPOLLOUT) != 0 && !Flush(st)) continue;
        if ((what & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) Read(st);
      }
    }
    return std::move(result_);
  }

 private:
  bool Connect(Stream* st) {
    absl::StatusOr<int> fd = ConnectTcp(endpoints_);
    if (!fd.ok()) {
      Fail(st, absl::StrCat(o_.host, ":", o_.port, ": ", fd.status().message()));
      return false;
    }
    st->fd = *fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = st;
    if (::fcntl(st->fd, F_SETFL, ::fcntl(st->fd, F_GETFL) | O_NONBLOCK) != 0 ||
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, st->fd, &ev) != 0) {
      Fail(st, absl::StrCat("socket setup: ", std::strerror(errno)));
      return false;
    }
    return true;
  }

  void Send(Stream* st) {
    const std::string body = o_.make_body(st->index, st->done);
    st->out.assign(head_);
    absl::StrAppend(&st->out, body.size(), "\r\n\r\n", body);
    st->out_sent = 0;
    st->reader.Start();
    st->awaiting_first = true;
    st->sent = Clock::now();
    Flush(st);
  }

  // Writes what the socket takes of the request; the rest waits for EPOLLOUT. False when the
  // stream failed.
  bool Flush(Stream* st) {
    while (st->out_sent < st->out.size()) {
      const ssize_t n = ::send(st->fd, st->out.data() + st->out_sent, st->out.size() - st->out_sent,
                               MSG_NOSIGNAL);
      if (n >= 0) {
        st->out_sent += static_cast<size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Watch(st, true);
      } else if (errno != EINTR) {
        Fail(st, absl::StrCat("send: ", std::strerror(errno)));
        return false;
      }
    }
    return Watch(st, false);
  }

  bool Watch(Stream* st, bool write) {
    if (st->want_write == write) return true;
    epoll_event ev{};
    ev.events = write ? EPOLLIN | EPOLLOUT : EPOLLIN;
    ev.data.ptr = st;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, st->fd, &ev) != 0) {
      Fail(st, absl::StrCat("epoll_ctl: ", std::strerror(errno)));
      return false;
    }
    st->want_write = write;
    return true;
  }

  void Read(Stream* st) {
    for (;;) {
      const ssize_t n = ::recv(st->fd, in_.data(), in_.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          Fail(st, absl::StrCat("recv: ", std::strerror(errno)));
        }
        return;
      }
      const SseResponseReader::Progress p =
          n == 0 ? st->reader.FeedEof()
                 : st->reader.Feed(std::string_view(in_.data(), static_cast<size_t>(n)));
      if (p == SseResponseReader::Progress::kFailed) return Fail(st, st->reader.failure());
      if (p == SseResponseReader::Progress::kDone) return Complete(st);
      if (static_cast<size_t>(n) < in_.size()) return;  // level-triggered: told again if more
    }
  }

  void Complete(Stream* st) {
    if (!st->reader.final_event() || st->reader.error_event()) ++result_.errors;
    if (++st->done == o_.requests) return Finish(st);
    if (st->reader.keep_alive() && !o_.new_connection) return Send(st);
    Close(st);
    if (Connect(st)) Send(st);
  }

  // The generation in flight failed and the stream stops.
  void Fail(Stream* st, std::string_view why) {
    ++result_.errors;
    if (o_.on_stream_failed) o_.on_stream_failed(st->index, why);
    Finish(st);
  }

  void Finish(Stream* st) {
    Close(st);
    st->over = true;
    --live_;
  }

  static void Close(Stream* st) {
    if (st->fd >= 0) ::close(st->fd);  // also leaves the epoll set
    st->fd = -1;
    st->want_write = false;
  }

  const SseStreamLoadOptions& o_;
  std::vector<TcpEndpoint> endpoints_;
  int epoll_fd_ = -1;
  std::string head_;  // the request up to the Content-Length value
  std::vector<std::unique_ptr<Stream>> streams_;
  int live_ = 0;
  std::array<char, kReadBytes> in_;
  SseStreamLoadResult result_;
};

}  // namespace

absl::StatusOr<SseStreamLoadResult> RunSseStreamLoad(const SseStreamLoadOptions& options) {
  auto load = std::make_unique<Load>(options);  // in_ is too large for the stack
  return load->Run();
}

}  // namespace inference

#include "core/http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/http/json.h"
#include "core/process/scheduler.h"
#include "spdlog/spdlog.h"

namespace core::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Protocol = asio::generic::stream_protocol;
using Socket = Protocol::socket;
using TlsStream = asio::ssl::stream<Socket&>;

constexpr int kSweepIntervalMs = 100;

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void AppendInt(std::string* out, uint64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
  out->append(tmp, r.ptr - tmp);
}

void AppendHex(std::string* out, uint64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof(tmp), v, 16);
  out->append(tmp, r.ptr - tmp);
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

class Connection;

struct HttpServer::Tls {
  explicit Tls(asio::ssl::context c) : context(std::move(c)) {}
  asio::ssl::context context;
};

// How long Shutdown() lets an I/O thread finish the handlers of its closed connections.
constexpr std::chrono::milliseconds kIoThreadStopWait{1000};

struct IoThread {
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{ctx.get_executor()};
  asio::steady_timer sweep{ctx};
  std::thread thread;
  std::vector<Connection*> conns;  // owned by this thread only
  bool stopping = false;           // set by Shutdown on this thread: the sweep stops re-arming
  int64_t now_ms = SteadyNowMs();
  std::string date_header;  // "Date: ...\r\n", refreshed by the sweep
  // SSE preemption (ServerOptions::sse_preempt_linger_ms); this thread only.
  int base_policy = -1;  // the policy the thread started with
  int sse_streams = 0;   // SSE streams open on this thread
  bool preempting = false;
  int64_t last_sse_end_ms = 0;

  void SseOpened(int linger_ms) {
    ++sse_streams;
    if (linger_ms > 0 && !preempting && base_policy == SCHED_BATCH &&
        core::SetThreadPolicy(SCHED_OTHER)) {
      preempting = true;
    }
  }
  void SseEnded() {
    --sse_streams;
    last_sse_end_ms = now_ms;
  }
  // Sweep: back to the thread's own policy once no stream was open for `linger_ms`.
  void MaybeStopPreempting(int linger_ms) {
    if (preempting && sse_streams == 0 && now_ms - last_sse_end_ms >= linger_ms &&
        core::SetThreadPolicy(base_policy)) {
      preempting = false;
    }
  }

  void RefreshDate() {
    char buf[64];
    std::time_t t = std::time(nullptr);
    std::tm tm;
    gmtime_r(&t, &tm);
    size_t n = std::strftime(buf, sizeof(buf), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    date_header.assign(buf, n);
  }
};

struct HttpServer::Impl {
  ServerOptions options;
  const Router* router;
  std::shared_ptr<HttpServer::Tls> tls;  // null: plain
  asio::io_context accept_ctx{1};
  std::optional<asio::basic_socket_acceptor<Protocol>> acceptor;
  std::thread accept_thread;
  std::vector<std::unique_ptr<IoThread>> io;
  size_t next_io = 0;
  std::atomic<int> active{0};
  std::atomic<bool> draining{false};
  bool started = false;
  bool stopped = false;

  void Accept();
  void Sweep(IoThread* t);
};

struct ParsedSpan {
  uint32_t off = 0;
  uint32_t len = 0;
};

// Beast parser that records field positions as offsets from the start of the request, so the buffer
// may be compacted or grown while the body is still arriving.
class RequestParser final : public beast::http::basic_parser<true> {
 public:
  RequestParser() {}
  using Span = ParsedSpan;
  const char* base = nullptr;  // start of this request in the connection buffer, set before put()
  Span method, target;
  std::array<std::pair<Span, Span>, kHeadersMax> fields;
  size_t field_count = 0;
  int version = 11;
  bool body_seen = false;
  Span body;
  bool chunked_body_used = false;
  std::string* chunked_body = nullptr;
  bool expect_continue = false;

 private:
  Span Mark(beast::string_view s) const {
    return {static_cast<uint32_t>(s.data() - base), static_cast<uint32_t>(s.size())};
  }
  void on_request_impl(beast::http::verb, beast::string_view method_str,
                       beast::string_view target_str, int ver, beast::error_code&) override {
    method = Mark(method_str);
    target = Mark(target_str);
    version = ver;
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(beast::http::field f, beast::string_view name, beast::string_view value,
                     beast::error_code& ec) override {
    if (field_count == kHeadersMax) {
      ec = beast::http::error::header_limit;
      return;
    }
    if (f == beast::http::field::expect && beast::iequals(value, "100-continue")) {
      expect_continue = true;
    }
    fields[field_count++] = {Mark(name), Mark(value)};
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  std::size_t on_body_impl(beast::string_view s, beast::error_code&) override {
    if (!body_seen) {
      body_seen = true;
      body = Mark(s);
    } else {
      body.len += static_cast<uint32_t>(s.size());
    }
    return s.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {
    chunked_body_used = true;
  }
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, beast::error_code&) override {
    chunked_body->append(s.data(), s.size());
    return s.size();
  }
  void on_finish_impl(beast::error_code&) override {}
};

class SseStreamImpl;

class Connection final : public ResponseSink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl* server, IoThread* io, Socket socket)
      : server_(server), io_(io), socket_(std::move(socket)) {}

  void Start(bool reject) {
    sweep_index_ = io_->conns.size();
    io_->conns.push_back(this);
    last_activity_ms_ = io_->now_ms;
    if (server_->tls != nullptr) {
      if (reject) {  // no handshake is spent on a connection that is refused anyway
        Close();
        return;
      }
      tls_ = std::make_unique<TlsStream>(socket_, server_->tls->context);
      state_ = State::kHandshake;
      tls_->async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (self->state_ == State::kClosed) return;
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->last_activity_ms_ = self->io_->now_ms;
                              self->StartReading();
                            });
      return;
    }
    if (reject) {
      keep_alive_ = false;
      state_ = State::kHandling;
      WriteResponse(JsonError(503, "unavailable", "too many connections; retry later"));
      return;
    }
    StartReading();
  }

  void StartReading() {
    capacity_ = kInitialBufferBytes;
    buf_.reset(new char[capacity_ + kBodyPaddingBytes]);
    DoRead();
  }

  // Writes on the connection's stream: TLS when configured, else the socket.
  template <typename Buffers, typename Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    } else {
      asio::async_write(socket_, buffers, std::forward<Handler>(handler));
    }
  }

  void SendResponse(Response&& response) override;
  std::shared_ptr<SseStream> StartSse(Response&& head) override;

  // Sweep (I/O thread): applies timeouts and the drain.
  void Tick(int64_t now_ms, bool draining) {
    if (state_ == State::kHandshake) {  // a TLS handshake gets the read timeout
      if (draining || now_ms - last_activity_ms_ > server_->options.read_timeout_ms) Close();
      return;
    }
    if (state_ != State::kReading) return;
    if (request_started_ms_ != 0) {
      if (now_ms - request_started_ms_ > server_->options.read_timeout_ms) {
        FailRequest(
            408, "request_timeout",
            absl::StrCat("request not received within ", server_->options.read_timeout_ms, " ms"));
      }
    } else if (draining || now_ms - last_activity_ms_ > server_->options.idle_timeout_ms) {
      Close();
    }
  }

  void Close();
  bool keep_alive_ = true;

 private:
  friend class SseStreamImpl;
  enum class State { kHandshake, kReading, kHandling, kWriting, kStreaming, kClosed };
  static constexpr size_t kInitialBufferBytes = 16 * 1024;

  size_t buffer_bytes_max() const {
    return server_->options.header_bytes_max + server_->options.body_bytes_max + 1024;
  }

  // Makes room for `need` bytes past start_; false when that would exceed the limit.
  bool Reserve(size_t need) {
    if (start_ + need <= capacity_) return true;
    if (start_ > 0) {
      std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
      if (need <= capacity_) return true;
    }
    if (need > buffer_bytes_max()) return false;
    size_t cap = capacity_;
    while (cap < need) cap *= 2;
    cap = std::min(cap, buffer_bytes_max());
    std::unique_ptr<char[]> grown(new char[cap + kBodyPaddingBytes]);
    std::memcpy(grown.get(), buf_.get(), end_);
    buf_ = std::move(grown);
    capacity_ = cap;
    return true;
  }

  void DoRead() {
    state_ = State::kReading;
    if (end_ == capacity_ && !Reserve(end_ - start_ + 4096)) {
      FailRequest(431, "header_too_large", "request header exceeds the limit");
      return;
    }
    auto on_read = [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->OnRead(ec, n);
    };
    if (tls_) {
      tls_->async_read_some(asio::buffer(buf_.get() + end_, capacity_ - end_), std::move(on_read));
    } else {
      socket_.async_read_some(asio::buffer(buf_.get() + end_, capacity_ - end_),
                              std::move(on_read));
    }
  }

  void OnRead(beast::error_code ec, size_t n) {
    if (state_ == State::kClosed) return;
    if (ec) {
      Close();
      return;
    }
    end_ += n;
    last_activity_ms_ = io_->now_ms;
    ProcessBuffer();
  }

  void ProcessBuffer();
  void Dispatch();
  // After a response (or an event stream) on a keep-alive connection: the next request.
  void ReadNextRequest();
  // An event stream's terminating chunk was written: the connection serves its next request, or
  // closes when it is not kept alive.
  void EndSse();
  void WriteResponse(Response&& response);
  void OnWritten(beast::error_code ec);
  void FailRequest(int status, std::string_view error, std::string_view message) {
    keep_alive_ = false;
    state_ = State::kHandling;
    WriteResponse(JsonError(status, error, message));
  }

  HttpServer::Impl* server_;
  IoThread* io_;
  Socket socket_;
  std::unique_ptr<TlsStream> tls_;  // over socket_ when the server serves TLS
  State state_ = State::kReading;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;  // usable bytes; kBodyPaddingBytes more are allocated after them
  size_t start_ = 0, end_ = 0;
  size_t parsed_ = 0;  // bytes of the current request consumed by the parser
  std::optional<RequestParser> parser_;
  std::string chunked_body_;
  bool continue_sent_ = false;
  int64_t request_started_ms_ = 0;
  int64_t last_activity_ms_ = 0;
  Request request_;
  bool head_request_ = false;
  std::string wbuf_;
  Response current_;
  std::shared_ptr<SseStreamImpl> sse_;

 public:
  size_t sweep_index_ = 0;
};

class SseStreamImpl final : public SseStream, public std::enable_shared_from_this<SseStreamImpl> {
 public:
  SseStreamImpl(std::shared_ptr<Connection> conn, size_t buffer_bytes_max)
      : conn_(std::move(conn)), buffer_bytes_max_(buffer_bytes_max) {}

  bool Send(std::string_view data, std::string_view event) override {
    // "event: <event>\n", then "data: <line>\n" per line of data, then the blank line.
    const size_t lines = 1 + static_cast<size_t>(std::count(data.begin(), data.end(), '\n'));
    const size_t size =
        (event.empty() ? 0 : 8 + event.size()) + 7 * lines + data.size() - (lines - 1) + 1;
    return Queue(size, false, [&](std::string* out) {
      if (!event.empty()) {
        out->append("event: ");
        out->append(event);
        out->push_back('\n');
      }
      std::string_view rest = data;
      while (true) {
        const size_t nl = rest.find('\n');
        out->append("data: ");
        out->append(rest.substr(0, nl));
        out->push_back('\n');
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
      }
      out->push_back('\n');
    });
  }
  bool SendComment(std::string_view text) override {
    return Queue(text.size() + 4, false, [&](std::string* out) {
      out->append(": ");
      out->append(text);
      out->append("\n\n");
    });
  }
  void Close() override {
    Queue(0, true, [](std::string*) {});
  }
  bool closed() const override { return closed_.load(std::memory_order_acquire); }
  size_t buffered_bytes() const override { return buffered_.load(std::memory_order_acquire); }
  void SetOnDrain(std::function<void()> on_drain) override {
    std::lock_guard<std::mutex> lock(mu_);
    on_drain_ = std::move(on_drain);
  }

  // Raw bytes (already HTTP-framed), used for the response head.
  void QueueRaw(std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    buffered_ += bytes.size();
    pending_.append(bytes);
  }
  // I/O thread, once the stream is the connection's: the plaintext socket the stream's first
  // event may be written to directly (-1: never).
  void SetDirectFd(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    socket_fd_ = fd;
  }
  // I/O thread, before the socket closes or the stream ends: no producer writes to it any more.
  void StopDirect() {
    std::lock_guard<std::mutex> lock(mu_);
    socket_fd_ = -1;
    direct_fd_ = -1;
  }
  void Flush();  // I/O thread
  void MarkClosed() {
    closed_.store(true, std::memory_order_release);
    std::function<void()> cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cb = std::move(on_drain_);
    }
    if (cb) cb();
  }

 private:
  // Appends one chunk of `size` payload bytes (written by `append`; none for the terminating
  // chunk, `final`) and sends it: the stream's first event straight to the socket when the I/O
  // thread has nothing to write, anything else by handing it to the I/O thread.
  template <typename Append>
  bool Queue(size_t size, bool final, Append&& append) {
    if (closed()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return false;
    const size_t frame_bytes = size + 16;
    if (!final && buffered_.load() + frame_bytes > buffer_bytes_max_) return false;
    if (size > 0) {
      AppendHex(&pending_, size);
      pending_.append("\r\n");
      append(&pending_);
      pending_.append("\r\n");
    }
    if (final) {
      pending_.append("0\r\n\r\n");
      closing_ = true;
    }
    if (direct_fd_ >= 0 && WriteDirectLocked() && !final) return true;
    // The I/O thread writes the rest (a final chunk: it also ends the stream on the connection).
    if (!pending_.empty()) buffered_ += frame_bytes;
    if (!flush_scheduled_) {
      flush_scheduled_ = true;
      asio::post(conn_->socket_.get_executor(), [self = shared_from_this()] { self->Flush(); });
    }
    return true;
  }

  // Writes pending_ (which held nothing before this frame) without blocking: true when the socket
  // took all of it. Else the I/O thread writes the rest (and reports an error, if any). Only once
  // per stream: later events are left to the I/O thread, which coalesces a stream's events while
  // a write is in flight; a direct write per event costs the client a wake-up per event (on
  // loopback, 2.5x the gateway's CPU per token and half the tokens/s at 32 streams).
  bool WriteDirectLocked() {
    const ssize_t n =
        ::send(direct_fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) pending_.erase(0, static_cast<size_t>(n));
    direct_fd_ = -1;
    socket_fd_ = -1;
    return pending_.empty();
  }

  // I/O thread, under mu_, once nothing is left to write: the first event may be written directly.
  void AllowDirectLocked() {
    if (pending_.empty() && !flush_scheduled_ && !closing_) direct_fd_ = socket_fd_;
  }

  std::shared_ptr<Connection> conn_;
  const size_t buffer_bytes_max_;
  std::mutex mu_;
  std::string pending_;  // guarded by mu_
  std::string writing_;  // I/O thread only
  bool flush_scheduled_ = false;
  bool writing_now_ = false;
  bool closing_ = false;
  // The direct write of the first event (plaintext only). socket_fd_: the connection's socket,
  // -1 once it closes or was written to directly; direct_fd_: socket_fd_ while no write is in
  // flight on the I/O thread and nothing is pending, else -1. Both guarded by mu_; the socket
  // closes only after StopDirect, so a producer never writes to a closed (or reused) descriptor.
  int socket_fd_ = -1;
  int direct_fd_ = -1;
  std::atomic<size_t> buffered_{0};
  std::atomic<bool> closed_{false};
  std::function<void()> on_drain_;
};

void SseStreamImpl::Flush() {
  if (writing_now_) return;
  bool finish = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    flush_scheduled_ = false;
    writing_.clear();
    writing_.swap(pending_);
    finish = closing_;
    if (writing_.empty()) AllowDirectLocked();
  }
  if (conn_->sse_.get() != this) {  // the connection closed (Close() drops sse_)
    MarkClosed();
    return;
  }
  if (writing_.empty()) {
    if (finish) conn_->EndSse();  // the terminating chunk is out
    return;
  }
  writing_now_ = true;
  conn_->AsyncWrite(asio::buffer(writing_),
                    [self = shared_from_this()](beast::error_code ec, size_t n) {
                      self->writing_now_ = false;
                      self->buffered_ -= std::min(self->buffered_.load(), n);
                      if (ec) {
                        self->conn_->Close();
                        self->MarkClosed();
                        return;
                      }
                      bool more;
                      std::function<void()> cb;
                      {
                        std::lock_guard<std::mutex> lock(self->mu_);
                        more = !self->pending_.empty() || self->closing_;
                        if (self->pending_.empty()) {
                          self->buffered_ = 0;
                          cb = self->on_drain_;
                          self->AllowDirectLocked();
                        }
                      }
                      if (cb && !self->closing_) cb();
                      if (more) self->Flush();
                    });
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (sse_) sse_->StopDirect();  // before the descriptor can be closed and reused
  beast::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  // Swap-remove from the thread's sweep list.
  auto& conns = io_->conns;
  if (sweep_index_ < conns.size() && conns[sweep_index_] == this) {
    conns[sweep_index_] = conns.back();
    conns[sweep_index_]->sweep_index_ = sweep_index_;
    conns.pop_back();
  }
  server_->active.fetch_sub(1, std::memory_order_acq_rel);
  if (sse_) {
    auto sse = std::move(sse_);
    io_->SseEnded();
    sse->MarkClosed();
  }
}

void Connection::ProcessBuffer() {
  const ServerOptions& opt = server_->options;
  while (true) {
    if (!parser_) {
      if (end_ == start_) {
        start_ = end_ = 0;
        DoRead();
        return;
      }
      parser_.emplace();
      parser_->header_limit(static_cast<uint32_t>(opt.header_bytes_max));
      parser_->body_limit(opt.body_bytes_max);
      parser_->chunked_body = &chunked_body_;
      chunked_body_.clear();
      parsed_ = 0;
      continue_sent_ = false;
      request_started_ms_ = io_->now_ms;
    }
    parser_->base = buf_.get() + start_;
    beast::error_code ec;
    size_t n = parser_->put(
        asio::const_buffer(buf_.get() + start_ + parsed_, end_ - start_ - parsed_), ec);
    parsed_ += n;
    if (ec == beast::http::error::need_more) {
      if (!parser_->is_header_done()) {
        if (end_ - start_ >= opt.header_bytes_max) {
          FailRequest(431, "header_too_large",
                      absl::StrCat("request header exceeds ", opt.header_bytes_max, " bytes"));
          return;
        }
      } else {
        size_t need = parsed_ + 4096;
        if (auto remaining = parser_->content_length_remaining()) need = parsed_ + *remaining;
        if (!Reserve(std::min(need, buffer_bytes_max()))) {
          FailRequest(413, "body_too_large",
                      absl::StrCat("request body exceeds ", opt.body_bytes_max, " bytes"));
          return;
        }
        if (parser_->expect_continue && !continue_sent_) {
          continue_sent_ = true;
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          beast::error_code wec;
          if (tls_) {
            asio::write(*tls_, asio::buffer(kContinue.data(), kContinue.size()), wec);
          } else {
            asio::write(socket_, asio::buffer(kContinue.data(), kContinue.size()), wec);
          }
        }
      }
      DoRead();
      return;
    }
    if (ec) {
      if (ec == beast::http::error::header_limit) {
        FailRequest(431, "header_too_large",
                    absl::StrCat("request header exceeds ", opt.header_bytes_max, " bytes or ",
                                 kHeadersMax, " fields"));
      } else if (ec == beast::http::error::body_limit) {
        FailRequest(413, "body_too_large",
                    absl::StrCat("request body exceeds ", opt.body_bytes_max, " bytes"));
      } else {
        FailRequest(400, "bad_request", absl::StrCat("malformed HTTP request: ", ec.message()));
      }
      return;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (n == 0) {  // defensive: no progress without need_more
      DoRead();
      return;
    }
  }
}

void Connection::Dispatch() {
  state_ = State::kHandling;
  RequestParser& p = *parser_;
  const char* base = buf_.get() + start_;
  auto view = [base](RequestParser::Span s) { return std::string_view(base + s.off, s.len); };
  Request& r = request_;
  r.Reset();
  r.method_name = view(p.method);
  r.method = ParseMethod(r.method_name);
  r.target = view(p.target);
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  r.query = q == std::string_view::npos ? std::string_view() : r.target.substr(q + 1);
  for (size_t i = 0; i < p.field_count; ++i)
    r.AddHeader(view(p.fields[i].first), view(p.fields[i].second));
  if (p.chunked_body_used) {
    chunked_body_.reserve(chunked_body_.size() + kBodyPaddingBytes);
    r.body = chunked_body_;
    r.set_body_padding_bytes(chunked_body_.capacity() - chunked_body_.size());
  } else if (p.body_seen) {
    r.body = view(p.body);
    r.set_body_padding_bytes(kBodyPaddingBytes + (capacity_ - (start_ + p.body.off + p.body.len)));
  } else {
    r.body = std::string_view(base, 0);
    r.set_body_padding_bytes(kBodyPaddingBytes + (capacity_ - start_));
  }
  r.keep_alive = p.keep_alive() && !server_->draining.load(std::memory_order_relaxed);
  keep_alive_ = r.keep_alive;
  head_request_ = r.method == Method::kHead;
  server_->router->Dispatch(r, Responder(shared_from_this()));
}

void Connection::SendResponse(Response&& response) {
  if (io_->ctx.get_executor().running_in_this_thread()) {
    if (state_ == State::kHandling) WriteResponse(std::move(response));
    return;
  }
  asio::post(io_->ctx, [self = shared_from_this(), r = std::move(response)]() mutable {
    if (self->state_ == State::kHandling) self->WriteResponse(std::move(r));
  });
}

void Connection::WriteResponse(Response&& response) {
  state_ = State::kWriting;
  current_ = std::move(response);
  if (current_.close || server_->draining.load(std::memory_order_relaxed)) keep_alive_ = false;
  std::string& w = wbuf_;
  w.clear();
  w.append("HTTP/1.1 ");
  AppendInt(&w, current_.status);
  w.push_back(' ');
  w.append(ReasonPhrase(current_.status));
  w.append("\r\nContent-Type: ");
  w.append(current_.content_type);
  w.append("\r\nContent-Length: ");
  AppendInt(&w, current_.body.size());
  w.append("\r\n");
  w.append(io_->date_header);
  for (const auto& [name, value] : current_.headers) {
    w.append(name);
    w.append(": ");
    w.append(value);
    w.append("\r\n");
  }
  if (!keep_alive_) {
    w.append("Connection: close\r\n");
  } else if (parser_ && parser_->version == 10) {
    w.append("Connection: keep-alive\r\n");
  }
  w.append("\r\n");
  std::array<asio::const_buffer, 2> bufs = {
      asio::buffer(w),
      asio::buffer(current_.body.data(), head_request_ ? 0 : current_.body.size())};
  AsyncWrite(bufs,
             [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWritten(ec); });
}

void Connection::OnWritten(beast::error_code ec) {
  if (state_ == State::kClosed) return;
  current_ = Response();
  if (ec || !keep_alive_) {
    Close();
    return;
  }
  ReadNextRequest();
}

// Called by the stream the connection still holds (SseStreamImpl::Flush checks), so the
// connection is not closed: Close() drops sse_.
void Connection::EndSse() {
  std::shared_ptr<SseStreamImpl> sse = std::move(sse_);
  sse->StopDirect();
  io_->SseEnded();
  sse->MarkClosed();
  if (!keep_alive_ || server_->draining.load(std::memory_order_relaxed)) {
    Close();
  } else {
    ReadNextRequest();
  }
}

void Connection::ReadNextRequest() {
  start_ += parsed_;
  parsed_ = 0;
  parser_.reset();
  request_started_ms_ = 0;
  last_activity_ms_ = io_->now_ms;
  state_ = State::kReading;
  ProcessBuffer();
}

std::shared_ptr<SseStream> Connection::StartSse(Response&& head) {
  auto stream =
      std::make_shared<SseStreamImpl>(shared_from_this(), server_->options.sse_buffer_bytes_max);
  // keep_alive_ was set by Dispatch (I/O thread) before the handler that calls this got the
  // request, and nothing changes it while the request is being handled.
  std::string h =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Transfer-Encoding: chunked\r\nX-Accel-Buffering: no\r\n";
  if (!keep_alive_) h.append("Connection: close\r\n");
  for (const auto& [name, value] : head.headers) absl::StrAppend(&h, name, ": ", value, "\r\n");
  h.append("\r\n");
  stream->QueueRaw(std::move(h));
  auto start = [self = shared_from_this(), stream] {
    if (self->state_ != State::kHandling) {
      stream->MarkClosed();
      return;
    }
    self->state_ = State::kStreaming;
    self->sse_ = stream;
    if (self->tls_ == nullptr && self->server_->options.sse_direct_first_event) {
      stream->SetDirectFd(self->socket_.native_handle());
    }
    self->io_->SseOpened(self->server_->options.sse_preempt_linger_ms);
    stream->Flush();
  };
  if (io_->ctx.get_executor().running_in_this_thread()) {
    start();
  } else {
    asio::post(io_->ctx, std::move(start));
  }
  return stream;
}

void HttpServer::Impl::Sweep(IoThread* t) {
  t->now_ms = SteadyNowMs();
  t->RefreshDate();
  t->MaybeStopPreempting(options.sse_preempt_linger_ms);
  bool drain = draining.load(std::memory_order_relaxed);
  // Tick may close (and swap-remove) connections: iterate backwards over a stable range.
  for (size_t i = t->conns.size(); i-- > 0;) {
    if (i < t->conns.size()) t->conns[i]->Tick(t->now_ms, drain);
  }
  // Shutdown's cancel() misses a timer that has already fired but whose handler has not run yet
  // (the completion is queued): the flag stops that last handler from re-arming, or run() would
  // never return.
  if (t->stopping) return;
  t->sweep.expires_after(std::chrono::milliseconds(kSweepIntervalMs));
  t->sweep.async_wait([this, t](beast::error_code ec) {
    if (!ec) Sweep(t);
  });
}

void HttpServer::Impl::Accept() {
  IoThread* target = io[next_io++ % io.size()].get();
  acceptor->async_accept(target->ctx, [this, target](beast::error_code ec, Socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      // Out of descriptors or similar: back off briefly instead of spinning.
      auto timer = std::make_shared<asio::steady_timer>(accept_ctx, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](beast::error_code) { Accept(); });
      return;
    }
    if (socket.local_endpoint().protocol().family() != AF_UNIX) {
      int one = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    bool reject = active.fetch_add(1, std::memory_order_acq_rel) >= options.connections_max;
    asio::post(target->ctx, [this, target, reject, s = std::move(socket)]() mutable {
      std::make_shared<Connection>(this, target, std::move(s))->Start(reject);
    });
    Accept();
  });
}

HttpServer::HttpServer(ServerOptions options, const Router* router)
    : options_(std::move(options)), router_(router) {}

HttpServer::~HttpServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(ServerOptions options,
                                                               const Router* router) {
  if (router == nullptr) return absl::InvalidArgumentError("router: must not be null");
  if (options.io_threads < 1 || options.io_threads > 256) {
    return absl::InvalidArgumentError("io_threads: must be in [1, 256]");
  }
  if (options.header_bytes_max < 256 || options.header_bytes_max > (1u << 20)) {
    return absl::InvalidArgumentError("header_bytes_max: must be in [256, 1048576]");
  }
  if (options.body_bytes_max > (size_t{1} << 31)) {
    return absl::InvalidArgumentError("body_bytes_max: must be at most 2 GiB");
  }
  if (options.connections_max < 1) {
    return absl::InvalidArgumentError("connections_max: must be >= 1");
  }
  if (options.idle_timeout_ms < 1 || options.read_timeout_ms < 1) {
    return absl::InvalidArgumentError("idle_timeout_ms/read_timeout_ms: must be >= 1");
  }
  if (options.sse_preempt_linger_ms < 0) {
    return absl::InvalidArgumentError("sse_preempt_linger_ms: must be >= 0 (0: off)");
  }
  std::shared_ptr<Tls> tls;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return absl::InvalidArgumentError("tls_cert_file/tls_key_file: both or neither must be set");
    }
    asio::ssl::context context(asio::ssl::context::tls_server);
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    beast::error_code ec;
    context.use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls_cert_file '", options.tls_cert_file, "': ", ec.message()));
    }
    context.use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls_key_file '", options.tls_key_file, "': ", ec.message()));
    }
    tls = std::make_shared<Tls>(std::move(context));
  }
  auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(options), router));
  server->tls_ = std::move(tls);
  return server;
}

absl::Status HttpServer::Start() {
  if (impl_) return absl::FailedPreconditionError("server already started");
  impl_ = std::make_unique<Impl>();
  Impl& s = *impl_;
  s.options = options_;
  s.router = router_;
  s.tls = tls_;
  beast::error_code ec;
  Protocol::endpoint endpoint;
  if (!options_.unix_socket_path.empty()) {
    ::unlink(options_.unix_socket_path.c_str());
    endpoint = asio::local::stream_protocol::endpoint(options_.unix_socket_path);
  } else {
    auto addr = asio::ip::make_address(options_.host, ec);
    if (ec) {
      impl_.reset();
      return absl::InvalidArgumentError(absl::StrCat("host: not an IP address: ", options_.host));
    }
    endpoint = asio::ip::tcp::endpoint(addr, options_.port);
  }
  s.acceptor.emplace(s.accept_ctx);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec && options_.unix_socket_path.empty()) {
    s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(options_.backlog, ec);
  if (ec) {
    std::string where = options_.unix_socket_path.empty()
                            ? absl::StrCat(options_.host, ":", options_.port)
                            : options_.unix_socket_path;
    impl_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ec.message()));
  }
  if (options_.unix_socket_path.empty()) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ::getsockname(s.acceptor->native_handle(), reinterpret_cast<sockaddr*>(&ss), &len);
    bound_port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  for (int i = 0; i < options_.io_threads; ++i) {
    auto t = std::make_unique<IoThread>();
    t->RefreshDate();
    IoThread* raw = t.get();
    s.io.push_back(std::move(t));
    asio::post(raw->ctx, [&s, raw] { s.Sweep(raw); });
    raw->thread = std::thread([raw] {
      raw->base_policy = sched_getscheduler(0);
      raw->ctx.run();
    });
  }
  s.Accept();
  s.accept_thread = std::thread([&s] { s.accept_ctx.run(); });
  s.started = true;
  return absl::OkStatus();
}

int HttpServer::connections() const {
  return impl_ ? impl_->active.load(std::memory_order_acquire) : 0;
}

void HttpServer::Shutdown() {
  if (!impl_ || !impl_->started || impl_->stopped) return;
  Impl& s = *impl_;
  s.stopped = true;
  // 1. Stop accepting.
  asio::post(s.accept_ctx, [&s] {
    beast::error_code ec;
    s.acceptor->close(ec);
  });
  s.accept_thread.join();
  // 2. Drain: idle connections close at the next sweep; busy ones close after their response.
  s.draining.store(true, std::memory_order_release);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
  while (s.active.load(std::memory_order_acquire) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // 3. Force-close what is left (e.g. long-lived SSE streams) and stop the threads.
  for (auto& t : s.io) {
    asio::post(t->ctx, [raw = t.get()] {
      while (!raw->conns.empty()) raw->conns.back()->Close();
      raw->stopping = true;
      raw->sweep.cancel();
      raw->guard.reset();
    });
  }
  // Each thread's run() returns once the handlers of what was just closed have run. Bounded: on
  // Asio's io_uring backend (Boost 1.81) run() was seen to keep waiting after every socket had been
  // closed and deregistered, its scheduler still counting work no queue held (the ring only had its
  // own idle timeout in flight; compare chriskohlhoff/asio#1327). Then stop() ends it: what is left
  // are handlers of closed connections, destroyed with the io_context.
  const auto stop_deadline = std::chrono::steady_clock::now() + kIoThreadStopWait;
  for (size_t i = 0; i < s.io.size(); ++i) {
    IoThread& t = *s.io[i];
    while (!t.ctx.stopped() && std::chrono::steady_clock::now() < stop_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!t.ctx.stopped()) {
      spdlog::warn(
          "http server: I/O thread {} still had work {} ms after its connections closed; "
          "stopping it",
          i, std::chrono::duration_cast<std::chrono::milliseconds>(kIoThreadStopWait).count());
      t.ctx.stop();
    }
    t.thread.join();
  }
  if (!options_.unix_socket_path.empty()) ::unlink(options_.unix_socket_path.c_str());
}

}  // namespace core::http

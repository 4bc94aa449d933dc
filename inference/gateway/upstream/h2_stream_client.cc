#include "inference/gateway/upstream/h2_stream_client.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>

#include "inference/kserve/grpc_framing.h"
#include "inference/kserve/stream_protocol.h"

namespace inference::gateway {

namespace asio = boost::asio;
using Metadata = std::vector<std::pair<std::string, std::string>>;
using Sink = H2StreamClient::Sink;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// grpc-message is percent-encoded (gRPC over HTTP/2 spec); a malformed escape is kept as is.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

grpc::Status Unavailable(std::string message) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::move(message));
}

}  // namespace

class Connection;

// One call: a plain record of the client's thread (all but `client`, set at construction).
class CallImpl final : public H2StreamClient::Call, public std::enable_shared_from_this<CallImpl> {
 public:
  CallImpl(std::weak_ptr<H2StreamClient::Impl> client, std::string_view request, bool close_writes,
           Metadata metadata, std::shared_ptr<Sink> sink, size_t message_bytes_max)
      : client(std::move(client)),
        metadata(std::move(metadata)),
        sink(std::move(sink)),
        reader(message_bytes_max) {
    body.Append(request);
    if (close_writes) body.Close();
  }

  void Resume() override;
  void Cancel() override;
  void Write(std::string request) override;
  void CloseWrites() override;

  // Weak: a Call may outlive its client, and then Resume and Cancel do nothing.
  const std::weak_ptr<H2StreamClient::Impl> client;
  GrpcRequestBody body;        // requests not yet handed to nghttp2; closed: half-close after them
  bool data_deferred = false;  // ReadBody ran out of `body` on an open call: resume on a Write
  Metadata metadata;
  std::shared_ptr<Sink> sink;  // reset after OnDone
  std::weak_ptr<Connection> conn;
  int32_t stream_id = -1;  // -1 until submitted
  GrpcMessageReader reader;
  // Messages read while paused; their bytes (and later ones) are not consumed, so the stream
  // window bounds them.
  std::deque<std::string> held;
  size_t unconsumed_bytes = 0;  // received, not yet given back to the window
  bool paused = false;
  bool done = false;
  int http_status = 0;
  std::optional<int> grpc_status;
  std::string grpc_message;
  std::optional<grpc::Status> deferred_done;  // trailers that came while messages were held
};

class H2StreamClient::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)), work_(asio::make_work_guard(ioc_)) {
    if (options_.authority.empty()) {
      // A socket path is no authority; gRPC's own client sends "localhost" for unix targets.
      options_.authority = options_.address.unix_socket ? "localhost" : options_.address.ToString();
    }
  }

  // The thread holds a reference: the Impl outlives its io_context's last handler even when the
  // thread is detached (Stop from the thread itself).
  void Run(std::shared_ptr<Impl> self) {
    thread_ = std::thread([self = std::move(self)] { self->ioc_.run(); });
  }

  // From ~H2StreamClient: ends every call, lets the thread run out of work, joins it. On the
  // client's own thread (a Sink callback dropped the last owner of the client, e.g. a call's
  // endpoint was removed meanwhile) it cannot join itself: the thread finishes the shutdown on its
  // own and then releases the Impl.
  void Stop() {
    asio::post(ioc_, [this] { Shutdown(); });
    work_.reset();
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }

  asio::io_context& ioc() { return ioc_; }
  const Options& options() const { return options_; }

  // The rest runs on the client's thread.
  void StartOnThread(std::shared_ptr<CallImpl> call) {
    if (stopped_) {
      Finish(call.get(), Unavailable("the client is shut down"));
      return;
    }
    live_.emplace(call.get(), call);
    Route(std::move(call));
  }
  void Route(std::shared_ptr<CallImpl> call);
  void ResumeOnThread(const std::shared_ptr<CallImpl>& call);
  void CancelOnThread(const std::shared_ptr<CallImpl>& call);
  // A request appended to an open call, or (`close`, no request) its half-close.
  void WriteOnThread(const std::shared_ptr<CallImpl>& call, std::string request, bool close);
  // Ends the call: OnDone(status) once, drops what it holds.
  void Finish(CallImpl* call, const grpc::Status& status);
  void OnConnectionClosed(Connection* connection);
  void OnGoaway(Connection* connection) {  // it stays open for its streams, takes no new ones
    if (current_.get() == connection) current_.reset();
  }

 private:
  void Shutdown();

  Options options_;
  asio::io_context ioc_;  // first: destroyed after the connections that use it
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  bool stopped_ = false;
  std::shared_ptr<Connection> current_;  // where new calls go; null until needed
  // Every connection not closed yet (current_ and those draining after a GOAWAY).
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  std::unordered_map<CallImpl*, std::shared_ptr<CallImpl>> live_;  // calls not done
};

// One socket and its nghttp2 session, on the client's thread. Kept alive by the client while
// open and by its pending asynchronous operations.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(H2StreamClient::Impl* impl, asio::io_context& ioc)
      : impl_(impl),
        o_(impl->options()),
        socket_(ioc),
        resolver_(ioc),
        timer_(ioc),
        rbuf_(kH2ReadBytes) {}
  ~Connection() {
    if (session_ != nullptr) nghttp2_session_del(session_);
  }

  // False once closed or told to go away: new calls need another connection.
  bool accepting() const { return state_ != State::kClosed && !going_away_; }

  void Connect() {
    state_ = State::kConnecting;
    timer_.expires_after(std::chrono::milliseconds(o_.connect_timeout_ms));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->state_ != State::kConnecting) return;
      self->Close(
          Unavailable(fmt::format("connect to {}: timed out after {} ms",
                                  self->o_.address.ToString(), self->o_.connect_timeout_ms)));
    });
    if (o_.address.unix_socket) {
      socket_.async_connect(
          asio::generic::stream_protocol::endpoint(
              asio::local::stream_protocol::endpoint(o_.address.host)),
          [self = shared_from_this()](const boost::system::error_code& ec) {
            if (self->state_ != State::kConnecting) return;
            if (ec) {
              self->Close(Unavailable(
                  fmt::format("connect to {}: {}", self->o_.address.ToString(), ec.message())));
              return;
            }
            self->OnConnected();
          });
      return;
    }
    resolver_.async_resolve(
        o_.address.host, std::to_string(o_.address.port), asio::ip::tcp::resolver::numeric_service,
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    asio::ip::tcp::resolver::results_type results) {
          if (self->state_ != State::kConnecting) return;
          if (ec) {
            self->Close(Unavailable(
                fmt::format("resolve {}: {}", self->o_.address.ToString(), ec.message())));
            return;
          }
          self->endpoints_.assign(results.begin(), results.end());
          self->ConnectNext(0, ec);
        });
  }

  void Enqueue(std::shared_ptr<CallImpl> call) {
    auto keep = shared_from_this();
    if (queue_.size() >= kH2QueuedCallsMax) {
      impl_->Finish(call.get(),
                    grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 fmt::format("more than {} calls wait for a stream to {}",
                                             kH2QueuedCallsMax, o_.address.ToString())));
      return;
    }
    call->conn = weak_from_this();
    queue_.push_back(std::move(call));
    Pump();
    Flush();
  }

  void Cancel(CallImpl* call) {
    // Queued: Pump skips done calls. Stream already closed (held messages): nothing to reset.
    if (state_ != State::kOpen || !streams_.contains(call->stream_id)) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
  }

  // Gives the call's received bytes back to the windows (the stream's, if still open, and the
  // connection's).
  // More request bytes (or the half-close) for a submitted call whose body was deferred.
  void ResumeBody(CallImpl* call) {
    if (state_ != State::kOpen || !call->data_deferred || !streams_.contains(call->stream_id)) {
      return;
    }
    call->data_deferred = false;
    nghttp2_session_resume_data(session_, call->stream_id);
    Flush();
  }

  void ConsumeAll(CallImpl* call) {
    if (call->unconsumed_bytes == 0 || state_ != State::kOpen || call->stream_id < 0) return;
    nghttp2_session_consume(session_, call->stream_id, call->unconsumed_bytes);
    call->unconsumed_bytes = 0;
  }

  // Hands nghttp2's pending frames to the socket; one write in flight at a time.
  void Flush() {
    if (state_ != State::kOpen || writing_) return;
    auto keep = shared_from_this();
    wbuf_.clear();
    while (wbuf_.size() < kH2WriteBytesMax) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        Close(grpc::Status(grpc::StatusCode::INTERNAL,
                           fmt::format("HTTP/2: {}", nghttp2_strerror(static_cast<int>(n)))));
        return;
      }
      if (n == 0) break;
      wbuf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (wbuf_.empty()) {
      CloseIfFinished();
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(wbuf_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (self->state_ != State::kOpen) return;
                        if (ec) {
                          self->Close(Unavailable(fmt::format(
                              "write to {}: {}", self->o_.address.ToString(), ec.message())));
                          return;
                        }
                        self->AfterIo();
                      });
  }

  // Ends the connection: every call on it or waiting for it ends with `status`.
  void Close(const grpc::Status& status) {
    if (state_ == State::kClosed) return;
    auto keep = shared_from_this();
    state_ = State::kClosed;
    boost::system::error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
    auto streams = std::move(streams_);
    streams_.clear();
    auto queue = std::move(queue_);
    queue_.clear();
    impl_->OnConnectionClosed(this);
    for (auto& [id, call] : streams) impl_->Finish(call.get(), status);
    for (auto& call : queue) impl_->Finish(call.get(), status);
    if (session_ != nullptr) {
      nghttp2_session_del(session_);
      session_ = nullptr;
    }
  }

 private:
  enum class State { kIdle, kConnecting, kOpen, kClosed };

  void ConnectNext(size_t index, const boost::system::error_code& last_error) {
    if (index >= endpoints_.size()) {
      Close(Unavailable(fmt::format("connect to {}: {}", o_.address.ToString(),
                                    last_error ? last_error.message() : "no address")));
      return;
    }
    boost::system::error_code ignored;
    socket_.close(ignored);
    socket_.async_connect(asio::generic::stream_protocol::endpoint(endpoints_[index]),
                          [self = shared_from_this(), index](const boost::system::error_code& ec) {
                            if (self->state_ != State::kConnecting) return;
                            if (ec) {
                              self->ConnectNext(index + 1, ec);
                              return;
                            }
                            self->OnConnected();
                          });
  }

  void OnConnected() {
    timer_.cancel();
    if (!o_.address.unix_socket) {
      boost::system::error_code ignored;
      socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_option* option = nullptr;
    int rc = nghttp2_session_callbacks_new(&callbacks);
    if (rc == 0) rc = nghttp2_option_new(&option);
    if (rc == 0) {
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Connection::OnData);
      nghttp2_session_callbacks_set_on_header_callback(callbacks, &Connection::OnHeader);
      nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Connection::OnFrame);
      nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Connection::OnClose);
      // Window updates follow delivery to the sinks, so a paused call stops its stream.
      nghttp2_option_set_no_auto_window_update(option, 1);
      rc = nghttp2_session_client_new2(&session_, callbacks, this, option);
    }
    if (callbacks != nullptr) nghttp2_session_callbacks_del(callbacks);
    if (option != nullptr) nghttp2_option_del(option);
    if (rc != 0) {
      Close(grpc::Status(grpc::StatusCode::INTERNAL,
                         fmt::format("nghttp2 session: {}", nghttp2_strerror(rc))));
      return;
    }
    state_ = State::kOpen;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(o_.stream_window_bytes)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kH2ConnectionWindowBytes);
    StartRead();
    Pump();
    Flush();
  }

  void StartRead() {
    socket_.async_read_some(
        asio::buffer(rbuf_),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (self->state_ != State::kOpen) return;
          if (ec) {
            self->Close(Unavailable(
                ec == asio::error::eof
                    ? fmt::format("{} closed the connection", self->o_.address.ToString())
                    : fmt::format("read from {}: {}", self->o_.address.ToString(), ec.message())));
            return;
          }
          const ssize_t used = nghttp2_session_mem_recv(self->session_, self->rbuf_.data(), n);
          if (used < 0) {
            self->Close(
                grpc::Status(grpc::StatusCode::INTERNAL,
                             fmt::format("HTTP/2: {}", nghttp2_strerror(static_cast<int>(used)))));
            return;
          }
          self->AfterIo();
          if (self->state_ == State::kOpen) self->StartRead();
        });
  }

  // After bytes went in or out: move calls on, send what nghttp2 has, close when done.
  void AfterIo() {
    if (going_away_ && !queue_.empty()) {  // not sent yet: they go to a new connection
      auto queue = std::move(queue_);
      queue_.clear();
      for (auto& call : queue) {
        if (call->done) continue;
        call->conn.reset();
        impl_->Route(std::move(call));
      }
    }
    Pump();
    Flush();
  }

  void CloseIfFinished() {
    if (state_ == State::kOpen && !writing_ && nghttp2_session_want_read(session_) == 0 &&
        nghttp2_session_want_write(session_) == 0) {
      Close(Unavailable("the connection ended"));  // after a GOAWAY: no call is left on it
    }
  }

  // Opens streams for queued calls while the server's concurrency limit allows.
  void Pump() {
    // Before the server's SETTINGS its stream limit is unknown: streams opened beyond it would be
    // refused. Waiting costs one round trip per connection.
    if (state_ != State::kOpen || going_away_ || !settings_received_) return;
    const uint32_t streams_max =
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    while (!queue_.empty() && streams_.size() < streams_max) {
      std::shared_ptr<CallImpl> call = std::move(queue_.front());
      queue_.pop_front();
      if (!call->done) Submit(std::move(call));
    }
  }

  void Submit(std::shared_ptr<CallImpl> call) {
    std::vector<nghttp2_nv> nv = {
        Nv(":method", "POST"),
        Nv(":scheme", "http"),
        Nv(":path", kModelStreamInferMethod),
        Nv(":authority", o_.authority),
        Nv("content-type", "application/grpc"),
        Nv("te", "trailers"),
        Nv("user-agent", o_.user_agent),
    };
    for (const auto& [name, value] : call->metadata) nv.push_back(Nv(name, value));
    nghttp2_data_provider body{};
    body.source.ptr = call.get();
    body.read_callback = &Connection::ReadBody;
    const int32_t id =
        nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &body, call.get());
    if (id < 0) {
      impl_->Finish(call.get(),
                    grpc::Status(grpc::StatusCode::INTERNAL,
                                 fmt::format("nghttp2_submit_request: {}", nghttp2_strerror(id))));
      return;
    }
    call->stream_id = id;
    streams_.emplace(id, std::move(call));
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto* call = static_cast<CallImpl*>(source->ptr);
    size_t n = 0;
    switch (call->body.ReadInto(buf, length, &n)) {
      case GrpcRequestBody::Read::kEnd:
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;  // the last request: half-close
        break;
      case GrpcRequestBody::Read::kEmpty:
        call->data_deferred = true;  // an open call: Write or CloseWrites resumes it
        return NGHTTP2_ERR_DEFERRED;
      case GrpcRequestBody::Read::kData:
        break;
    }
    return static_cast<ssize_t>(n);
  }

  static int OnData(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                    size_t len, void* user) {
    auto* self = static_cast<Connection*>(user);
    auto* call = static_cast<CallImpl*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (call == nullptr || call->done) {
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    call->unconsumed_bytes += len;
    const bool ok = call->reader.Feed(data, len, [call](const uint8_t* m, size_t n) {
      const std::string_view message(reinterpret_cast<const char*>(m), n);
      if (call->paused) {
        call->held.emplace_back(message);
      } else if (!call->sink->OnMessage(message)) {
        call->paused = true;
      }
    });
    if (!ok) {
      const bool too_long = call->reader.error() == GrpcMessageReader::Error::kTooLong;
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      self->impl_->Finish(
          call,
          grpc::Status(too_long ? grpc::StatusCode::RESOURCE_EXHAUSTED : grpc::StatusCode::INTERNAL,
                       too_long ? fmt::format("a response message is longer than {} bytes",
                                              self->o_.message_bytes_max)
                                : std::string("a response message is compressed")));
      return 0;
    }
    if (!call->paused) self->ConsumeAll(call);
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto* call =
        static_cast<CallImpl*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (call == nullptr || call->done) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      call->http_status = std::atoi(std::string(v).c_str());
    } else if (n == "grpc-status") {
      const int code = std::atoi(std::string(v).c_str());
      call->grpc_status = (code >= 0 && code <= 16 && !v.empty()) ? code : 2;  // 2: UNKNOWN
    } else if (n == "grpc-message") {
      call->grpc_message = PercentDecode(v);
    }
    return 0;
  }

  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Connection*>(user);
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      self->settings_received_ = true;  // Pump (after mem_recv) now knows the stream limit
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
      // nghttp2 closes the streams above last_stream_id (REFUSED_STREAM: UNAVAILABLE below).
      self->going_away_ = true;
      self->impl_->OnGoaway(self);
    }
    return 0;
  }

  static int OnClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* self = static_cast<Connection*>(user);
    auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end()) return 0;
    std::shared_ptr<CallImpl> call = std::move(it->second);
    self->streams_.erase(it);
    if (call->done) return 0;
    const grpc::Status status = StatusOnClose(*call, error_code);
    if (call->paused && !call->held.empty() && error_code == NGHTTP2_NO_ERROR) {
      call->deferred_done = status;  // after the held messages, on Resume
      return 0;
    }
    self->impl_->Finish(call.get(), status);
    return 0;
  }

  static grpc::Status StatusOnClose(const CallImpl& call, uint32_t error_code) {
    switch (error_code) {
      case NGHTTP2_NO_ERROR:
        break;
      case NGHTTP2_REFUSED_STREAM:  // never processed: the caller may retry elsewhere
        return Unavailable("the worker refused the stream");
      case NGHTTP2_CANCEL:
        return grpc::Status(grpc::StatusCode::CANCELLED, "the worker cancelled the stream");
      default:
        return grpc::Status(grpc::StatusCode::INTERNAL,
                            fmt::format("stream reset: {}", nghttp2_http2_strerror(error_code)));
    }
    if (call.http_status != 200) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          fmt::format("HTTP status {}", call.http_status));
    }
    if (!call.grpc_status) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "the call ended without grpc-status");
    }
    if (*call.grpc_status == 0 && call.reader.pending() > 0) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "the call ended inside a message");
    }
    return grpc::Status(static_cast<grpc::StatusCode>(*call.grpc_status), call.grpc_message);
  }

  H2StreamClient::Impl* const impl_;
  const H2StreamClient::Options& o_;
  asio::generic::stream_protocol::socket socket_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  State state_ = State::kIdle;
  bool going_away_ = false;
  bool settings_received_ = false;
  bool writing_ = false;
  nghttp2_session* session_ = nullptr;
  std::deque<std::shared_ptr<CallImpl>> queue_;  // waiting for a stream (kH2QueuedCallsMax)
  std::unordered_map<int32_t, std::shared_ptr<CallImpl>> streams_;  // open streams
  std::vector<uint8_t> rbuf_;
  std::string wbuf_;  // the write in flight (<= kH2WriteBytesMax plus one frame)
};

void H2StreamClient::Impl::Route(std::shared_ptr<CallImpl> call) {
  if (current_ == nullptr || !current_->accepting()) {
    current_ = std::make_shared<Connection>(this, ioc_);
    connections_.emplace(current_.get(), current_);
    current_->Connect();
  }
  std::shared_ptr<Connection> connection = current_;
  connection->Enqueue(std::move(call));
}

void H2StreamClient::Impl::ResumeOnThread(const std::shared_ptr<CallImpl>& call) {
  if (call->done || !call->paused) return;
  call->paused = false;
  while (!call->held.empty()) {
    const std::string message = std::move(call->held.front());
    call->held.pop_front();
    if (!call->sink->OnMessage(message)) {
      call->paused = true;
      return;
    }
  }
  if (call->deferred_done) {
    Finish(call.get(), *call->deferred_done);
    return;
  }
  if (std::shared_ptr<Connection> connection = call->conn.lock()) {
    connection->ConsumeAll(call.get());
    connection->Flush();
  }
}

void H2StreamClient::Impl::WriteOnThread(const std::shared_ptr<CallImpl>& call, std::string request,
                                         bool close) {
  if (call->done || call->body.closed()) return;  // OnDone tells the caller
  if (close) {
    call->body.Close();
  } else {
    call->body.Append(request);
  }
  if (std::shared_ptr<Connection> connection = call->conn.lock())
    connection->ResumeBody(call.get());
}

void H2StreamClient::Impl::CancelOnThread(const std::shared_ptr<CallImpl>& call) {
  if (call->done) return;
  std::shared_ptr<Connection> connection = call->conn.lock();
  if (connection != nullptr) connection->Cancel(call.get());
  Finish(call.get(), grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the gateway"));
  if (connection != nullptr) connection->Flush();
}

void H2StreamClient::Impl::Finish(CallImpl* call, const grpc::Status& status) {
  if (call->done) return;
  std::shared_ptr<CallImpl> keep = call->shared_from_this();
  call->done = true;
  call->paused = false;
  call->held.clear();
  call->deferred_done.reset();
  if (std::shared_ptr<Connection> connection = call->conn.lock()) connection->ConsumeAll(call);
  std::shared_ptr<Sink> sink = std::move(call->sink);
  live_.erase(call);
  sink->OnDone(status);
}

void H2StreamClient::Impl::OnConnectionClosed(Connection* connection) {
  if (current_.get() == connection) current_.reset();
  connections_.erase(connection);
}

void H2StreamClient::Impl::Shutdown() {
  stopped_ = true;
  auto connections = connections_;
  for (auto& [raw, connection] : connections) {
    connection->Close(Unavailable("the client is shut down"));
  }
  auto live = live_;  // paused calls whose stream has ended
  for (auto& [raw, call] : live) Finish(raw, Unavailable("the client is shut down"));
}

void CallImpl::Resume() {
  if (std::shared_ptr<H2StreamClient::Impl> impl = client.lock()) {
    H2StreamClient::Impl* raw = impl.get();  // runs only on the thread, which Impl outlives
    asio::post(raw->ioc(), [raw, self = shared_from_this()] { raw->ResumeOnThread(self); });
  }
}

void CallImpl::Cancel() {
  if (std::shared_ptr<H2StreamClient::Impl> impl = client.lock()) {
    H2StreamClient::Impl* raw = impl.get();
    asio::post(raw->ioc(), [raw, self = shared_from_this()] { raw->CancelOnThread(self); });
  }
}

void CallImpl::Write(std::string request) {
  if (std::shared_ptr<H2StreamClient::Impl> impl = client.lock()) {
    H2StreamClient::Impl* raw = impl.get();
    asio::post(raw->ioc(),
               [raw, self = shared_from_this(), request = std::move(request)]() mutable {
                 raw->WriteOnThread(self, std::move(request), false);
               });
  }
}

void CallImpl::CloseWrites() {
  if (std::shared_ptr<H2StreamClient::Impl> impl = client.lock()) {
    H2StreamClient::Impl* raw = impl.get();
    asio::post(raw->ioc(),
               [raw, self = shared_from_this()] { raw->WriteOnThread(self, {}, true); });
  }
}

H2StreamClient::H2StreamClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<H2StreamClient> H2StreamClient::Create(Options options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  impl->Run(impl);
  return std::unique_ptr<H2StreamClient>(new H2StreamClient(std::move(impl)));
}

H2StreamClient::~H2StreamClient() { impl_->Stop(); }

std::shared_ptr<H2StreamClient::Call> H2StreamClient::Start(std::string request, Metadata metadata,
                                                            std::shared_ptr<Sink> sink,
                                                            bool close_writes) {
  auto call = std::make_shared<CallImpl>(impl_, request, close_writes, std::move(metadata),
                                         std::move(sink), impl_->options().message_bytes_max);
  asio::post(impl_->ioc(), [raw = impl_.get(), call] { raw->StartOnThread(call); });
  return call;
}

}  // namespace inference::gateway

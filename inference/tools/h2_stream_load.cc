#include "inference/tools/h2_stream_load.h"

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inference/kserve/stream_protocol.h"
#include "inference/kserve/stream_response_view.h"
#include "inference/tools/tcp_connect.h"

namespace inference {

namespace {

using Clock = std::chrono::steady_clock;

struct Stream {
  explicit Stream(size_t response_bytes_max) : reader(response_bytes_max) {}
  int index = 0;
  int32_t id = -1;
  int done = 0;       // generations completed
  int call_done = 0;  // of which on the current call
  bool awaiting_first = false;
  Clock::time_point sent;
  GrpcRequestBody body;  // the current call's requests; closed once every request is queued
  GrpcMessageReader reader;
  std::string grpc_status;  // from the trailers
  int http_status = 0;
  bool failed = false;  // counted as an error already
};

class Load {
 public:
  explicit Load(const H2StreamLoadOptions& o) : o_(o) {}

  ~Load() {
    if (session_ != nullptr) nghttp2_session_del(session_);
    if (fd_ >= 0) ::close(fd_);
  }

  absl::StatusOr<H2StreamLoadResult> Run() {
    if (absl::Status s = Connect(); !s.ok()) return s;
    if (absl::Status s = Open(); !s.ok()) return s;
    std::vector<uint8_t> in(1 << 16);
    while (live_ > 0) {
      if (absl::Status s = Flush(); !s.ok()) return s;
      const ssize_t n = ::recv(fd_, in.data(), in.size(), 0);
      if (n == 0) return absl::UnavailableError("the server closed the connection");
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
      }
      const ssize_t used = nghttp2_session_mem_recv(session_, in.data(), static_cast<size_t>(n));
      if (used < 0) {
        return absl::InternalError(
            absl::StrCat("HTTP/2: ", nghttp2_strerror(static_cast<int>(used))));
      }
    }
    return std::move(result_);
  }

 private:
  absl::Status Connect() {
    absl::StatusOr<int> fd = ConnectTcp(o_.host, o_.port);
    if (!fd.ok()) return fd.status();
    fd_ = *fd;
    return absl::OkStatus();
  }

  absl::Status Open() {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return absl::InternalError("nghttp2");
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Load::OnData);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &Load::OnHeader);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Load::OnClose);
    const int rc = nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rc != 0) return absl::InternalError(absl::StrCat("nghttp2: ", nghttp2_strerror(rc)));
    // Windows as large as a gRPC client's after its BDP probing: flow control never paces this
    // load.
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 22},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 1 << 26);

    authority_ = absl::StrCat(o_.host, ":", o_.port);
    authorization_ = "Bearer " + o_.api_key;
    auto nv = [](std::string_view name, std::string_view value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                        value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    headers_ = {
        nv(":method", "POST"),
        nv(":scheme", "http"),
        nv(":path", kModelStreamInferMethod),
        nv(":authority", authority_),
        nv("content-type", "application/grpc"),
        nv("te", "trailers"),
    };
    if (!o_.api_key.empty()) headers_.push_back(nv("authorization", authorization_));

    streams_.reserve(static_cast<size_t>(o_.streams));
    for (int s = 0; s < o_.streams; ++s) {
      streams_.push_back(std::make_unique<Stream>(o_.response_bytes_max));
      Stream* st = streams_.back().get();
      st->index = s;
      if (absl::Status status = StartCall(st); !status.ok()) return status;
      ++live_;
    }
    return absl::OkStatus();
  }

  // Opens a call for the stream's next generation (and, without call_per_generation, the ones
  // after it).
  absl::Status StartCall(Stream* st) {
    st->body = GrpcRequestBody();
    QueueRequest(st);
    if (o_.call_per_generation) st->body.Close();
    st->call_done = 0;
    st->grpc_status.clear();
    st->http_status = 0;
    nghttp2_data_provider body{};
    body.source.ptr = st;
    body.read_callback = &Load::ReadBody;
    st->id = nghttp2_submit_request(session_, nullptr, headers_.data(), headers_.size(), &body, st);
    if (st->id < 0) {
      return absl::InternalError(
          absl::StrCat("nghttp2_submit_request: ", nghttp2_strerror(st->id)));
    }
    return absl::OkStatus();
  }

  // Hands nghttp2's pending frames to the socket in one write.
  absl::Status Flush() {
    wbuf_.clear();
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        return absl::InternalError(absl::StrCat("HTTP/2: ", nghttp2_strerror(static_cast<int>(n))));
      }
      if (n == 0) break;
      wbuf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    size_t off = 0;
    while (off < wbuf_.size()) {
      const ssize_t n = ::send(fd_, wbuf_.data() + off, wbuf_.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
      }
      off += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  void QueueRequest(Stream* st) {
    st->body.Append(o_.make_request(st->index, st->done));
    st->sent = Clock::now();
    st->awaiting_first = true;
  }

  void Fail(Stream* st) {
    if (st->failed) return;
    st->failed = true;
    ++result_.errors;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
  }

  void OnMessage(Stream* st, const uint8_t* data, size_t size) {
    if (st->failed) return;
    StreamResponseView& r = response_;
    if (!ReadStreamResponse(std::string_view(reinterpret_cast<const char*>(data), size), &r) ||
        !r.error_message.empty()) {
      Fail(st);
      return;
    }
    if (st->awaiting_first) {
      result_.ttft_ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - st->sent).count());
      st->awaiting_first = false;
    }
    ++result_.tokens;
    if (!r.final) return;
    ++st->call_done;
    if (o_.call_per_generation) {
      ++st->done;  // the call half-closed with its request; OnClose opens the next
      return;
    }
    if (++st->done < o_.requests) {
      QueueRequest(st);
    } else {
      st->body.Close();
    }
    nghttp2_session_resume_data(session_, st->id);
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto* st = static_cast<Stream*>(source->ptr);
    size_t n = 0;
    switch (st->body.ReadInto(buf, length, &n)) {
      case GrpcRequestBody::Read::kEnd:
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        break;
      case GrpcRequestBody::Read::kEmpty:
        return NGHTTP2_ERR_DEFERRED;  // QueueRequest or Close, then resume_data
      case GrpcRequestBody::Read::kData:
        break;
    }
    return static_cast<ssize_t>(n);
  }

  static int OnData(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                    size_t len, void* user) {
    auto* self = static_cast<Load*>(user);
    auto* st = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (st == nullptr || st->failed) return 0;
    if (!st->reader.Feed(data, len,
                         [&](const uint8_t* m, size_t n) { self->OnMessage(st, m, n); })) {
      self->Fail(st);
    }
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto* st =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (st == nullptr) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") st->http_status = std::atoi(std::string(v).c_str());
    if (n == "grpc-status") st->grpc_status.assign(v);
    return 0;
  }

  static int OnClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user) {
    auto* self = static_cast<Load*>(user);
    auto* st = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (st == nullptr) return 0;
    const int expected = self->o_.call_per_generation ? 1 : self->o_.requests;
    const bool ok = error_code == NGHTTP2_NO_ERROR && st->http_status == 200 &&
                    st->grpc_status == "0" && st->call_done == expected;
    if (!ok && !st->failed) {
      st->failed = true;
      ++self->result_.errors;
    }
    if (ok && st->done < self->o_.requests) {  // call_per_generation: the next call
      if (self->StartCall(st).ok()) return 0;
      ++self->result_.errors;
    }
    --self->live_;
    return 0;
  }

  const H2StreamLoadOptions& o_;
  int fd_ = -1;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Stream>> streams_;
  StreamResponseView response_;      // the message being read (views into nghttp2's bytes)
  std::vector<nghttp2_nv> headers_;  // views of o_ and of the strings below
  std::string authority_, authorization_;
  int live_ = 0;
  std::string wbuf_;
  H2StreamLoadResult result_;
};

}  // namespace

absl::StatusOr<H2StreamLoadResult> RunH2StreamLoad(const H2StreamLoadOptions& options) {
  Load load(options);
  return load.Run();
}

}  // namespace inference

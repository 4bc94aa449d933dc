#pragma once
// H2StreamClient: the gateway's upstream client for ModelStreamInfer on nghttp2.
//
// gRPC C++'s callback client costs about 4 us of CPU per streamed token and makes each token wait
// 370-460 us for a gRPC thread; nghttp2 frames and deframes the same HTTP/2 and gRPC bytes for a
// fraction of that (as Envoy relays gRPC). The wire is what a gRPC client sends: HEADERS with the
// gRPC content type, length-prefixed messages in DATA, grpc-status in the trailers.

#include <grpcpp/support/status.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inference/gateway/endpoints/endpoint_set.h"

namespace inference::gateway {

// Calls waiting for a stream slot (beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS, or while
// the connection is being made) per connection; one more fails with RESOURCE_EXHAUSTED.
inline constexpr size_t kH2QueuedCallsMax = 1024;
// The connection-level receive window. Large: it is shared by every call, and what a paused call
// may buffer is bounded by its own stream window.
inline constexpr int kH2ConnectionWindowBytes = 1 << 30;
// Bytes read from the socket at a time, and gathered from nghttp2 into one write at most.
inline constexpr size_t kH2ReadBytes = 64 << 10;
inline constexpr size_t kH2WriteBytesMax = 1 << 20;

// One HTTP/2 connection (nghttp2, plaintext) to one worker's gRPC port, carrying ModelStreamInfer
// calls: each call sends one request message, half-closes, and reads response messages until the
// worker's trailers.
//
// Threading: the client owns one thread running an io_context; the socket, the nghttp2 session
// and every Sink callback live on it. Start, Call::Resume and Call::Cancel may be called from any
// thread (they post to the client's thread), also from inside Sink callbacks. Sink callbacks must
// not block: they hold up every call of the client.
//
// Flow control: the client sends WINDOW_UPDATE for a call's bytes only as their messages are
// handed to the Sink (nghttp2 with no automatic window updates), so a paused call holds at most
// about stream_window_bytes (plus one partly received message) and the worker's writes stall.
//
// Streams open once the server's first SETTINGS arrived (one round trip per connection), so its
// SETTINGS_MAX_CONCURRENT_STREAMS is known; calls beyond it wait in a queue (kH2QueuedCallsMax).
//
// Failure: calls are never retried. When the connection breaks or cannot be made every open or
// queued call ends with UNAVAILABLE (INTERNAL when the server broke the HTTP/2 protocol), and the
// next Start makes a new connection. After a GOAWAY,
// calls above its last stream id end UNAVAILABLE, calls below it finish on the old connection,
// and new calls (including ones still queued) go to a new connection.
class H2StreamClient {
 public:
  struct Options {
    UpstreamAddress address;  // "host:port" (resolved on each connect) or a unix socket path
    // :authority; default address.ToString(), or "localhost" for a unix socket (as gRPC's client).
    std::string authority;
    std::string user_agent = "infer-gateway-h2";
    // A longer response message fails the call (RESOURCE_EXHAUSTED).
    size_t message_bytes_max = 64 << 20;
    // Per-call HTTP/2 receive window: what a paused call may buffer.
    int stream_window_bytes = 256 << 10;
    int connect_timeout_ms = 2000;  // resolve + connect; past it the waiting calls get UNAVAILABLE
  };
  class Sink {
   public:
    virtual ~Sink() = default;
    // One response message (a serialized ModelStreamInferResponse), on the client's thread, in
    // order. Return false to pause: no more messages and no WINDOW_UPDATE for this call until
    // Call::Resume(); bytes that already arrived wait in the call (bounded by the window).
    virtual bool OnMessage(std::string_view message) = 0;
    // Exactly once, last, on the client's thread: the grpc-status/grpc-message of the trailers
    // (OK after the last message), UNAVAILABLE when the connection failed or could not be made,
    // CANCELLED after Cancel(), INTERNAL on a protocol error (bad framing, HTTP status != 200).
    // Trailers that arrive while messages are held (paused) wait for Resume() and those messages.
    virtual void OnDone(const grpc::Status& status) = 0;
  };
  class Call {
   public:
    virtual ~Call() = default;
    virtual void Resume() = 0;  // any thread; no-op when not paused or done
    virtual void
    Cancel() = 0;  // any thread; RST_STREAM(CANCEL); OnDone(CANCELLED) unless already done
    // Calls started with close_writes false: another request message on the call (any thread;
    // ignored once the call is done or half-closed), and the half-close.
    virtual void Write(std::string request) = 0;
    virtual void CloseWrites() = 0;
  };

  // Starts the client's thread; the connection is made on the first call (and again after it
  // fails).
  static std::unique_ptr<H2StreamClient> Create(Options options);
  // Ends open calls with UNAVAILABLE (OnDone runs before it returns), joins the thread. No Start
  // may run concurrently with it; Resume and Cancel of its calls may, and are no-ops after it.
  // From a Sink callback (the client's own thread: the callback released the last owner) it
  // returns at once, and the thread ends the calls and then itself.
  ~H2StreamClient();

  H2StreamClient(const H2StreamClient&) = delete;
  H2StreamClient& operator=(const H2StreamClient&) = delete;

  // Any thread. Sends `request` (one serialized ModelInferRequest; the client adds the gRPC 5-byte
  // prefix) with `metadata` as extra headers (lowercase names, e.g. {"traceparent", ...}),
  // half-closed unless `close_writes` is false (then Call::Write sends more requests and
  // Call::CloseWrites half-closes). The client holds `sink` until OnDone. Never calls the sink from
  // inside Start().
  std::shared_ptr<Call> Start(std::string request,
                              std::vector<std::pair<std::string, std::string>> metadata,
                              std::shared_ptr<Sink> sink, bool close_writes = true);

  class Impl;  // internal (h2_stream_client.cc)

 private:
  explicit H2StreamClient(std::shared_ptr<Impl> impl);

  std::shared_ptr<Impl> impl_;
};

}  // namespace inference::gateway

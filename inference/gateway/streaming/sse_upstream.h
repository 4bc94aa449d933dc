#pragma once
// SseUpstream: an upstream ModelStreamInfer call that carries SSE generations one after another.
//
// The gateway's SSE endpoint used to open a call per generation (headers, a new stream and a new
// reactor in the worker), which cost a generation's first token 0.4-0.8 ms at 32 streams
// (docs/benchmarks.md). A generation that ended with its final response leaves the call idle in
// StreamProxy's pool, and a later generation routed to the same worker takes it. One generation at
// a time per call, so back-pressure stays per generation: a slow SSE reader pauses only its own
// call. A generation that ends any other way (error, stall, client gone) cancels its call.
//
// The call is a gRPC C++ one (UpstreamStream) or, when the endpoint has an H2StreamClient
// (streaming.sse_upstream: h2), an nghttp2 one opened by the first Begin and left open
// (close_writes false) for the next generations.
//
// Thread safety: every method may be called from any thread. User callbacks run on gRPC threads
// (or the H2StreamClient's thread) without the call's lock held.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/upstream_stream.h"
#include "inference/gateway/upstream/h2_stream_client.h"

namespace inference::gateway {

struct GrpcUpstream;

class SseUpstream final : public UpstreamStream::Sink, public H2StreamClient::Sink {
 public:
  // The generation the call serves.
  class User {
   public:
    virtual ~User() = default;
    // A serialized ModelStreamInferResponse (`readable` false: its bytes could not be had, read
    // as malformed); false pauses reading until Resume().
    virtual bool OnUpstreamResponse(std::string_view response, bool readable) = 0;
    // The call ended while serving this user.
    virtual void OnUpstreamDone(const grpc::Status& status) = 0;
  };

  // Opens a call to `endpoint` (no deadline: the SSE watchdog times generations): on `h2` when
  // not null (the call starts with the first Begin), else on `grpc`.
  static std::shared_ptr<SseUpstream> Open(EndpointPtr endpoint, GrpcUpstream* grpc,
                                           H2StreamClient* h2, std::string_view traceparent);

  // Serves `user` with `request` (a serialized ModelInferRequest); false (nothing sent) when the
  // call has ended or serves someone else.
  bool Begin(std::shared_ptr<User> user, const std::string& request);
  // The user is done with the call. `idle`: its final response arrived, so nothing more is due on
  // the call and it may serve another generation; otherwise the call is cancelled.
  void Release(bool idle);
  void Resume();
  // Ends the call: half-closes an idle one (the worker finishes it), cancels a busy one.
  void Close();

  const EndpointPtr& endpoint() const { return endpoint_; }
  // Idle and still open.
  bool Reusable();
  int64_t idle_since_ns() const { return idle_since_ns_; }
  void set_idle_since_ns(int64_t ns) { idle_since_ns_ = ns; }

  // UpstreamStream::Sink
  bool OnUpstreamResponse(UpstreamStream* from, grpc::ByteBuffer* response) override;
  void OnUpstreamWritable(UpstreamStream*) override {}
  void OnUpstreamDone(UpstreamStream* from, const grpc::Status& status) override;
  // H2StreamClient::Sink
  bool OnMessage(std::string_view message) override;
  void OnDone(const grpc::Status& status) override;

 private:
  explicit SseUpstream(EndpointPtr endpoint) : endpoint_(std::move(endpoint)) {}

  const EndpointPtr endpoint_;
  bool Deliver(std::string_view response, bool readable);
  void Done(const grpc::Status& status);

  std::shared_ptr<UpstreamStream> stream_;         // set once in Open (gRPC), or
  H2StreamClient* h2_ = nullptr;                   // set once in Open (nghttp2), and
  std::shared_ptr<H2StreamClient::Call> h2_call_;  // its call, from the first Begin (under mu_)
  std::string traceparent_;
  std::shared_ptr<SseUpstream> self_;  // until OnUpstreamDone: the stream's sink must live
  int64_t idle_since_ns_ = 0;          // StreamProxy's pool only (under its lock)

  std::mutex mu_;
  std::shared_ptr<User> user_;
  bool ended_ = false;
};

}  // namespace inference::gateway

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
// Thread safety: every method may be called from any thread. User callbacks run on gRPC threads
// without the call's lock held.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/upstream_stream.h"

namespace inference::gateway {

struct GrpcUpstream;

class SseUpstream final : public UpstreamStream::Sink {
 public:
  // The generation the call serves.
  class User {
   public:
    virtual ~User() = default;
    // A serialized ModelStreamInferResponse; false pauses reading until Resume().
    virtual bool OnUpstreamResponse(grpc::ByteBuffer* response) = 0;
    // The call ended while serving this user.
    virtual void OnUpstreamDone(const grpc::Status& status) = 0;
  };

  // Opens a call to `endpoint` (no deadline: the SSE watchdog times generations).
  static std::shared_ptr<SseUpstream> Open(EndpointPtr endpoint, GrpcUpstream* grpc,
                                           std::string_view traceparent);

  // Serves `user` with `request` (a serialized ModelInferRequest); false (nothing sent) when the
  // call has ended or serves someone else.
  bool Begin(std::shared_ptr<User> user, grpc::ByteBuffer request);
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

 private:
  explicit SseUpstream(EndpointPtr endpoint) : endpoint_(std::move(endpoint)) {}

  const EndpointPtr endpoint_;
  std::shared_ptr<UpstreamStream> stream_;  // set once in Open
  std::shared_ptr<SseUpstream> self_;       // until OnUpstreamDone: the stream's sink must live
  int64_t idle_since_ns_ = 0;               // StreamProxy's pool only (under its lock)

  std::mutex mu_;
  std::shared_ptr<User> user_;
  bool ended_ = false;
};

}  // namespace inference::gateway

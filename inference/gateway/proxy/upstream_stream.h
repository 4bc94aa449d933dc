#pragma once
// UpstreamStream: one ModelStreamInfer call from the gateway to one worker, driven by a Sink (the
// downstream gRPC stream or SSE response it serves).
//
// Raw: requests and responses travel as serialized protobuf (grpc::ByteBuffer, through the
// channel's GenericStub), so the gRPC relay forwards a worker's response without parsing and
// re-serialising it (slices are reference-counted, not copied); the SSE sink parses what it needs.
//
// Flow control, both ways bounded:
//  - writes: one in flight; Write() queues and reports kFull once `write_queue_max` requests wait,
//    and the Sink gets OnUpstreamWritable() when the queue has room again (the downstream stops
//    reading its client meanwhile, so back-pressure reaches the client through HTTP/2);
//  - reads: one in flight; the Sink's OnUpstreamResponse() returns false to stop reading (its own
//    queue is full) and calls Resume() once it has room, so the worker's sends block in HTTP/2 and
//    its own stream window stops production.
//
// Lifetime: Start() returns a shared_ptr and the stream keeps itself alive until gRPC's OnDone,
// which calls Sink::OnUpstreamDone() once, last. The Sink must outlive that call. Every public
// method may be called from any thread until then (later calls do nothing): the reactor holds a
// gRPC hold while its read side is open, and the methods start operations only under that hold.

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

namespace inference::gateway {

struct GrpcUpstream;

class UpstreamStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    // A serialized ModelStreamInferResponse (owned by the stream; swap it out to keep it). Return
    // false to stop reading until Resume(). Called from gRPC threads, one response at a time per
    // stream.
    virtual bool OnUpstreamResponse(UpstreamStream* from, grpc::ByteBuffer* response) = 0;
    // The write queue has room again after Write() returned kFull.
    virtual void OnUpstreamWritable(UpstreamStream* from) = 0;
    // The call ended (after its last response): OK when the worker finished the stream after
    // CloseWrites(), the error otherwise (UNAVAILABLE when the worker went away).
    virtual void OnUpstreamDone(UpstreamStream* from, const grpc::Status& status) = 0;
  };

  enum class WriteResult { kQueued, kFull, kEnded };

  // Opens the call on `upstream` with `context` (deadline, metadata, cancellation already set).
  static std::shared_ptr<UpstreamStream> Start(GrpcUpstream* upstream,
                                               std::unique_ptr<grpc::ClientContext> context,
                                               Sink* sink, size_t write_queue_max);

  // Queues one serialized ModelInferRequest. kFull: queued, but the caller should wait for
  // OnUpstreamWritable before the next one. kEnded: the call has ended; nothing was queued.
  WriteResult Write(grpc::ByteBuffer request);
  // Half-closes after the queued writes.
  void CloseWrites();
  // Reads the next response after OnUpstreamResponse returned false.
  void Resume();
  // Cancels the call (the worker sees CANCELLED); OnUpstreamDone follows.
  void Cancel();

  // gRPC reactions.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  UpstreamStream(std::unique_ptr<grpc::ClientContext> context, Sink* sink, size_t write_queue_max);
  // Starts the next write or the half-close when nothing is in flight (mu_ held); the last
  // write after CloseWrites() carries the half-close (WriteLast).
  void PumpLocked();

  std::unique_ptr<grpc::ClientContext> context_;
  Sink* const sink_;
  const size_t write_queue_max_;
  std::shared_ptr<UpstreamStream> self_;  // released in OnDone
  grpc::ByteBuffer response_;             // owned by the read in flight

  std::mutex mu_;
  std::deque<grpc::ByteBuffer> writes_;  // front is in flight when write_in_flight_
  bool write_in_flight_ = false;
  bool want_writable_ = false;
  bool close_writes_ = false;
  bool writes_closed_ = false;
  bool write_failed_ = false;
  bool reading_ = false;           // a read is in flight
  bool delivering_ = false;        // OnUpstreamResponse is running
  bool resume_requested_ = false;  // Resume() while delivering
  bool cancelled_ = false;
  bool ended_ = false;  // read side over and hold released: start nothing more
};

}  // namespace inference::gateway

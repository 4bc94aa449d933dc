// Closed-loop gRPC load: `load.connections` unary calls in flight at all times, multiplexed over
// `channels` HTTP/2 connections (see closed_loop.h for the loop, warm-up and measured window).
//
// Protocol-agnostic: calls go through grpc::GenericStub with already serialized messages, so the
// client never re-serializes a fixed request and the driver needs no generated code. The request of
// each call is rendered by a callback (a fixed request is a refcounted ByteBuffer copy, no bytes
// copied); the response is classified by another. Example, 64 calls in flight for 10 s:
//
//   loadgen::GrpcLoadOptions o;
//   o.target = "127.0.0.1:8001";
//   o.method = "/inference.GRPCInferenceService/ModelInfer";
//   o.load.connections = 64;
//   o.load.duration = std::chrono::seconds(10);
//   grpc::ByteBuffer req = ...;  // e.g. grpc::GenericSerialize of a ModelInferRequest
//   auto r = loadgen::RunGrpcLoad(o, [&](uint64_t, grpc::ByteBuffer* out) { *out = req; });
//
// Threads: the closed-loop runner's `load.threads` io threads issue calls and run both callbacks
// (renderer and classifier run on the calling session's io thread, so with load.threads > 1 they
// must be safe to call concurrently); `cq_threads` completion-queue threads only hand completions
// back to those io threads.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "bench/loadgen/closed_loop.h"

namespace loadgen {

// Renders the serialized request message of call number `seq` into `*out`.
using GrpcRequestRenderer = std::function<void(uint64_t seq, grpc::ByteBuffer* out)>;
// Classifies the outcome of call `seq`; `response` is empty unless `status` is OK.
using GrpcResponseClassifier = std::function<Counts(uint64_t seq, const grpc::Status& status,
                                                    const grpc::ByteBuffer& response)>;

// Default classifier: OK is one ok operation, RESOURCE_EXHAUSTED (the server shed the call) one
// rejected, anything else one error.
Counts ClassifyByGrpcStatus(uint64_t seq, const grpc::Status& status,
                            const grpc::ByteBuffer& response);

// Limits of one run.
inline constexpr int kGrpcChannelsMax = 64;
inline constexpr int kGrpcCqThreadsMax = 16;

struct GrpcLoadOptions {
  std::string target = "127.0.0.1:8001";  // host:port or unix:/path
  std::string method;                     // full method name: "/package.Service/Method"
  // Distinct HTTP/2 connections (each its own subchannel); calls are spread round-robin.
  int channels = 2;
  int cq_threads = 1;
  // Per-call deadline; a call that exceeds it counts as an error (DEADLINE_EXCEEDED).
  std::chrono::milliseconds call_timeout{10000};
  int message_bytes_max = 64 << 20;
  std::chrono::milliseconds connect_timeout{5000};
  LoadOptions load;  // load.connections = concurrent calls in flight
};

// Connects every channel first (Unavailable if one does not become ready within connect_timeout),
// then runs the closed loop.
absl::StatusOr<LoadResult> RunGrpcLoad(
    const GrpcLoadOptions& options, const GrpcRequestRenderer& render,
    const GrpcResponseClassifier& classify = ClassifyByGrpcStatus);

}  // namespace loadgen

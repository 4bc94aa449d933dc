#pragma once
// GrpcUpstream: the gateway's gRPC client to one worker (its KServe GRPCInferenceService).
//
// One channel per endpoint (one HTTP/2 connection, multiplexed), created when the endpoint is
// attached and dropped with it. `generic` forwards ModelInfer as opaque bytes (see
// proxy/infer_request_wire.h); `stub` serves the small typed RPCs (metadata, readiness,
// repository). Reconnect backoff is short (kGrpcReconnectBackoffMsMax) because a supervised
// worker restarts on the same socket within seconds.
//
// Thread safety: immutable after Create; gRPC stubs and channels are thread-safe.

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <string>

#include "inference/grpc_predict_v2.grpc.pb.h"

namespace inference::gateway {

inline constexpr int kGrpcMessageBytesMax = 64 << 20;
inline constexpr int kGrpcReconnectBackoffMsMax = 1000;

struct GrpcUpstream {
  // `target`: a gRPC target, e.g. "unix:/run/w0.grpc.sock" or "127.0.0.1:8001".
  static std::shared_ptr<GrpcUpstream> Create(const std::string& target);

  std::string target;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::inference::GRPCInferenceService::Stub> stub;
  std::unique_ptr<grpc::GenericStub> generic;
};

}  // namespace inference::gateway

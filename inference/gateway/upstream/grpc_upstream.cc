#include "inference/gateway/upstream/grpc_upstream.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace inference::gateway {

std::shared_ptr<GrpcUpstream> GrpcUpstream::Create(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kGrpcMessageBytesMax);
  args.SetMaxSendMessageSize(kGrpcMessageBytesMax);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kGrpcReconnectBackoffMsMax);
  // A channel of its own per endpoint, even when two endpoints share a target over time.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto u = std::make_shared<GrpcUpstream>();
  u->target = target;
  u->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  u->stub = ::inference::GRPCInferenceService::NewStub(u->channel);
  u->generic = std::make_unique<grpc::GenericStub>(u->channel);
  return u;
}

}  // namespace inference::gateway

#include "inference/gateway/proxy/grpc_proxy.h"

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

TEST(GrpcProxyTest, OnlyFailuresBeforeTheModelAreRetried) {
  using grpc::Status;
  using grpc::StatusCode;
  EXPECT_TRUE(GrpcProxy::FailedBeforeModel(
      Status(StatusCode::UNAVAILABLE,
             "failed to connect to all addresses; last error: UNKNOWN: unix:/w0.grpc.sock: "
             "Connection refused")));
  EXPECT_TRUE(GrpcProxy::FailedBeforeModel(
      Status(StatusCode::UNAVAILABLE, "model 'mlp' has no ready version")));
  EXPECT_TRUE(
      GrpcProxy::FailedBeforeModel(Status(StatusCode::UNAVAILABLE, "model version is unloading")));
  EXPECT_TRUE(GrpcProxy::FailedBeforeModel(
      Status(StatusCode::RESOURCE_EXHAUSTED, "queue of 'mlp' v1 is full")));
  // The connection broke after the request was sent: the worker may have run it.
  EXPECT_FALSE(GrpcProxy::FailedBeforeModel(Status(StatusCode::UNAVAILABLE, "Socket closed")));
  EXPECT_FALSE(GrpcProxy::FailedBeforeModel(Status(StatusCode::DEADLINE_EXCEEDED, "")));
  EXPECT_FALSE(GrpcProxy::FailedBeforeModel(Status(StatusCode::INTERNAL, "backend failed")));
  EXPECT_FALSE(GrpcProxy::FailedBeforeModel(Status(StatusCode::INVALID_ARGUMENT, "shape")));
}

}  // namespace
}  // namespace inference::gateway

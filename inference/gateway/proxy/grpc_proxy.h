#pragma once
// GrpcProxy: the gateway's KServe v2 gRPC front end (inference.GRPCInferenceService, the same
// service the worker serves, so stock Triton/KServe gRPC clients work against the gateway).
//
//   ServerLive, ServerReady, ServerMetadata   the gateway's own (ready: >= 1 ready worker)
//   ModelReady, ModelMetadata                 API key; forwarded to one ready worker
//   ModelInfer                                API key; routed, QoS-admitted, load-balanced,
//                                             retried once, forwarded as bytes (see below)
//   RepositoryIndex                           admin key; forwarded to one ready worker
//   RepositoryModelLoad / Unload              admin key; sent to every worker
//   ModelStreamInfer                          API key; proxied per message with sticky routing
//                                             (streaming/stream_proxy.h)
//
// Request metadata: authorization: Bearer <key>; x-model-version (pin; the message's
// model_version pins too and wins); x-user-id (sticky split); x-qos-level gold|silver|bronze;
// traceparent. The client's gRPC deadline (default request_timeout_ms_default) is the upstream
// call's deadline and the KServe "timeout" parameter (remaining us); the QoS level becomes the
// "priority" parameter. Answer metadata: x-model-version (when routing chose or the client pinned
// a version), traceparent.
//
// ModelInfer is a raw (ByteBuffer) method: the gateway reads model_name/model_version from the
// wire bytes without parsing tensors and forwards the client's slices plus a small suffix
// (proxy/infer_request_wire.h) through a grpc::GenericStub; the worker's answer is passed back as
// bytes, never parsed. ModelStreamInfer is raw too (streaming/grpc_stream_call.cc): each request
// is parsed to route it and forwarded the same way; each response is relayed as the worker's bytes.
//
// Errors (gRPC codes; messages name the field):
//   UNAUTHENTICATED     no/unknown key        PERMISSION_DENIED   admin RPC with a user key
//   RESOURCE_EXHAUSTED  key over its rate, or inflight_max forwarded calls in flight; trailing
//                       metadata retry-after (seconds)
//   INVALID_ARGUMENT    bad x-qos-level, malformed request or missing model_name
//   NOT_FOUND           pinned version unknown or not ready on any worker
//   UNAVAILABLE         shed by QoS (trailing retry-after), or no ready worker
//   DEADLINE_EXCEEDED   the deadline passed (at the gateway or upstream)
//   anything else       the worker's answer, passed through
//
// Retry: once, on another endpoint, when the failure happened before the model could run: the
// connection could not be made (UNAVAILABLE "failed to connect ..."), or the worker answered
// RESOURCE_EXHAUSTED (queue full) or UNAVAILABLE for a version that is not ready / unloading.
// Any other failure (e.g. the connection broke after the request was sent) is not retried.
//
// Thread safety: gRPC calls the handlers and the upstream completions on its own threads. All
// pointers must outlive the proxy (and the grpc::Server it is registered with).

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock/clock.h"
#include "inference/gateway/auth/api_key_auth.h"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/gateway_metrics.h"
#include "inference/gateway/qos/qos_admission.h"
#include "inference/gateway/routing/routing_watcher.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace inference::gateway {

inline constexpr int kGrpcInflightMaxDefault = 4096;
inline constexpr int kGrpcInflightMaxLimit = 1 << 20;

struct GrpcProxyOptions {
  int64_t request_timeout_ms_default = 30'000;
  // Forwarded calls (ModelInfer, metadata, repository) in flight, then RESOURCE_EXHAUSTED.
  int inflight_max = kGrpcInflightMaxDefault;
  bool access_log = false;
};

// GRPCInferenceService::CallbackService with ModelInfer and ModelStreamInfer raw (the typed
// ModelStreamInfer cannot stay beside the raw one: same signature, another return type).
namespace grpc_proxy_internal {
using S = ::inference::GRPCInferenceService;
using Base = S::WithCallbackMethod_ServerLive<
    S::WithCallbackMethod_ServerReady<S::WithCallbackMethod_ModelReady<
        S::WithCallbackMethod_ServerMetadata<S::WithCallbackMethod_ModelMetadata<
            S::WithRawCallbackMethod_ModelInfer<S::WithRawCallbackMethod_ModelStreamInfer<
                S::WithCallbackMethod_RepositoryIndex<S::WithCallbackMethod_RepositoryModelLoad<
                    S::WithCallbackMethod_RepositoryModelUnload<S::Service>>>>>>>>>>;
}  // namespace grpc_proxy_internal
using GrpcProxyBase = grpc_proxy_internal::Base;

class StreamProxy;

class GrpcProxy final : public GrpcProxyBase {
 public:
  // `streams` serves ModelStreamInfer (UNIMPLEMENTED when null).
  GrpcProxy(GrpcProxyOptions options, EndpointSet* endpoints, RoutingWatcher* routing,
            ApiKeyAuth* auth, QosAdmission* qos, GatewayMetrics* metrics, core::Clock* clock,
            StreamProxy* streams = nullptr);

  int64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }

  // Whether `status` (from a worker's ModelInfer) means the model never ran, so the request may
  // be retried on another endpoint.
  static bool FailedBeforeModel(const grpc::Status& status);

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* ctx,
                                       const ServerLiveRequest* req,
                                       ServerLiveResponse* resp) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* ctx,
                                        const ServerReadyRequest* req,
                                        ServerReadyResponse* resp) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* ctx,
                                       const ModelReadyRequest* req,
                                       ModelReadyResponse* resp) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* ctx,
                                           const ServerMetadataRequest* req,
                                           ServerMetadataResponse* resp) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* ctx,
                                          const ModelMetadataRequest* req,
                                          ModelMetadataResponse* resp) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* ctx,
                                       const grpc::ByteBuffer* req,
                                       grpc::ByteBuffer* resp) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ModelStreamInfer(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* ctx,
                                            const RepositoryIndexRequest* req,
                                            RepositoryIndexResponse* resp) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* ctx,
                                                const RepositoryModelLoadRequest* req,
                                                RepositoryModelLoadResponse* resp) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* ctx,
                                                  const RepositoryModelUnloadRequest* req,
                                                  RepositoryModelUnloadResponse* resp) override;

 private:
  struct InferCall;
  // OK, or the status to finish the call with (also adds retry-after trailing metadata).
  grpc::Status CheckAuth(grpc::CallbackServerContext* ctx, bool admin);
  // Takes one of inflight_max slots (every forwarded RPC holds one until it finishes); false with
  // RESOURCE_EXHAUSTED in `refused` (and retry-after trailing metadata) when none is left.
  bool TryEnter(grpc::CallbackServerContext* ctx, grpc::Status* refused);
  void Attempt(std::shared_ptr<InferCall> call, const Endpoint* exclude);
  void Finish(const std::shared_ptr<InferCall>& call, const grpc::Status& status,
              std::string_view outcome);
  // Forwards one small typed RPC to one ready worker.
  template <typename Req, typename Resp, typename Invoke>
  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp,
                                    bool admin, Invoke invoke);
  // Sends a repository load/unload to every worker.
  template <typename Req, typename Resp, typename Invoke>
  grpc::ServerUnaryReactor* FanOut(grpc::CallbackServerContext* ctx, const Req* req, Invoke invoke);

  const GrpcProxyOptions options_;
  EndpointSet* const endpoints_;
  RoutingWatcher* const routing_;
  ApiKeyAuth* const auth_;
  QosAdmission* const qos_;
  GatewayMetrics* const metrics_;
  core::Clock* const clock_;
  StreamProxy* const streams_;
  std::atomic<int64_t> inflight_{0};
};

}  // namespace inference::gateway

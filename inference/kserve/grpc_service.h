#pragma once
// KServe v2 gRPC front end (package `inference`): GRPCInferenceService on gRPC's callback API, plus
// the worker's WorkerLoadReport service. Tensor data arrives either as raw_input_contents (bytes;
// viewed in place, no copy, when aligned) or typed InferTensorContents (FP32/INT32/INT64/FP64
// viewed in place, narrower integer types converted). Outputs are returned as raw_output_contents.
//
// Status codes mirror the REST ones: INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED (queue full),
// UNAVAILABLE, DEADLINE_EXCEEDED (the client's gRPC deadline or the "timeout" parameter passed in
// the queue). ModelStreamInfer is declared but not served yet (UNIMPLEMENTED).
//
// Thread safety: gRPC calls these from its own threads; the services hold no mutable state.

#include <memory>

#include "core/clock/clock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "inference/metrics/model_metrics.h"
#include "inference/repository/model_manager.h"

namespace inference {

class GrpcInferenceService final : public ::inference::GRPCInferenceService::CallbackService {
 public:
  GrpcInferenceService(ModelManager* manager, core::Clock* clock);

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
                                       const ModelInferRequest* req,
                                       ModelInferResponse* resp) override;
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
  ModelManager* const manager_;
  core::Clock* const clock_;
};

class GrpcLoadReportService final : public ::inference::WorkerLoadReport::CallbackService {
 public:
  explicit GrpcLoadReportService(WorkerMetrics* metrics) : metrics_(metrics) {}
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* ctx, const WorkerStatsRequest* req,
                                  WorkerStatsResponse* resp) override;

 private:
  WorkerMetrics* const metrics_;
};

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace inference

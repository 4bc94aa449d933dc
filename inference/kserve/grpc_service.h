#pragma once
// KServe v2 gRPC front end (package `inference`): GRPCInferenceService on gRPC's callback API, plus
// the worker's WorkerLoadReport service. Tensor data arrives either as raw_input_contents (bytes;
// viewed in place, no copy, when aligned) or typed InferTensorContents (FP32/INT32/INT64/FP64
// viewed in place, narrower integer types converted). Outputs are returned as raw_output_contents.
//
// Status codes mirror the REST ones: INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED (queue full),
// UNAVAILABLE, DEADLINE_EXCEEDED (the client's gRPC deadline or the "timeout" parameter passed in
// the queue). ModelStreamInfer: see grpc_stream.h.
//
// Thread safety: gRPC calls these from its own threads; the only mutable state is the sequence
// tables (SequenceTables, internally locked).

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock/clock.h"
#include "inference/batcher/infer_request.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "inference/metrics/model_metrics.h"
#include "inference/repository/model_manager.h"
#include "inference/streaming/sequence_table.h"

namespace inference {

// Which outputs a request asked for (config indexes, in request order; all when it named none).
struct GrpcOutputSelection {
  std::array<int, kModelTensorsMax> outputs{};
  size_t count = 0;
};

// Fills `into`'s input views (and batch_rows, priority_level) from a ModelInferRequest and picks
// the outputs. skip_input/skip_output: a config input/output index the client must not send or ask
// for (the recurrent state of a stateful model), or -1. `converted` holds converted or realigned
// input bytes; the views point into it or into `msg`. InvalidArgument on any mismatch.
absl::Status PrepareGrpcInputs(const ModelInferRequest& msg, const ModelConfig& config,
                               int skip_input, int skip_output, InferRequest* into,
                               std::vector<char>* converted, GrpcOutputSelection* sel);

// The SequenceTable of each model of kind sequence, by model name (created on first use, kept for
// the life of the process: bounded by the number of models). Thread-safe.
class SequenceTables {
 public:
  explicit SequenceTables(core::Clock* clock) : clock_(clock) {}
  SequenceTable* Get(const std::string& model);
  // Frees every sequence (shutdown, before the model manager drains versions).
  void ClearAll();

 private:
  core::Clock* const clock_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<SequenceTable>, std::less<>> tables_;
};

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
  grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>* ModelStreamInfer(
      grpc::CallbackServerContext* ctx) override;

  // Frees the state of every live sequence (call after the gRPC server shut down, before the
  // model manager stops: live sequences pin their model version).
  void ReleaseSequences() { sequences_.ClearAll(); }

 private:
  ModelManager* const manager_;
  core::Clock* const clock_;
  SequenceTables sequences_;
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

#pragma once
// KServe v2 REST endpoints of the worker, registered on a core::http::Router:
//
//   GET  /v2                                   server metadata
//   GET  /v2/health/live | /v2/health/ready
//   GET  /v2/models/{m}[/versions/{v}]          model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready
//   POST /v2/models/{m}[/versions/{v}]/infer    inference (JSON tensors)
//   GET|POST /v2/repository/index               versions and states (body {"ready": true} filters)
//   POST /v2/repository/models/{m}/load|unload
//   GET  /v2/stats                              cheap load report for the gateway
// (/metrics is core::RegisterMetricsRoute on the registry behind WorkerMetrics.)
//
// Errors use the KServe shape {"error": "<message>"} plus "code" (snake-case status code); HTTP
// status by what the client should do: 400 bad request, 404 unknown model/version, 429 queue full,
// 503 not ready / unloading, 504 deadline passed in the queue.
//
// The infer handler runs on the I/O thread up to Submit(); the reply is written on the execution
// thread that ran the batch and handed to the I/O thread by the Responder.

#include <string>

#include "core/clock/clock.h"
#include "core/http/router.h"
#include "inference/metrics/model_metrics.h"
#include "inference/repository/model_manager.h"

namespace inference {

inline constexpr std::string_view kServerName = "infer-worker";
inline constexpr std::string_view kServerVersion = "0.1.0";

class KServeRestService {
 public:
  // All pointers must outlive the service.
  KServeRestService(ModelManager* manager, WorkerMetrics* metrics, core::Clock* clock);
  void Register(core::http::Router* router);

  // The load report (also served over gRPC by WorkerLoadReport): JSON.
  static std::string StatsJson(const WorkerMetrics& metrics);

 private:
  void Infer(core::http::Request& req, core::http::Responder responder);
  void Metadata(core::http::Request& req, core::http::Responder responder);
  void ModelReady(core::http::Request& req, core::http::Responder responder);

  ModelManager* const manager_;
  WorkerMetrics* const metrics_;
  core::Clock* const clock_;
};

// {"error": message, "code": snake_case_code} with the HTTP status for `status`.
core::http::Response KServeError(const absl::Status& status);

}  // namespace inference

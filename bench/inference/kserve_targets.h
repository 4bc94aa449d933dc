// Load against a KServe v2 server (infer-worker, or the Flask peer for REST): one reference row as
// a batch-1 request, sent over REST (JSON tensor) or gRPC (raw_input_contents), closed loop.
//
// Thread safety: each call builds its own driver and blocks until its load has finished; calls on
// different threads are independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/inference/reference_tensors.h"
#include "bench/loadgen/closed_loop.h"

namespace infer_bench {

enum class Protocol { kRest, kGrpc };

struct TargetOptions {
  Protocol protocol = Protocol::kRest;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string model = "mlp";
  std::string input_name = "input";
  std::string output_name = "output";
  int64_t row = 0;        // reference row sent by every request
  int grpc_channels = 2;  // HTTP/2 connections
  // A gRPC call slower than this fails with DEADLINE_EXCEEDED (an error). Closed-loop latency is
  // queueing: ResNet-18 at concurrency 32 on a busy 2-core machine sees p99 of several seconds.
  std::chrono::milliseconds grpc_call_timeout{60000};
  loadgen::LoadOptions load;
};

// Sends one request and checks the reply against the reference output row. Retries transport
// failures and "not ready" answers (HTTP 4xx/5xx, gRPC NOT_FOUND/UNAVAILABLE) until `wait` has
// passed, so it doubles as the readiness wait. DataLoss if the reply is well-formed but wrong.
absl::Status VerifySample(const TargetOptions& options, const ReferenceTensors& ref,
                          std::chrono::milliseconds wait);

// Closed-loop load; ok = HTTP 2xx / gRPC OK, rejected = 429 / RESOURCE_EXHAUSTED.
absl::StatusOr<loadgen::LoadResult> RunLoad(const TargetOptions& options,
                                            const ReferenceTensors& ref);

}  // namespace infer_bench

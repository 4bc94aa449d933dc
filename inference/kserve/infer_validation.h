#pragma once
// Checks shared by the REST and gRPC front ends: an input's datatype and shape against the model
// config, and the mapping of the KServe/Triton "priority" and "timeout" request parameters.
// Everything is validated here, before a request reaches the batcher or a backend; failures are
// InvalidArgument naming the input.

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "inference/backend/tensor.h"
#include "inference/repository/model_config.h"

namespace inference {

inline constexpr size_t kInferRequestBytesMax = 64 << 20;

// `shape` is the request's full shape (batch dimension first when the model batches). On success
// sets *batch_rows (1 when the model does not batch) and returns the input's byte size.
absl::StatusOr<size_t> ValidateInput(const ModelConfig& config, size_t index, DataType datatype,
                                     const Shape& shape, int64_t* batch_rows);

// Triton convention: priority 0 = the model's default; 1 is the highest .. priority_levels the
// lowest. Returns the batcher level (0-based).
absl::StatusOr<int> PriorityLevel(const ModelConfig& config, int64_t priority);

}  // namespace inference

#pragma once
// ModelConfig: <repo>/<model>/config.yaml, parsed and validated.
//
//   platform: torchscript | onnx
//   max_batch_size: 128     # 0: the model has no batch dimension; requests are never merged
//   default_model_filename: model.pt   # optional; default model.pt / model.onnx (onnx)
//   inputs:  [{name: input,  datatype: FP32, dims: [64]}]   # dims exclude the batch dimension
//   outputs: [{name: output, datatype: FP32, dims: [10]}]   # -1: variable size
//   dynamic_batching: {max_queue_delay_us: 200, preferred_batch_sizes: [32, 64],
//                      queue_size_max: 1024, adaptive_release: true}
//   instances: 1            # execution contexts, each with its own thread
//   threads_per_instance: 1 # intra-op threads of each context
//   priority_levels: 3      # request priority 1 (highest) .. priority_levels; 0 ->
//   default_priority default_priority: 2 version_policy: latest 1 | all | specific [1, 3]   (or the
//   maps {latest: 1}, {specific: [..]})
//
// Parsing never throws: yaml-cpp exceptions are caught at this edge and returned as InvalidArgument
// naming the file and field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/backend/tensor.h"

namespace inference {

inline constexpr int kMaxBatchSizeMax = 4096;
inline constexpr int kInstancesMax = 16;
inline constexpr int kThreadsPerInstanceMax = 64;
inline constexpr int kPriorityLevelsMax = 8;
inline constexpr size_t kQueueSizeMax = 1 << 16;
inline constexpr size_t kModelTensorsMax = 8;  // inputs, and outputs

struct TensorConfig {
  std::string name;
  DataType datatype = DataType::kInvalid;
  Shape dims;  // without the batch dimension when max_batch_size > 0
};

struct DynamicBatchingConfig {
  int64_t max_queue_delay_us = 100;
  std::vector<int> preferred_batch_sizes;  // ascending
  size_t queue_size_max = 1024;
  // Release at once when arrivals do not overlap (low load); see batcher/batch_queue.h.
  bool adaptive_release = true;
};

struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  int latest = 1;
  std::vector<int64_t> specific;
};

struct ModelConfig {
  std::string name;  // the folder name; not read from the file
  std::string platform;
  int max_batch_size = 0;
  std::string default_model_filename;
  std::vector<TensorConfig> inputs;
  std::vector<TensorConfig> outputs;
  DynamicBatchingConfig dynamic_batching;
  int instances = 1;
  int threads_per_instance = 1;
  int priority_levels = 1;
  int default_priority = 1;
  VersionPolicy version_policy;

  // The model's full input shape for `batch` rows (the batch dim prepended when batching).
  Shape InputShape(size_t input, int64_t batch) const;
  // Index of the input/output called `name`, or -1.
  int InputIndex(std::string_view name) const;
  int OutputIndex(std::string_view name) const;
};

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view yaml_text,
                                             std::string_view model_name);
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path, std::string_view model_name);

// Which of `available` (ascending version numbers) the policy selects, ascending.
std::vector<int64_t> SelectVersions(const VersionPolicy& policy,
                                    const std::vector<int64_t>& available);

}  // namespace inference

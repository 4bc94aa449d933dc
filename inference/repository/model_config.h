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
// Streaming (ModelStreamInfer; see docs/inference-notes.md, "Streaming"):
//   kind: stateless | sequence | generator      # default stateless
//   state: {input: state, output: state_out}    # required for sequence and generator: the
//   recurrent
//                                               # state, FP32, same dims; the worker keeps it
//                                               between # steps and stacks it along the batch
//                                               dimension
//   sequence_batching: {idle_timeout_ms: 60000, max_sequences: 1024}   # kind sequence
//   generation: {max_tokens_max: 256, prompt_tokens_max: 256}          # kind generator: inputs
//       [token INT64 dims [1], state], outputs [logits FP32 dims [V], state_out]; greedy decoding
//   streaming: {window: 16}   # per stream: requests in flight + responses queued before reading
//   stops
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
inline constexpr size_t kModelTensorsMax = 8;            // inputs, and outputs
inline constexpr size_t kSequencesMax = 1 << 16;         // sequence_batching.max_sequences
inline constexpr int64_t kIdleTimeoutMsMax = 3'600'000;  // sequence_batching.idle_timeout_ms
inline constexpr size_t kStreamWindowMax = 1024;         // streaming.window
inline constexpr int kGenerationTokensMax = 4096;  // generation.max_tokens_max, prompt_tokens_max

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

enum class ModelKind { kStateless, kSequence, kGenerator };

// The recurrent state of a sequence or generator model (indexes into inputs/outputs).
struct StateConfig {
  std::string input, output;
  int input_index = -1;
  int output_index = -1;
};

struct SequenceBatchingConfig {
  int64_t idle_timeout_ms = 60'000;  // a sequence without a chunk for this long is freed
  size_t max_sequences = 1024;       // live sequences of the model; beyond: RESOURCE_EXHAUSTED
};

struct GenerationConfig {
  int max_tokens_max = 256;     // bound on the request parameter max_tokens
  int prompt_tokens_max = 256;  // bound on the prompt length
  int token_input_index = -1;   // the INT64 [1] input (the state input is the other one)
  int logits_output_index = -1;
};

struct StreamingConfig {
  size_t window = 16;
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
  ModelKind kind = ModelKind::kStateless;
  StateConfig state;
  SequenceBatchingConfig sequence_batching;
  GenerationConfig generation;
  StreamingConfig streaming;

  // The model's full input shape for `batch` rows (the batch dim prepended when batching).
  Shape InputShape(size_t input, int64_t batch) const;
  // Index of the input/output called `name`, or -1.
  int InputIndex(std::string_view name) const;
  int OutputIndex(std::string_view name) const;
};

std::string_view ModelKindName(ModelKind kind);

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view yaml_text,
                                             std::string_view model_name);
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path, std::string_view model_name);

// Which of `available` (ascending version numbers) the policy selects, ascending.
std::vector<int64_t> SelectVersions(const VersionPolicy& policy,
                                    const std::vector<int64_t>& available);

}  // namespace inference

#pragma once
// Backend: the one narrow interface between the worker and a model runtime (libtorch, OpenCV dnn).
// Everything above it (batcher, repository, KServe protocol) is runtime-free; only the worker
// binary links the runtimes, through the factories registered in worker_main.cc.
//
// An instance is one execution context of one model version. The batcher owns each instance and
// calls it from exactly one thread (its execution thread): AttachToThread() once, then Run() for
// every batch.
//
// Lifetime rule (zero copy): Run() may read the input bytes in place (e.g. torch::from_blob over
// the request buffer) and returned outputs may alias them; the caller keeps every input's bytes
// alive and unmodified until it has finished reading the outputs.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/backend/tensor.h"
#include "inference/repository/model_config.h"

namespace inference {

class Backend {
 public:
  virtual ~Backend() = default;
  // Applies thread-local runtime settings (intra-op thread count) on the calling execution thread.
  virtual void AttachToThread() {}
  // Runs one batch. `inputs`: one per config input, in config order, dense row-major, datatype and
  // shape already validated against the config (the batch dimension first when max_batch_size > 0).
  // Returns one tensor per config output, in config order, dense row-major, batch dimension first
  // when batching. Errors: Internal (the runtime failed), InvalidArgument (the runtime refused the
  // shapes).
  virtual absl::StatusOr<std::vector<Tensor>> Run(std::span<const TensorView> inputs) = 0;
};

// Creates one instance of the model stored at `model_path` (the version folder's model file).
using BackendFactory = std::function<absl::StatusOr<std::unique_ptr<Backend>>(
    const ModelConfig& config, const std::string& model_path)>;

}  // namespace inference

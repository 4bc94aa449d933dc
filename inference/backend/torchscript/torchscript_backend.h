#pragma once
// TorchScript backend (libtorch). The only files of the project that include libtorch headers are
// torchscript_backend.cc; everything else sees the Backend interface.
//
// Load: torch::jit::load, eval(), then torch::jit::optimize_for_inference (freezes the module and
// folds conv+bn, prepacks weights); a module that cannot be optimized (some quantized graphs) is
// frozen only. Run: under c10::InferenceMode; inputs are wrapped with torch::from_blob over the
// caller's bytes (no copy: see the lifetime rule in backend.h); outputs are made contiguous and
// returned without a copy, the Tensor's owner keeping the torch storage alive. Threads:
// AttachToThread() calls at::set_num_threads(threads_per_instance) on the execution thread
// (libtorch's default on these machines is 1 thread).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "inference/backend/backend.h"

namespace inference {

// Factory for platform "torchscript".
absl::StatusOr<std::unique_ptr<Backend>> CreateTorchScriptBackend(const ModelConfig& config,
                                                                  const std::string& model_path);

}  // namespace inference

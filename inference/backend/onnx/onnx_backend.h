#pragma once
// ONNX backend through OpenCV's dnn module (the only file including OpenCV is onnx_backend.cc).
//
// Load: cv::dnn::readNetFromONNX on the CPU target. Only FP32 inputs and outputs (what OpenCV dnn
// computes in); other datatypes in the config are refused at load (InvalidArgument).
// Run: each input is wrapped in a cv::Mat header over the caller's bytes (no copy; lifetime rule in
// backend.h); outputs are cv::Mats kept alive by the returned Tensor's owner.
// Threads: cv::setNumThreads(threads_per_instance) (process-wide in OpenCV).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "inference/backend/backend.h"

namespace inference {

// Factory for platform "onnx".
absl::StatusOr<std::unique_ptr<Backend>> CreateOnnxBackend(const ModelConfig& config,
                                                           const std::string& model_path);

}  // namespace inference

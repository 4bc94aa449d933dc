#pragma once
// KServe v2 JSON codec for the inference hot path: simdjson On-Demand straight over the request
// body (no DOM, no nlohmann), tensor data decoded into one buffer per request, replies written by
// hand.
//
// Request:  {"id": "..", "parameters": {"priority": 1, "timeout": <us>},
//            "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [..]}],
//            "outputs": [{"name": "output"}]}
// `data` may be flat or nested (any nesting is flattened row-major); its element count must equal
// the shape's. Response: {"model_name", "model_version", "id", "outputs": [{"name", "datatype",
// "shape", "data"}]} with flat data.
//
// Errors: InvalidArgument with a message naming the field (malformed JSON included).
// Thread safety: free functions; the parser is thread-local.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "inference/backend/tensor.h"
#include "inference/repository/model_config.h"
#include "simdjson.h"

namespace inference {

// Decoded tensors of requests up to this size live inside the DecodedInferRequest itself, so a
// pooled request object (rest_service.cc) decodes small requests without allocating.
inline constexpr size_t kInlineInputBytesMax = 4096;

struct DecodedInferRequest {
  // `bytes` of 8-byte aligned storage for the decoded inputs: the inline array when it fits, else
  // the heap buffer. Invalidates earlier storage.
  char* Storage(size_t bytes) {
    if (bytes <= inline_storage.size()) return inline_storage.data();
    buffer.resize(bytes);
    return buffer.data();
  }

  std::string id;
  alignas(8) std::array<char, kInlineInputBytesMax> inline_storage;  // not zeroed
  std::vector<char> buffer;  // inputs larger than kInlineInputBytesMax
  // Every input's bytes, back to back (8-byte aligned offsets) in Storage(); config order.
  std::array<TensorView, kModelTensorsMax> inputs{};
  int64_t batch_rows = 1;
  std::array<int, kModelTensorsMax> outputs{};  // requested output indices (config order if none)
  size_t output_count = 0;
  int64_t priority = 0;
  int64_t timeout_us = 0;
};

// `body` must be padded (see core::http::PaddedBody). On success every config input is present and
// validated (infer_validation.h) and `out->inputs[i].data` points into out's storage (inline or
// `buffer`). `out` must be default-constructed.
absl::Status DecodeInferRequest(simdjson::padded_string_view body, const ModelConfig& config,
                                DecodedInferRequest* out);

// Appends the response JSON for `outputs` (config order; only the `selected` indices are written).
void AppendInferResponse(std::string* out, std::string_view model, std::string_view version,
                         std::string_view id, const ModelConfig& config,
                         std::span<const TensorView> outputs, std::span<const int> selected);

// Appends `count` elements of `data` (datatype `type`) as comma-separated JSON numbers/booleans.
void AppendJsonValues(std::string* out, DataType type, const char* data, size_t count);

}  // namespace inference

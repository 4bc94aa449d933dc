#pragma once
// InferRequest: one client request as the batcher sees it. The protocol layer (REST, gRPC) derives
// from it, fills the input views and implements Complete(); the batcher owns it from Submit() on
// and destroys it right after Complete() returns.
//
// Lifetime rule (zero copy): the input views point into memory the derived class owns (the decoded
// JSON buffer, or the gRPC request message's raw_input_contents). It must stay valid until the
// request is destroyed; a batch of one request is handed to the backend without a copy.

#include <array>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "inference/backend/tensor.h"
#include "inference/repository/model_config.h"

namespace inference {

class InferRequest {
 public:
  virtual ~InferRequest() = default;

  // Called exactly once, on an execution thread (or inline in Submit() on rejection). On OK,
  // `outputs` holds one view per config output with this request's rows only; the views are valid
  // only during the call: copy or serialize what you need.
  virtual void Complete(const absl::Status& status, std::span<const TensorView> outputs) = 0;

  std::span<const TensorView> inputs() const { return {inputs_.data(), input_count_}; }
  void set_input(size_t i, const TensorView& view) {
    inputs_[i] = view;
    if (i >= input_count_) input_count_ = i + 1;
  }

  int64_t batch_rows = 1;   // size of the batch dimension (1 when the model does not batch)
  int priority_level = 0;   // 0 is served first; < the model's priority_levels
  int64_t deadline_ns = 0;  // Clock::NowNs() time base; 0: none
  int64_t enqueue_ns = 0;   // set by the batcher
  int64_t start_ns = 0;     // when the protocol layer received it (for the request duration)

 private:
  std::array<TensorView, kModelTensorsMax> inputs_{};
  size_t input_count_ = 0;
};

}  // namespace inference

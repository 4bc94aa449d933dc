#pragma once
// StreamResponseView: what a relay or a load generator needs of a serialized
// ModelStreamInferResponse, read off the wire with protobuf's CodedInputStream instead of parsing
// the message. A full parse rebuilds the response's parameter map and copies its strings and
// tensors for every streamed token; the gateway relays each token to an SSE client and the load
// generator only counts it, and both run on the core they share in the benchmarks.
//
// The views point into the bytes given to ReadStreamResponse and are valid as long as they are.
// Fields are read as a parse would: a later scalar wins, repeated fields keep their order, and
// outputs[i] pairs with raw_output_contents[i].
//
// Thread safety: free function on values.

#include <cstddef>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace inference {

struct OutputTensorView {
  std::string_view name;
  std::string_view datatype;
};

struct StreamResponseView {
  std::string_view error_message;  // ModelStreamInferResponse.error_message
  // Of infer_response:
  std::string_view model_version;
  absl::InlinedVector<OutputTensorView, 2> outputs;
  absl::InlinedVector<std::string_view, 2> raw_output_contents;
  bool final = false;  // parameters["triton_final_response"].bool_param

  void Clear() {
    error_message = {};
    model_version = {};
    outputs.clear();
    raw_output_contents.clear();
    final = false;
  }
};

// Fills *out (cleared first) from `bytes`; false when they are not a well-formed
// ModelStreamInferResponse (as far as read: fields the view does not keep are skipped by length).
bool ReadStreamResponse(std::string_view bytes, StreamResponseView* out);

}  // namespace inference

#pragma once
// What a load generator needs of a serialized ModelStreamInferResponse, read off the wire with
// protobuf's CodedInputStream instead of parsing the message. A full parse rebuilds the response's
// parameter map for every token (allocations, UTF-8 checks): about a quarter of infer-stream-load's
// CPU per token, spent on the core the benchmark's load generator shares with the gateway it
// measures.

#include <cstddef>
#include <cstdint>
#include <optional>

namespace inference {

struct StreamResponseFlags {
  bool error = false;  // error_message is set
  bool final = false;  // infer_response.parameters["triton_final_response"].bool_param
};

// nullopt when the bytes are not a well-formed ModelStreamInferResponse (as far as read).
std::optional<StreamResponseFlags> ScanStreamResponse(const uint8_t* data, size_t size);

}  // namespace inference

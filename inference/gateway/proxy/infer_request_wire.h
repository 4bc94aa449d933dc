#pragma once
// InferRequestWire: what the gateway's gRPC front end reads from and adds to a serialized KServe
// ModelInferRequest without parsing (or copying) its tensors.
//
// Scan() walks the top-level fields of the wire bytes and keeps only model_name (1) and
// model_version (2); inputs, outputs and raw_input_contents are skipped by length, so the cost
// does not grow with the tensor bytes. WithSuffix() forwards the client's slices untouched (they
// are reference-counted, not copied) and appends one small slice: a serialized ModelInferRequest
// holding only the fields the gateway sets. Protobuf parses concatenated messages as a merge in
// which a later scalar and a later map entry with the same key win, so the worker sees the
// gateway's model_version (when routing chose one) and its "priority" and "timeout" parameters,
// overriding the client's.
//
// Thread safety: free functions on values.

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"

namespace inference::gateway {

inline constexpr size_t kModelNameBytesMax = 256;

struct InferRequestHead {
  std::string model_name;
  std::string model_version;  // "" when the client did not pin one in the message
};

// InvalidArgument (naming the field) for malformed wire bytes, a missing model_name, or a name
// or version longer than kModelNameBytesMax.
absl::StatusOr<InferRequestHead> ScanInferRequest(const grpc::ByteBuffer& request);

// The bytes appended to the client's request: model_version (omitted when empty) and the
// "priority" and "timeout" (us; omitted when <= 0) parameters.
std::string InferRequestSuffix(std::string_view model_version, int priority, int64_t timeout_us);

// `request` followed by `suffix`, sharing the request's slices.
grpc::ByteBuffer WithSuffix(const grpc::ByteBuffer& request, const std::string& suffix);

// Parses `buffer` into `message` without consuming it (its slices are shared, not copied); false
// when the bytes are not a valid message.
bool ParseFromByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message);

// `message` serialized into a ByteBuffer of one slice.
grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::MessageLite& message);

}  // namespace inference::gateway

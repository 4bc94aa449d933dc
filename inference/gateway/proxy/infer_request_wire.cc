#include "inference/gateway/proxy/infer_request_wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <vector>

#include "fmt/format.h"
#include "inference/grpc_predict_v2.pb.h"

namespace inference::gateway {

using google::protobuf::internal::WireFormatLite;

absl::StatusOr<InferRequestHead> ScanInferRequest(const grpc::ByteBuffer& request) {
  grpc::ByteBuffer copy(request);  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  google::protobuf::io::CodedInputStream in(&reader);
  InferRequestHead head;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if ((field == 1 || field == 2) && delimited) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length) || length > kModelNameBytesMax) {
        return absl::InvalidArgumentError(fmt::format("{}: longer than {} bytes or truncated",
                                                      field == 1 ? "model_name" : "model_version",
                                                      kModelNameBytesMax));
      }
      std::string* out = field == 1 ? &head.model_name : &head.model_version;
      if (!in.ReadString(out, static_cast<int>(length))) {
        return absl::InvalidArgumentError("ModelInferRequest: truncated");
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) {
      return absl::InvalidArgumentError(
          fmt::format("ModelInferRequest: malformed field {}", field));
    }
  }
  if (!in.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError("ModelInferRequest: malformed (bad end group)");
  }
  if (head.model_name.empty()) return absl::InvalidArgumentError("model_name: required");
  return head;
}

std::string InferRequestSuffix(std::string_view model_version, int priority, int64_t timeout_us) {
  ::inference::ModelInferRequest suffix;
  if (!model_version.empty()) suffix.set_model_version(std::string(model_version));
  auto& params = *suffix.mutable_parameters();
  params["priority"].set_int64_param(priority);
  if (timeout_us > 0) params["timeout"].set_int64_param(timeout_us);
  std::string out;
  suffix.SerializeToString(&out);
  return out;
}

grpc::ByteBuffer WithSuffix(const grpc::ByteBuffer& request, const std::string& suffix) {
  std::vector<grpc::Slice> slices;
  if (request.Valid()) (void)request.Dump(&slices);
  slices.emplace_back(suffix);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

bool ParseFromByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message) {
  grpc::ByteBuffer copy(buffer);  // shares the slices
  grpc::ProtoBufferReader reader(&copy);
  return message->ParseFromZeroCopyStream(&reader);
}

grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.ByteSizeLong());
  message.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(slice.begin()));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace inference::gateway

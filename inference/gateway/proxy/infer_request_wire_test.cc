#include "inference/gateway/proxy/infer_request_wire.h"

#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.pb.h"

namespace inference::gateway {
namespace {

// A request with tensors, split over several slices as gRPC may deliver it.
grpc::ByteBuffer Serialized(const ::inference::ModelInferRequest& m, size_t slice_bytes) {
  const std::string bytes = m.SerializeAsString();
  std::vector<grpc::Slice> slices;
  for (size_t i = 0; i < bytes.size(); i += slice_bytes) {
    slices.emplace_back(bytes.substr(i, slice_bytes));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

::inference::ModelInferRequest Parse(const grpc::ByteBuffer& b) {
  ::inference::ModelInferRequest m;
  EXPECT_TRUE(ParseFromByteBuffer(b, &m));
  return m;
}

::inference::ModelInferRequest Example() {
  ::inference::ModelInferRequest m;
  m.set_id("req-7");
  (*m.mutable_parameters())["priority"].set_int64_param(1);  // the client's, to be overridden
  (*m.mutable_parameters())["custom"].set_string_param("kept");
  auto* in = m.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(64);
  std::string raw(256, '\0');
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>(i);
  m.add_raw_input_contents(raw);
  m.set_model_name("mlp");  // after the tensors on purpose: the scan must skip them
  return m;
}

TEST(InferRequestWireTest, ScanFindsNameAndVersionAcrossSlices) {
  ::inference::ModelInferRequest m = Example();
  m.set_model_version("2");
  for (size_t slice : {1, 3, 7, 64, 100000}) {
    auto head = ScanInferRequest(Serialized(m, slice));
    ASSERT_TRUE(head.ok()) << head.status() << " slice " << slice;
    EXPECT_EQ(head->model_name, "mlp");
    EXPECT_EQ(head->model_version, "2");
  }
}

TEST(InferRequestWireTest, ScanRejectsMissingNameAndGarbage) {
  ::inference::ModelInferRequest m = Example();
  m.clear_model_name();
  auto missing = ScanInferRequest(Serialized(m, 16));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "model_name: required");
  grpc::Slice junk(std::string("\x0a\xff\xff\xff\xff\x0f", 6));
  auto bad = ScanInferRequest(grpc::ByteBuffer(&junk, 1));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  ::inference::ModelInferRequest long_name = Example();
  long_name.set_model_name(std::string(kModelNameBytesMax + 1, 'm'));
  auto too_long = ScanInferRequest(Serialized(long_name, 1000));
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("model_name"), std::string_view::npos);
}

TEST(InferRequestWireTest, SuffixOverridesVersionAndParametersAndKeepsTensors) {
  const ::inference::ModelInferRequest m = Example();
  const grpc::ByteBuffer in = Serialized(m, 5);
  const grpc::ByteBuffer out = WithSuffix(in, InferRequestSuffix("2", 3, 1500));
  EXPECT_EQ(out.Length(), in.Length() + InferRequestSuffix("2", 3, 1500).size());
  const ::inference::ModelInferRequest got = Parse(out);
  EXPECT_EQ(got.model_name(), "mlp");
  EXPECT_EQ(got.model_version(), "2");
  EXPECT_EQ(got.id(), "req-7");
  EXPECT_EQ(got.parameters().at("priority").int64_param(), 3);
  EXPECT_EQ(got.parameters().at("timeout").int64_param(), 1500);
  EXPECT_EQ(got.parameters().at("custom").string_param(), "kept");
  ASSERT_EQ(got.raw_input_contents_size(), 1);
  EXPECT_EQ(got.raw_input_contents(0), m.raw_input_contents(0));
  ASSERT_EQ(got.inputs_size(), 1);
  EXPECT_EQ(got.inputs(0).shape_size(), 2);

  // No version chosen and no deadline: the client's version stays, no timeout is sent.
  ::inference::ModelInferRequest pinned = Example();
  pinned.set_model_version("1");
  const ::inference::ModelInferRequest kept =
      Parse(WithSuffix(Serialized(pinned, 9), InferRequestSuffix("", 2, 0)));
  EXPECT_EQ(kept.model_version(), "1");
  EXPECT_EQ(kept.parameters().at("priority").int64_param(), 2);
  EXPECT_EQ(kept.parameters().count("timeout"), 0u);
}

// The streaming relay forwards these buffers as they are: what one serializes the other parses, a
// multi-slice buffer parses without being consumed, and garbage is refused.
TEST(InferRequestWireTest, ByteBufferRoundTripAndMalformedBytes) {
  ::inference::ModelStreamInferResponse response;
  response.mutable_infer_response()->set_model_name("gru_gen");
  (*response.mutable_infer_response()->mutable_parameters())["triton_final_response"]
      .set_bool_param(true);
  const grpc::ByteBuffer one = SerializeToByteBuffer(response);
  ::inference::ModelStreamInferResponse back;
  ASSERT_TRUE(ParseFromByteBuffer(one, &back));
  using google::protobuf::util::MessageDifferencer;  // map order is not stable in bytes
  EXPECT_TRUE(MessageDifferencer::Equals(back, response));

  const grpc::ByteBuffer split = Serialized(Example(), 3);
  ::inference::ModelInferRequest first, second;
  ASSERT_TRUE(ParseFromByteBuffer(split, &first));
  ASSERT_TRUE(ParseFromByteBuffer(split, &second));  // still whole after the first parse
  EXPECT_TRUE(MessageDifferencer::Equals(first, Example()));
  EXPECT_TRUE(MessageDifferencer::Equals(second, first));

  grpc::Slice garbage(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"));
  EXPECT_FALSE(ParseFromByteBuffer(grpc::ByteBuffer(&garbage, 1), &first));
}

}  // namespace
}  // namespace inference::gateway

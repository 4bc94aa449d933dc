#include "inference/kserve/stream_response_view.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "inference/grpc_predict_v2.pb.h"

namespace inference {
namespace {

ModelStreamInferResponse Token(bool final) {
  ModelStreamInferResponse r;
  ModelInferResponse* out = r.mutable_infer_response();
  out->set_model_name("gru_gen");
  out->set_model_version("1");
  out->set_id("7");
  auto* t = out->add_outputs();
  t->set_name("token");
  t->set_datatype("INT64");
  t->add_shape(1);
  (*t->mutable_parameters())["binary_data_size"].set_int64_param(8);
  const int64_t token = 9;
  out->add_raw_output_contents()->assign(reinterpret_cast<const char*>(&token), sizeof(token));
  (*out->mutable_parameters())["sequence_id"].set_int64_param(3);
  (*out->mutable_parameters())["triton_final_response"].set_bool_param(final);
  (*out->mutable_parameters())["note"].set_string_param("triton_final_response");
  return r;
}

// Compares the view of `r`'s bytes with what a parse of them says.
void ExpectAgreesWithAParse(const ModelStreamInferResponse& r, int case_index) {
  const std::string wire = r.SerializeAsString();
  StreamResponseView v;
  ASSERT_TRUE(ReadStreamResponse(wire, &v)) << case_index;
  ModelStreamInferResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  const ModelInferResponse& p = parsed.infer_response();
  EXPECT_EQ(v.error_message, parsed.error_message()) << case_index;
  EXPECT_EQ(v.model_version, p.model_version()) << case_index;
  auto it = p.parameters().find("triton_final_response");
  EXPECT_EQ(v.final, it != p.parameters().end() && it->second.bool_param()) << case_index;
  ASSERT_EQ(v.outputs.size(), static_cast<size_t>(p.outputs_size())) << case_index;
  for (int i = 0; i < p.outputs_size(); ++i) {
    EXPECT_EQ(v.outputs[static_cast<size_t>(i)].name, p.outputs(i).name()) << case_index;
    EXPECT_EQ(v.outputs[static_cast<size_t>(i)].datatype, p.outputs(i).datatype()) << case_index;
  }
  ASSERT_EQ(v.raw_output_contents.size(), static_cast<size_t>(p.raw_output_contents_size()))
      << case_index;
  for (int i = 0; i < p.raw_output_contents_size(); ++i) {
    EXPECT_EQ(v.raw_output_contents[static_cast<size_t>(i)], p.raw_output_contents(i))
        << case_index;
  }
}

TEST(StreamResponseViewTest, ReadsATokenResponseLikeAParse) {
  for (bool final : {false, true}) {
    StreamResponseView v;
    const std::string wire = Token(final).SerializeAsString();
    ASSERT_TRUE(ReadStreamResponse(wire, &v));
    EXPECT_EQ(v.final, final);
    EXPECT_TRUE(v.error_message.empty());
    EXPECT_EQ(v.model_version, "1");
    ASSERT_EQ(v.outputs.size(), 1u);
    EXPECT_EQ(v.outputs[0].name, "token");
    EXPECT_EQ(v.outputs[0].datatype, "INT64");
    ASSERT_EQ(v.raw_output_contents.size(), 1u);
    int64_t token = 0;
    ASSERT_EQ(v.raw_output_contents[0].size(), sizeof(token));
    std::memcpy(&token, v.raw_output_contents[0].data(), sizeof(token));
    EXPECT_EQ(token, 9);
    // The views point into the input bytes, not into copies.
    EXPECT_GE(v.outputs[0].name.data(), wire.data());
    EXPECT_LT(v.outputs[0].name.data(), wire.data() + wire.size());
  }
  ModelStreamInferResponse failed = Token(true);
  failed.set_error_message("INVALID_ARGUMENT: max_tokens: 0 not in [1, 256]");
  ExpectAgreesWithAParse(failed, -1);
  // No infer_response at all, and a final flag of the wrong type: not final, as in a parse.
  ExpectAgreesWithAParse(ModelStreamInferResponse(), -2);
  ModelStreamInferResponse typed = Token(false);
  (*typed.mutable_infer_response()->mutable_parameters())["triton_final_response"].set_string_param(
      "true");
  ExpectAgreesWithAParse(typed, -3);
}

TEST(StreamResponseViewTest, AgreesWithAParseOnRandomResponses) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    ModelStreamInferResponse r = Token(rng() % 2 == 0);
    ModelInferResponse* out = r.mutable_infer_response();
    auto& params = *out->mutable_parameters();
    if (rng() % 3 == 0) params.erase("triton_final_response");
    if (rng() % 4 == 0) r.set_error_message(std::string(rng() % 40, 'e'));
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
      params[std::string(1 + rng() % 30, static_cast<char>('a' + rng() % 26))].set_uint64_param(
          rng());
    }
    for (int k = static_cast<int>(rng() % 3); k > 0; --k) {  // more outputs, of any size
      auto* t = out->add_outputs();
      t->set_name(std::string(rng() % 20, 'o'));
      t->set_datatype(rng() % 2 == 0 ? "FP32" : "INT32");
      t->add_shape(static_cast<int64_t>(rng() % 5));
      out->add_raw_output_contents()->assign(rng() % 300, static_cast<char>(rng()));
    }
    if (rng() % 6 == 0) out->set_model_version(std::string(rng() % 3, '2'));
    if (rng() % 5 == 0) out->clear_parameters();
    if (rng() % 10 == 0) r.clear_infer_response();
    ExpectAgreesWithAParse(r, i);
  }
}

TEST(StreamResponseViewTest, RefusesMalformedBytes) {
  const std::string wire = Token(true).SerializeAsString();
  StreamResponseView v;
  for (size_t cut : {wire.size() - 1, wire.size() / 2, size_t{3}}) {
    EXPECT_FALSE(ReadStreamResponse(wire.substr(0, cut), &v)) << cut;
  }
  // infer_response longer than the rest
  EXPECT_FALSE(ReadStreamResponse(std::string("\x12\x7f", 2), &v));
  // error_message longer than the rest
  EXPECT_FALSE(ReadStreamResponse(std::string("\x0a\x05"
                                              "abc",
                                              5),
                                  &v));
  // a raw_output_contents longer than its enclosing infer_response
  EXPECT_FALSE(ReadStreamResponse(std::string("\x12\x03\x32\x05xyzzzz", 9), &v));
  EXPECT_FALSE(ReadStreamResponse(std::string("\x00\x01", 2), &v));  // field number 0
  EXPECT_TRUE(ReadStreamResponse("", &v));                           // the empty message
}

}  // namespace
}  // namespace inference

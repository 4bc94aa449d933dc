#include "inference/tools/stream_response_scan.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "inference/grpc_predict_v2.pb.h"

namespace inference {
namespace {

std::optional<StreamResponseFlags> Scan(const std::string& wire) {
  return ScanStreamResponse(reinterpret_cast<const uint8_t*>(wire.data()), wire.size());
}

// What a full parse says, for comparison.
StreamResponseFlags Parsed(const ModelStreamInferResponse& r) {
  const auto& params = r.infer_response().parameters();
  auto it = params.find("triton_final_response");
  return {!r.error_message().empty(), it != params.end() && it->second.bool_param()};
}

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
  const int64_t token = 9;
  out->add_raw_output_contents()->assign(reinterpret_cast<const char*>(&token), sizeof(token));
  (*out->mutable_parameters())["sequence_id"].set_int64_param(3);
  (*out->mutable_parameters())["triton_final_response"].set_bool_param(final);
  (*out->mutable_parameters())["note"].set_string_param("triton_final_response");
  return r;
}

TEST(StreamResponseScanTest, ReadsTheFinalFlagAndTheErrorLikeAParse) {
  for (bool final : {false, true}) {
    auto flags = Scan(Token(final).SerializeAsString());
    ASSERT_TRUE(flags.has_value());
    EXPECT_EQ(flags->final, final);
    EXPECT_FALSE(flags->error);
  }
  ModelStreamInferResponse failed = Token(true);
  failed.set_error_message("INVALID_ARGUMENT: max_tokens: 0 not in [1, 256]");
  auto flags = Scan(failed.SerializeAsString());
  ASSERT_TRUE(flags.has_value());
  EXPECT_TRUE(flags->error);
  EXPECT_TRUE(flags->final);
  // No infer_response at all, and a final flag of the wrong type: not final, as in a parse.
  flags = Scan(ModelStreamInferResponse().SerializeAsString());
  ASSERT_TRUE(flags.has_value());
  EXPECT_FALSE(flags->final);
  ModelStreamInferResponse typed = Token(false);
  (*typed.mutable_infer_response()->mutable_parameters())["triton_final_response"].set_string_param(
      "true");
  flags = Scan(typed.SerializeAsString());
  ASSERT_TRUE(flags.has_value());
  EXPECT_FALSE(flags->final);
}

TEST(StreamResponseScanTest, AgreesWithAParseOnRandomResponses) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    ModelStreamInferResponse r = Token(rng() % 2 == 0);
    auto& params = *r.mutable_infer_response()->mutable_parameters();
    if (rng() % 3 == 0) params.erase("triton_final_response");
    if (rng() % 4 == 0) r.set_error_message(std::string(rng() % 40, 'e'));
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) {
      params[std::string(1 + rng() % 30, static_cast<char>('a' + rng() % 26))].set_uint64_param(
          rng());
    }
    if (rng() % 5 == 0) r.mutable_infer_response()->clear_parameters();
    const StreamResponseFlags want = Parsed(r);
    auto got = Scan(r.SerializeAsString());
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_EQ(got->final, want.final) << i;
    EXPECT_EQ(got->error, want.error) << i;
  }
}

TEST(StreamResponseScanTest, RefusesMalformedBytes) {
  const std::string wire = Token(true).SerializeAsString();
  for (size_t cut : {wire.size() - 1, wire.size() / 2, size_t{3}}) {
    EXPECT_FALSE(Scan(wire.substr(0, cut)).has_value()) << cut;
  }
  EXPECT_FALSE(
      Scan(std::string("\x12\x7f", 2)).has_value());  // infer_response longer than the rest
  EXPECT_FALSE(Scan(std::string("\x00\x01", 2)).has_value());  // field number 0
  EXPECT_TRUE(Scan("").has_value());                           // the empty message
}

}  // namespace
}  // namespace inference

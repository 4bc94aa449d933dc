#include "inference/kserve/rest_codec.h"

#include <cstring>

#include "gtest/gtest.h"

namespace inference {
namespace {

ModelConfig Mlp() {
  ModelConfig c;
  c.name = "mlp";
  c.platform = "torchscript";
  c.max_batch_size = 8;
  c.inputs.push_back({"input", DataType::kFp32, Shape({3})});
  c.outputs.push_back({"output", DataType::kFp32, Shape({2})});
  return c;
}

absl::Status Decode(const std::string& json, DecodedInferRequest* out,
                    const ModelConfig& c = Mlp()) {
  simdjson::padded_string padded(json);
  return DecodeInferRequest(padded, c, out);
}

std::vector<float> Floats(const TensorView& v) {
  std::vector<float> f(v.bytes / 4);
  std::memcpy(f.data(), v.data, v.bytes);
  return f;
}

TEST(RestCodecTest, FlatAndNestedDataDecodeTheSame) {
  DecodedInferRequest flat, nested;
  ASSERT_TRUE(Decode(R"({"id":"a1","inputs":[{"name":"input","shape":[2,3],"datatype":"FP32",
      "data":[1,2,3,4,5,6.5]}]})",
                     &flat)
                  .ok());
  ASSERT_TRUE(Decode(R"({"inputs":[{"data":[[1,2,3],[4,5,6.5]],"datatype":"FP32","name":"input",
      "shape":[2,3]}]})",
                     &nested)
                  .ok());
  EXPECT_EQ(flat.id, "a1");
  EXPECT_EQ(flat.batch_rows, 2);
  EXPECT_EQ(flat.inputs[0].shape, Shape({2, 3}));
  EXPECT_EQ(Floats(flat.inputs[0]), (std::vector<float>{1, 2, 3, 4, 5, 6.5}));
  EXPECT_EQ(Floats(nested.inputs[0]), Floats(flat.inputs[0]));
  EXPECT_EQ(flat.output_count, 1u);
}

TEST(RestCodecTest, SmallInputsDecodeInlineLargeOnesOnTheHeap) {
  DecodedInferRequest small;
  ASSERT_TRUE(
      Decode(R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})",
             &small)
          .ok());
  EXPECT_EQ(small.inputs[0].data, small.inline_storage.data());
  EXPECT_TRUE(small.buffer.empty());

  // 512 rows x 3 floats = 6144 bytes > kInlineInputBytesMax.
  ModelConfig c = Mlp();
  c.max_batch_size = 512;
  std::string data;
  std::vector<float> want;
  for (int i = 0; i < 512 * 3; ++i) {
    if (i > 0) data.push_back(',');
    data.append(std::to_string(i));
    want.push_back(static_cast<float>(i));
  }
  DecodedInferRequest large;
  ASSERT_TRUE(Decode(R"({"inputs":[{"name":"input","shape":[512,3],"datatype":"FP32","data":[)" +
                         data + "]}]}",
                     &large, c)
                  .ok());
  static_assert(512 * 3 * 4 > kInlineInputBytesMax);
  EXPECT_EQ(large.inputs[0].data, large.buffer.data());
  EXPECT_EQ(Floats(large.inputs[0]), want);
}

TEST(RestCodecTest, ParametersAndRequestedOutputs) {
  DecodedInferRequest d;
  ASSERT_TRUE(Decode(R"({"parameters":{"priority":1,"timeout":500},"outputs":[{"name":"output"}],
      "inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})",
                     &d)
                  .ok());
  EXPECT_EQ(d.priority, 1);
  EXPECT_EQ(d.timeout_us, 500);
  EXPECT_EQ(d.output_count, 1u);
}

TEST(RestCodecTest, BadInputsAreInvalidArgumentWithAClearMessage) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"INT64","data":[1,2,3]}]})",
       "datatype"},
      {R"({"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]})",
       "shape"},
      {R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3,4]}]})",
       "more data"},
      {R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2]}]})",
       "2 data elements"},
      {R"({"inputs":[{"name":"nope","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})",
       "unknown input"},
      {R"({"inputs":[{"name":"input","shape":[9,3],"datatype":"FP32","data":[1]}]})",
       "max_batch_size"},
      {R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,"x"]}]})",
       "malformed"},
      {R"({"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]})",
       "malformed"},
      {R"({"inputs":[]})", "missing input"},
      {R"([1,2])", "malformed"},
  };
  for (const auto& c : cases) {
    DecodedInferRequest d;
    absl::Status s = Decode(c.json, &d);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(std::string(s.message()).find(c.needle), std::string::npos) << c.json << " -> " << s;
  }
}

TEST(RestCodecTest, ResponseShape) {
  ModelConfig c = Mlp();
  float data[] = {0.5f, -1.25f, 3.0f, 1e-7f};
  TensorView out{DataType::kFp32, Shape({2, 2}), reinterpret_cast<const char*>(data), sizeof(data)};
  std::string body;
  int selected[] = {0};
  AppendInferResponse(&body, "mlp", "1", "x", c, std::span<const TensorView>(&out, 1), selected);
  EXPECT_EQ(body, R"({"model_name":"mlp","model_version":"1","id":"x","outputs":[{"name":"output",)"
                  R"("datatype":"FP32","shape":[2,2],"data":[0.5,-1.25,3,1e-07]}]})");
}

}  // namespace
}  // namespace inference

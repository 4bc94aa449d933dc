#pragma once
// ModelStreamInfer requests and response readers for the streaming demo models (gru_seq, gru_gen,
// built by scripts/make-models), shared by the worker's and the gateway's streaming tests.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace inference_testing {

// Shapes of the demo sequence model (scripts/make-models: SEQ_*).
inline constexpr int64_t kSeqSteps = 4, kSeqFeatures = 8, kSeqOutputs = 4;

inline std::vector<float> Floats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

inline void SetBool(inference::ModelInferRequest* r, const char* name, bool v) {
  (*r->mutable_parameters())[name].set_bool_param(v);
}

// One chunk of gru_seq sequence `int_id` (int64), or `string_id` when no integer id is given.
inline inference::ModelInferRequest Chunk(const std::string& request_id,
                                          std::optional<int64_t> int_id,
                                          const std::string& string_id, bool start, bool end,
                                          const float* x) {
  inference::ModelInferRequest r;
  r.set_model_name("gru_seq");
  r.set_id(request_id);
  if (int_id) {
    (*r.mutable_parameters())["sequence_id"].set_int64_param(*int_id);
  } else if (!string_id.empty()) {
    (*r.mutable_parameters())["sequence_id"].set_string_param(string_id);
  }
  if (start) SetBool(&r, "sequence_start", true);
  if (end) SetBool(&r, "sequence_end", true);
  auto* in = r.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  for (int64_t d : {int64_t{1}, kSeqSteps, kSeqFeatures}) in->add_shape(d);
  r.add_raw_input_contents()->assign(reinterpret_cast<const char*>(x),
                                     static_cast<size_t>(kSeqSteps * kSeqFeatures) * 4);
  return r;
}

// A gru_gen generation of `max_tokens` tokens after `prompt`.
inline inference::ModelInferRequest Generate(const std::string& request_id,
                                             const std::vector<int64_t>& prompt,
                                             int64_t max_tokens) {
  inference::ModelInferRequest r;
  r.set_model_name("gru_gen");
  r.set_id(request_id);
  (*r.mutable_parameters())["max_tokens"].set_int64_param(max_tokens);
  auto* in = r.add_inputs();
  in->set_name("token");
  in->set_datatype("INT64");
  in->add_shape(static_cast<int64_t>(prompt.size()));
  r.add_raw_input_contents()->assign(reinterpret_cast<const char*>(prompt.data()),
                                     prompt.size() * sizeof(int64_t));
  return r;
}

inline bool IsFinal(const inference::ModelStreamInferResponse& r) {
  auto it = r.infer_response().parameters().find("triton_final_response");
  return it != r.infer_response().parameters().end() && it->second.bool_param();
}

// The generated token of one gru_gen response (-1, and a failed expectation, when malformed).
inline int64_t TokenOf(const inference::ModelStreamInferResponse& r) {
  EXPECT_EQ(r.infer_response().outputs_size(), 1);
  EXPECT_EQ(r.infer_response().outputs(0).name(), "token");
  EXPECT_EQ(r.infer_response().raw_output_contents_size(), 1);
  if (r.infer_response().raw_output_contents_size() != 1) return -1;
  int64_t t = -1;
  EXPECT_EQ(r.infer_response().raw_output_contents(0).size(), sizeof(t));
  std::memcpy(&t, r.infer_response().raw_output_contents(0).data(), sizeof(t));
  return t;
}

}  // namespace inference_testing

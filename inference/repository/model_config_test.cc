#include "inference/repository/model_config.h"

#include "gtest/gtest.h"

namespace inference {
namespace {

constexpr char kMlp[] = R"(
platform: torchscript
max_batch_size: 64
inputs:
  - {name: input, datatype: FP32, dims: [64]}
outputs:
  - {name: output, datatype: FP32, dims: [10]}
dynamic_batching: {max_queue_delay_us: 200, preferred_batch_sizes: [32, 16], queue_size_max: 100}
instances: 2
threads_per_instance: 3
version_policy: latest 2
)";

TEST(ModelConfigTest, ParsesEveryField) {
  auto c = ParseModelConfig(kMlp, "mlp");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "mlp");
  EXPECT_EQ(c->platform, "torchscript");
  EXPECT_EQ(c->max_batch_size, 64);
  EXPECT_EQ(c->default_model_filename, "model.pt");
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].datatype, DataType::kFp32);
  EXPECT_EQ(c->inputs[0].dims, Shape({64}));
  EXPECT_EQ(c->dynamic_batching.max_queue_delay_us, 200);
  EXPECT_EQ(c->dynamic_batching.preferred_batch_sizes, (std::vector<int>{16, 32}));
  EXPECT_EQ(c->dynamic_batching.queue_size_max, 100u);
  EXPECT_EQ(c->instances, 2);
  EXPECT_EQ(c->threads_per_instance, 3);
  EXPECT_EQ(c->version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(c->version_policy.latest, 2);
  EXPECT_EQ(c->InputShape(0, 5), Shape({5, 64}));
}

// kMlp with the line starting with `key` removed (yaml-cpp keeps the first of duplicate keys).
std::string Without(const std::string& key) {
  std::string s = kMlp;
  size_t at = s.find("\n" + key);
  return s.erase(at + 1, s.find('\n', at + 1) - at);
}

TEST(ModelConfigTest, VersionPolicyForms) {
  auto with = [](const std::string& policy) {
    return ParseModelConfig(Without("version_policy") + "version_policy: " + policy + "\n", "m");
  };
  EXPECT_EQ(with("all")->version_policy.kind, VersionPolicy::Kind::kAll);
  auto s = with("specific [1, 3]");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->version_policy.specific, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(with("{specific: [2]}")->version_policy.specific, (std::vector<int64_t>{2}));
  EXPECT_EQ(with("{latest: 3}")->version_policy.latest, 3);
  EXPECT_EQ(with("newest").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelConfigTest, SelectVersions) {
  const std::vector<int64_t> v = {1, 2, 5};
  VersionPolicy latest;
  latest.latest = 2;
  EXPECT_EQ(SelectVersions(latest, v), (std::vector<int64_t>{2, 5}));
  VersionPolicy all{VersionPolicy::Kind::kAll, 1, {}};
  EXPECT_EQ(SelectVersions(all, v), v);
  VersionPolicy specific{VersionPolicy::Kind::kSpecific, 1, {1, 4}};
  EXPECT_EQ(SelectVersions(specific, v), (std::vector<int64_t>{1}));
}

TEST(ModelConfigTest, RejectsBadFieldsNamingThem) {
  auto bad = [](const std::string& yaml) { return ParseModelConfig(yaml, "m").status(); };
  EXPECT_EQ(bad("platform: tensorflow").code(), absl::StatusCode::kInvalidArgument);
  absl::Status s = bad(Without("instances") + "instances: 0\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("instances"), std::string::npos) << s;
  EXPECT_EQ(bad("{{{").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad("platform: onnx\ninputs: []\n").code(), absl::StatusCode::kInvalidArgument);
}

constexpr char kSequence[] = R"(
platform: torchscript
kind: sequence
max_batch_size: 64
inputs:
  - {name: input, datatype: FP32, dims: [4, 8]}
  - {name: state, datatype: FP32, dims: [16]}
outputs:
  - {name: output, datatype: FP32, dims: [4, 4]}
  - {name: state_out, datatype: FP32, dims: [16]}
state: {input: state, output: state_out}
sequence_batching: {idle_timeout_ms: 5000, max_sequences: 32}
streaming: {window: 8}
)";

constexpr char kGenerator[] = R"(
platform: torchscript
kind: generator
max_batch_size: 64
inputs:
  - {name: token, datatype: INT64, dims: [1]}
  - {name: state, datatype: FP32, dims: [32]}
outputs:
  - {name: logits, datatype: FP32, dims: [32]}
  - {name: state_out, datatype: FP32, dims: [32]}
state: {input: state, output: state_out}
generation: {max_tokens_max: 100, prompt_tokens_max: 10}
)";

// `yaml` with the first line starting with `key` replaced by `line`.
std::string Replace(std::string yaml, const std::string& key, const std::string& line) {
  const size_t at = yaml.find("\n" + key);
  if (at == std::string::npos) return yaml + line + "\n";
  const size_t end = yaml.find('\n', at + 1);
  return yaml.replace(at + 1, end - at - 1, line);
}

TEST(ModelConfigTest, ParsesStreamingKinds) {
  auto seq = ParseModelConfig(kSequence, "gru_seq");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(seq->kind, ModelKind::kSequence);
  EXPECT_EQ(seq->state.input_index, 1);
  EXPECT_EQ(seq->state.output_index, 1);
  EXPECT_EQ(seq->sequence_batching.idle_timeout_ms, 5000);
  EXPECT_EQ(seq->sequence_batching.max_sequences, 32u);
  EXPECT_EQ(seq->streaming.window, 8u);
  auto gen = ParseModelConfig(kGenerator, "gru_gen");
  ASSERT_TRUE(gen.ok()) << gen.status();
  EXPECT_EQ(gen->kind, ModelKind::kGenerator);
  EXPECT_EQ(gen->generation.token_input_index, 0);
  EXPECT_EQ(gen->generation.logits_output_index, 0);
  EXPECT_EQ(gen->generation.max_tokens_max, 100);
  EXPECT_EQ(gen->generation.prompt_tokens_max, 10);
  EXPECT_EQ(gen->streaming.window, 16u);  // default
  auto plain = ParseModelConfig(kMlp, "mlp");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->kind, ModelKind::kStateless);
}

TEST(ModelConfigTest, RejectsBadStreamingFieldsNamingThem) {
  auto expect_bad = [](const std::string& yaml, const std::string& field) {
    absl::Status s = ParseModelConfig(yaml, "m").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
    EXPECT_NE(std::string(s.message()).find(field), std::string::npos) << s;
  };
  expect_bad(Replace(kSequence, "kind", "kind: recurrent"), "kind");
  expect_bad(Replace(kSequence, "state:", ""), "state");
  expect_bad(Replace(kSequence, "state:", "state: {input: nope, output: state_out}"),
             "state.input");
  expect_bad(Replace(kSequence, "state:", "state: {input: state, output: output}"), "state");
  expect_bad(Replace(kSequence, "sequence_batching",
                     "sequence_batching: {idle_timeout_ms: 0, max_sequences: 32}"),
             "sequence_batching.idle_timeout_ms");
  expect_bad(Replace(kSequence, "sequence_batching",
                     "sequence_batching: {idle_timeout_ms: 10, max_sequences: 0}"),
             "sequence_batching.max_sequences");
  expect_bad(Replace(kSequence, "sequence_batching",
                     "sequence_batching: {idle_timeout_ms: 10, max_sequences: 70000}"),
             "sequence_batching.max_sequences");
  expect_bad(Replace(kSequence, "streaming", "streaming: {window: 0}"), "streaming.window");
  expect_bad(Replace(kSequence, "max_batch_size", "max_batch_size: 0"), "max_batch_size");
  expect_bad(std::string(kSequence) + "generation: {max_tokens_max: 4}\n", "generation");
  expect_bad(std::string(kMlp) + "sequence_batching: {max_sequences: 4}\n", "sequence_batching");
  expect_bad(Replace(kGenerator, "generation", "generation: {max_tokens_max: 0}"),
             "generation.max_tokens_max");
  expect_bad(
      Replace(kGenerator, "  - {name: token", "  - {name: token, datatype: FP32, dims: [1]}"),
      "INT64");
  // A generator's steps are batched continuously: the waiting rules would be silently unused.
  expect_bad(std::string(kGenerator) + "dynamic_batching: {max_queue_delay_us: 100}\n",
             "dynamic_batching.max_queue_delay_us");
  expect_bad(std::string(kGenerator) + "dynamic_batching: {preferred_batch_sizes: [16]}\n",
             "dynamic_batching.preferred_batch_sizes");
  EXPECT_TRUE(
      ParseModelConfig(std::string(kGenerator) + "dynamic_batching: {queue_size_max: 64}\n", "m")
          .ok());
}

}  // namespace
}  // namespace inference

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

}  // namespace
}  // namespace inference

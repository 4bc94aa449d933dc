#include "inference/repository/model_manager.h"

#include <filesystem>
#include <fstream>
#include <future>

#include "core/testing/process.h"
#include "gtest/gtest.h"
#include "inference/repository/manifest.h"

namespace inference {
namespace {

constexpr char kConfig[] = R"(
platform: torchscript
max_batch_size: 4
inputs: [{name: x, datatype: FP32, dims: [2]}]
outputs: [{name: y, datatype: FP32, dims: [2]}]
)";

// A backend that echoes its input; the model file's content selects failure modes.
class EchoBackend final : public Backend {
 public:
  explicit EchoBackend(int width) : width_(width) {}
  absl::StatusOr<std::vector<Tensor>> Run(std::span<const TensorView> inputs) override {
    Tensor t;
    t.view = inputs[0];
    t.view.shape[1] = width_;
    t.view.bytes = static_cast<size_t>(inputs[0].shape[0] * width_ * 4);
    return std::vector<Tensor>{t};
  }

 private:
  int width_;
};

absl::StatusOr<std::unique_ptr<Backend>> EchoFactory(const ModelConfig&, const std::string& path) {
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  if (content.starts_with("bad-load")) return absl::InvalidArgumentError("cannot parse model");
  return std::unique_ptr<Backend>(new EchoBackend(content.starts_with("bad-output") ? 1 : 2));
}

class ModelManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(Repo() + "/m");
    std::ofstream(Repo() + "/m/config.yaml") << kConfig;
    ModelManagerOptions o;
    o.repo = Repo();
    o.metrics = &metrics_;
    o.backends["torchscript"] = EchoFactory;
    manager_ = *ModelManager::Create(std::move(o));
  }
  std::string Repo() const { return tmp_.path() + "/repo"; }
  void AddVersion(const std::string& content) {
    std::ofstream(tmp_.File("model.pt"), std::ios::trunc) << content;
    AddVersionOptions o;
    o.repo = Repo();
    o.model = "m";
    o.files = {tmp_.File("model.pt")};
    ASSERT_TRUE(inference::AddVersion(o).ok());
  }
  // Reconciles now (through the loader thread) and returns the Load status.
  absl::Status Sync() {
    std::promise<absl::Status> p;
    manager_->Load("m", [&](absl::Status s) { p.set_value(s); });
    return p.get_future().get();
  }
  std::map<std::string, std::pair<std::string, std::string>> States() {
    std::map<std::string, std::pair<std::string, std::string>> out;
    for (const auto& e : manager_->Index(false)) out[e.version] = {e.state, e.reason};
    return out;
  }
  std::string State(const std::string& v) { return States()[v].first; }

  core::testing::TempDir tmp_;
  core::Registry registry_;
  WorkerMetrics metrics_{&registry_};
  std::unique_ptr<ModelManager> manager_;
};

TEST_F(ModelManagerTest, NewVersionReplacesTheOldOneAfterLoading) {
  AddVersion("ok-1");
  manager_->Start();
  EXPECT_TRUE(manager_->ready());
  EXPECT_EQ(State("1"), "READY");
  auto lease = manager_->Acquire("m", "");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)->version(), 1);
  lease->Reset();

  AddVersion("ok-2");
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(State("2"), "READY");
  EXPECT_EQ(State("1"), "UNLOADED");
  EXPECT_EQ(States()["1"].second, "superseded by version 2");
  EXPECT_EQ((*manager_->Acquire("m", ""))->version(), 2);
  EXPECT_EQ(manager_->Acquire("m", "1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->Acquire("nope", "").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelManagerTest, RejectedVersionsNeverBlockLaterOnes) {
  AddVersion("ok-1");
  manager_->Start();
  AddVersion("ok-2-to-be-corrupted");
  // Corrupt version 2 before the manager sees it.
  std::ofstream(Repo() + "/m/2/model.pt", std::ios::trunc) << "ok-2-to-be-CORRUPTED";
  AddVersion("bad-load");    // 3: verifies, fails to load
  AddVersion("bad-output");  // 4: loads, fails the warm-up check
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(State("2"), "FAILED");
  EXPECT_NE(States()["2"].second.find("sha256 mismatch"), std::string::npos)
      << States()["2"].second;
  EXPECT_EQ(State("3"), "FAILED");
  EXPECT_EQ(State("4"), "FAILED");
  EXPECT_NE(States()["4"].second.find("warm-up"), std::string::npos) << States()["4"].second;
  EXPECT_EQ(State("1"), "READY");  // still serving
  AddVersion("ok-5");
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(State("5"), "READY");
  EXPECT_EQ(State("1"), "UNLOADED");
  const std::string text = registry_.ExposeText();
  EXPECT_NE(text.find("inference_version_rejected_total{model=\"m\",reason=\"verification\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("inference_version_load_failures_total{model=\"m\",reason=\"backend\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("inference_version_load_failures_total{model=\"m\",reason=\"warmup\"} 1\n"),
            std::string::npos)
      << text;
}

TEST_F(ModelManagerTest, DrainWaitsForLeasesThenUnloads) {
  AddVersion("ok-1");
  manager_->Start();
  auto lease = manager_->Acquire("m", "1");
  ASSERT_TRUE(lease.ok());
  AddVersion("ok-2");
  std::promise<absl::Status> loaded;
  manager_->Load("m", [&](absl::Status s) { loaded.set_value(s); });
  auto f = loaded.get_future();
  // Version 2 becomes READY and serves; version 1 waits in DRAINING for our lease.
  while (State("1") != "DRAINING") std::this_thread::yield();
  EXPECT_EQ((*manager_->Acquire("m", ""))->version(), 2);
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  lease->Reset();
  ASSERT_TRUE(f.get().ok());
  EXPECT_EQ(State("1"), "UNLOADED");
}

TEST_F(ModelManagerTest, UnloadThenLoad) {
  AddVersion("ok-1");
  manager_->Start();
  std::promise<absl::Status> unloaded;
  manager_->Unload("m", [&](absl::Status s) { unloaded.set_value(s); });
  ASSERT_TRUE(unloaded.get_future().get().ok());
  EXPECT_EQ(State("1"), "UNLOADED");
  EXPECT_EQ(manager_->Acquire("m", "").status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(State("1"), "READY");
  std::promise<absl::Status> unknown;
  manager_->Load("zzz", [&](absl::Status s) { unknown.set_value(s); });
  EXPECT_EQ(unknown.get_future().get().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelManagerTest, PendingUntilTheManifestArrives) {
  std::filesystem::create_directories(Repo() + "/m/1");
  std::ofstream(Repo() + "/m/1/model.pt") << "ok-1";
  manager_->Start();
  EXPECT_EQ(State("1"), "PENDING");
  Manifest m;
  m.model = "m";
  m.version = 1;
  m.files["model.pt"] = {Sha256Hex("ok-1"), 4};
  std::ofstream(Repo() + "/m/1/MANIFEST.json") << SerializeManifest(m);
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(State("1"), "READY");
}

}  // namespace
}  // namespace inference

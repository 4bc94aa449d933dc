// Integration tests: the real infer-worker binary over real sockets, on the demo models built by
// scripts/make-models (see CMakeLists.txt). Arguments: <infer-worker> <infer-repo> <models dir>.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/inference/worker_process.h"

namespace {

namespace fs = std::filesystem;
using core::http::testing::TestClient;
using core::testing::ChildProcess;
using core::testing::TempDir;
using nlohmann::json;

std::string g_worker, g_repo_tool, g_models;
constexpr char kPromtool[] = "/usr/bin/promtool";

using inference_testing::ReadFile;

struct Reference {
  std::vector<int64_t> input_shape, output_shape;
  std::vector<float> input, output;
};

Reference LoadReference(const std::string& name) {
  Reference r;
  json meta = json::parse(ReadFile(fmt::format("{}/reference/{}.json", g_models, name)));
  r.input_shape = meta["input_shape"].get<std::vector<int64_t>>();
  r.output_shape = meta["output_shape"].get<std::vector<int64_t>>();
  auto floats = [](const std::string& bytes) {
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
  };
  r.input = floats(ReadFile(fmt::format("{}/reference/{}.input.bin", g_models, name)));
  r.output = floats(ReadFile(fmt::format("{}/reference/{}.output.bin", g_models, name)));
  return r;
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float scale = 0;
  for (float w : want) scale = std::max(scale, std::fabs(w));
  const float tolerance = 1e-4f + 1e-3f * scale;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tolerance) << what << " element " << i;
  }
}

std::string InferBody(const std::vector<int64_t>& shape, const std::vector<float>& data,
                      const std::string& extra = "") {
  json j = {
      {"inputs", {{{"name", "input"}, {"shape", shape}, {"datatype", "FP32"}, {"data", data}}}}};
  std::string s = j.dump();
  if (!extra.empty()) s.insert(1, extra + ",");
  return s;
}

// A running worker (tests/inference/worker_process.h) rescanning its repository every 500 ms.
class Worker : public inference_testing::WorkerProcess {
 public:
  explicit Worker(const std::string& repo, std::vector<std::string> extra = {})
      : WorkerProcess(g_worker, repo, WithRescan(std::move(extra))) {}

 private:
  static std::vector<std::string> WithRescan(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--rescan-interval-ms", "500"});
    return extra;
  }
};

// Polls the repository index until `pred` holds for it (the condition, not a fixed sleep).
json WaitForIndex(TestClient* client, const std::function<bool(const json&)>& pred,
                  int timeout_ms = 60000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  json index;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client->Get("/v2/repository/index");
    if (r.ok() && r->status == 200) {
      index = json::parse(r->body);
      if (pred(index)) return index;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "index condition not reached; last index: " << index.dump();
  return index;
}

std::string StateOf(const json& index, const std::string& model, const std::string& version) {
  for (const auto& e : index) {
    if (e["name"] == model && e["version"] == version) return e["state"];
  }
  return "";
}

std::string ReasonOf(const json& index, const std::string& model, const std::string& version) {
  for (const auto& e : index) {
    if (e["name"] == model && e["version"] == version) return e["reason"];
  }
  return "";
}

// A fresh repository holding a copy of the demo `mlp` model (tests that change the repository).
std::string MakeMlpRepo(const TempDir& dir, const std::string& config_override = "") {
  const std::string repo = dir.File("repo");
  fs::create_directories(repo);
  fs::copy(g_models + "/repo/mlp", repo + "/mlp", fs::copy_options::recursive);
  if (!config_override.empty())
    std::ofstream(repo + "/mlp/config.yaml", std::ios::trunc) << config_override;
  return repo;
}

int RunRepoTool(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {g_repo_tool};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::Start(argv);
  if (!child.ok()) return -1;
  auto rc = (*child)->Wait(60000);
  return rc.ok() ? *rc : -1;
}

class InferenceWorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(g_models + "/repo/mlp/1/MANIFEST.json"))
        << "demo models missing under " << g_models
        << ": run `/usr/bin/python3 scripts/make-models --out " << g_models
        << "` (CTest runs it as the inference_make_models fixture)";
    worker_ = new Worker(g_models + "/repo");
  }
  static void TearDownTestSuite() {
    delete worker_;
    worker_ = nullptr;
  }
  static Worker* worker_;
};
Worker* InferenceWorkerTest::worker_ = nullptr;

constexpr const char* kDemoModels[] = {"mlp", "mlp_onnx", "mlp_int8", "resnet18", "resnet18_onnx"};

TEST_F(InferenceWorkerTest, EveryDemoModelMatchesItsReferenceOverRest) {
  auto client = worker_->Client();
  ASSERT_NE(client, nullptr);
  for (const char* name : kDemoModels) {
    Reference ref = LoadReference(name);
    auto r = client->Post(fmt::format("/v2/models/{}/infer", name),
                          InferBody(ref.input_shape, ref.input, R"("id":"req-7")"));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << name << ": " << r->body;
    json j = json::parse(r->body);
    EXPECT_EQ(j["model_name"], name);
    EXPECT_EQ(j["model_version"], "1");
    EXPECT_EQ(j["id"], "req-7");
    EXPECT_EQ(j["outputs"][0]["shape"].get<std::vector<int64_t>>(), ref.output_shape);
    ExpectClose(j["outputs"][0]["data"].get<std::vector<float>>(), ref.output, name);
  }
}

TEST_F(InferenceWorkerTest, NestedJsonDataIsAccepted) {
  auto client = worker_->Client();
  Reference ref = LoadReference("mlp");
  json nested = json::array();
  for (int64_t row = 0; row < ref.input_shape[0]; ++row) {
    nested.push_back(
        std::vector<float>(ref.input.begin() + row * 64, ref.input.begin() + (row + 1) * 64));
  }
  json body = {
      {"inputs",
       {{{"name", "input"}, {"shape", ref.input_shape}, {"datatype", "FP32"}, {"data", nested}}}}};
  auto r = client->Post("/v2/models/mlp/versions/1/infer", body.dump());
  ASSERT_EQ(r->status, 200) << r->body;
  ExpectClose(json::parse(r->body)["outputs"][0]["data"].get<std::vector<float>>(), ref.output,
              "nested");
}

TEST_F(InferenceWorkerTest, EveryDemoModelMatchesItsReferenceOverGrpcRaw) {
  auto stub = worker_->Grpc();
  for (const char* name : kDemoModels) {
    Reference ref = LoadReference(name);
    inference::ModelInferRequest req;
    req.set_model_name(name);
    auto* in = req.add_inputs();
    in->set_name("input");
    in->set_datatype("FP32");
    for (int64_t d : ref.input_shape) in->add_shape(d);
    req.add_raw_input_contents()->assign(reinterpret_cast<const char*>(ref.input.data()),
                                         ref.input.size() * 4);
    inference::ModelInferResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    grpc::Status s = stub->ModelInfer(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << name << ": " << s.error_message();
    ASSERT_EQ(resp.raw_output_contents_size(), 1);
    EXPECT_EQ(resp.model_version(), "1");
    EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
              ref.output_shape);
    std::vector<float> out(resp.raw_output_contents(0).size() / 4);
    std::memcpy(out.data(), resp.raw_output_contents(0).data(), out.size() * 4);
    ExpectClose(out, ref.output, name);
  }
}

TEST_F(InferenceWorkerTest, GrpcTypedContentsHealthMetadataAndErrors) {
  auto stub = worker_->Grpc();
  Reference ref = LoadReference("mlp_int8");
  inference::ModelInferRequest req;
  req.set_model_name("mlp_int8");
  auto* in = req.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  for (int64_t d : ref.input_shape) in->add_shape(d);
  for (float v : ref.input) in->mutable_contents()->add_fp32_contents(v);
  {
    inference::ModelInferResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->ModelInfer(&ctx, req, &resp).ok());
    std::vector<float> out(resp.raw_output_contents(0).size() / 4);
    std::memcpy(out.data(), resp.raw_output_contents(0).data(), out.size() * 4);
    ExpectClose(out, ref.output, "int8 typed");
  }
  {
    grpc::ClientContext ctx;
    inference::ServerLiveResponse live;
    ASSERT_TRUE(stub->ServerLive(&ctx, {}, &live).ok());
    EXPECT_TRUE(live.live());
  }
  {
    grpc::ClientContext ctx;
    inference::ModelReadyRequest r;
    r.set_name("resnet18");
    inference::ModelReadyResponse ready;
    ASSERT_TRUE(stub->ModelReady(&ctx, r, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  {
    grpc::ClientContext ctx;
    inference::ModelMetadataRequest r;
    r.set_name("resnet18");
    inference::ModelMetadataResponse meta;
    ASSERT_TRUE(stub->ModelMetadata(&ctx, r, &meta).ok());
    EXPECT_EQ(meta.platform(), "torchscript");
    ASSERT_EQ(meta.inputs_size(), 1);
    EXPECT_EQ(meta.inputs(0).shape_size(), 4);
    EXPECT_EQ(meta.inputs(0).shape(0), -1);
  }
  {
    grpc::ClientContext ctx;
    inference::RepositoryIndexResponse index;
    ASSERT_TRUE(stub->RepositoryIndex(&ctx, {}, &index).ok());
    EXPECT_EQ(index.models_size(), 5);
  }
  auto code = [&](inference::ModelInferRequest r) {
    grpc::ClientContext ctx;
    inference::ModelInferResponse resp;
    return stub->ModelInfer(&ctx, r, &resp).error_code();
  };
  inference::ModelInferRequest unknown = req;
  unknown.set_model_name("nope");
  EXPECT_EQ(code(unknown), grpc::StatusCode::NOT_FOUND);
  inference::ModelInferRequest short_raw = req;
  short_raw.mutable_inputs(0)->clear_contents();
  short_raw.add_raw_input_contents()->assign(10, 'x');
  EXPECT_EQ(code(short_raw), grpc::StatusCode::INVALID_ARGUMENT);
  inference::ModelInferRequest wrong_type = req;
  wrong_type.mutable_inputs(0)->set_datatype("INT64");
  EXPECT_EQ(code(wrong_type), grpc::StatusCode::INVALID_ARGUMENT);

  auto load_report = inference::WorkerLoadReport::NewStub(grpc::CreateChannel(
      fmt::format("127.0.0.1:{}", worker_->grpc_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  inference::WorkerStatsResponse stats;
  ASSERT_TRUE(load_report->Stats(&ctx, {}, &stats).ok());
  EXPECT_EQ(stats.models_size(), 5);
  EXPECT_GT(stats.rss_bytes(), 0u);
}

TEST_F(InferenceWorkerTest, BadRequestsGetClear4xx) {
  auto client = worker_->Client();
  std::vector<float> x(64, 0.5f);
  struct Case {
    std::string target, body;
    int status;
    std::string needle;
  } cases[] = {
      {"/v2/models/mlp/infer",
       R"({"inputs":[{"name":"input","shape":[1,64],"datatype":"INT64","data":[1]}]})", 400,
       "datatype"},
      {"/v2/models/mlp/infer", InferBody({1, 63}, std::vector<float>(63, 0.5f)), 400, "shape"},
      {"/v2/models/mlp/infer", InferBody({1, 64}, std::vector<float>(65, 0.5f)), 400, "more data"},
      {"/v2/models/mlp/infer",
       R"({"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[1,)", 400,
       "malformed"},
      {"/v2/models/nope/infer", InferBody({1, 64}, x), 404, "unknown model"},
      {"/v2/models/mlp/versions/9/infer", InferBody({1, 64}, x), 404, "not ready"},
  };
  for (const auto& c : cases) {
    auto r = client->Post(c.target, c.body);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, c.status) << c.target << " " << r->body;
    EXPECT_NE(r->body.find(c.needle), std::string::npos) << r->body;
    EXPECT_NO_THROW(json::parse(r->body)) << r->body;
  }
}

TEST_F(InferenceWorkerTest, HealthMetadataStatsAndMetrics) {
  auto client = worker_->Client();
  EXPECT_EQ(client->Get("/v2/health/live")->status, 200);
  EXPECT_EQ(client->Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(client->Get("/v2/models/mlp/ready")->status, 200);
  EXPECT_EQ(client->Get("/v2/models/nope/ready")->status, 404);
  auto meta = json::parse(client->Get("/v2/models/mlp_onnx")->body);
  EXPECT_EQ(meta["platform"], "onnx");
  EXPECT_EQ(meta["inputs"][0]["shape"], json({-1, 64}));
  auto stats = json::parse(client->Get("/v2/stats")->body);
  EXPECT_EQ(stats["models"].size(), 5u);
  EXPECT_TRUE(stats.contains("in_flight"));
  auto metrics = client->Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  for (const char* name :
       {"inference_request_success_total{model=\"mlp\"", "inference_request_failure_total",
        "inference_request_duration_seconds_bucket", "inference_queue_duration_seconds_bucket",
        "inference_compute_duration_seconds_bucket", "inference_pending_requests",
        "inference_batch_size_bucket", "process_cpu_seconds_total",
        "process_resident_memory_bytes"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  }
}

// Samples of a Prometheus text exposition: "name{labels}" -> value (comments skipped).
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return samples;
}

// Runs the real `promtool check metrics` on `text`; returns its exit code and output.
std::pair<int, std::string> Promtool(const TempDir& dir, const std::string& text) {
  const std::string in = dir.File("metrics.txt");
  const std::string out = dir.File("promtool.log");
  std::ofstream(in, std::ios::trunc) << text;
  core::testing::ChildOptions o;
  o.log_path = out;
  auto child = ChildProcess::Start(
      {"/bin/sh", "-c", fmt::format("{} check metrics < {}", kPromtool, in)}, o);
  if (!child.ok()) return {-1, std::string(child.status().message())};
  auto rc = (*child)->Wait(60000);
  return {rc.ok() ? *rc : -1, ReadFile(out)};
}

TEST_F(InferenceWorkerTest, MetricsPassPromtoolAndCountEveryInference) {
  // Never skipped: a /metrics format check that silently does not run is how broken endpoints ship.
  ASSERT_TRUE(fs::exists(kPromtool)) << kPromtool << " missing: apt-get install prometheus";
  auto client = worker_->Client();
  ASSERT_NE(client, nullptr);
  const std::string mv = R"({model="mlp",version="1"})";
  auto before = ParseExposition(client->Get("/metrics")->body);

  constexpr int kRequests = 25;
  Reference ref = LoadReference("mlp");
  for (int i = 0; i < kRequests; ++i) {
    auto r = client->Post("/v2/models/mlp/infer", InferBody(ref.input_shape, ref.input));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // One single-row request, then one bad request (wrong shape) that must count as a failure.
  const int64_t rows = ref.input_shape[0];
  const std::vector<float> one_row(ref.input.begin(), ref.input.begin() + 64);
  ASSERT_EQ(client->Post("/v2/models/mlp/infer", InferBody({1, 64}, one_row))->status, 200);
  ASSERT_EQ(
      client->Post("/v2/models/mlp/infer", InferBody({1, 63}, std::vector<float>(63, 0)))->status,
      400);

  auto r = client->Get("/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->header("content-type").find("text/plain; version=0.0.4"), std::string::npos)
      << r->header("content-type");
  TempDir dir;
  auto [rc, report] = Promtool(dir, r->body);
  EXPECT_EQ(rc, 0) << "promtool check metrics:\n" << report << "\n--- exposition:\n" << r->body;

  auto after = ParseExposition(r->body);
  auto delta = [&](const std::string& series) {
    EXPECT_TRUE(after.count(series)) << series << " missing from /metrics:\n" << r->body;
    return after[series] - before[series];  // absent before: 0
  };
  EXPECT_EQ(delta("inference_request_success_total" + mv), kRequests + 1);
  EXPECT_EQ(delta("inference_request_failure_total" + mv), 1);
  // Every request (failures included) has a duration; batches are counted once each.
  EXPECT_EQ(delta("inference_request_duration_seconds_count" + mv), kRequests + 2);
  EXPECT_EQ(delta("inference_queue_duration_seconds_count" + mv), kRequests + 2);
  // Sequential requests on one connection: one batch each (the bad one never reaches the batcher).
  const double batches = delta("inference_batch_size_count" + mv);
  EXPECT_EQ(batches, kRequests + 1);
  EXPECT_EQ(delta("inference_batch_size_sum" + mv), kRequests * rows + 1);  // rows
  EXPECT_EQ(delta("inference_compute_duration_seconds_count" + mv), batches);
  EXPECT_EQ(
      delta(fmt::format(R"(inference_batch_size_bucket{{model="mlp",version="1",le="{}"}})", rows)),
      batches);
  EXPECT_EQ(
      after[R"(inference_request_duration_seconds_bucket{model="mlp",version="1",le="+Inf"})"],
      after["inference_request_duration_seconds_count" + mv]);
  // Durations: positive, and an MLP answers well within a second on average.
  const double mean_s = delta("inference_request_duration_seconds_sum" + mv) / (kRequests + 2);
  EXPECT_GT(mean_s, 0);
  EXPECT_LT(mean_s, 1.0);
  EXPECT_GT(delta("inference_compute_duration_seconds_sum" + mv), 0);
  EXPECT_GE(delta("inference_queue_duration_seconds_sum" + mv), 0);
  // Nothing is waiting or in flight once every answer is in.
  EXPECT_EQ(after["inference_pending_requests" + mv], 0);
  EXPECT_EQ(after["inference_in_flight_requests" + mv], 0);
  EXPECT_GT(after["inference_request_latency_ewma_seconds" + mv], 0);
  EXPECT_GE(after[R"(inference_version_loaded_total{model="mlp"})"], 1);
  // Every demo model has its series from load time on.
  for (const char* name : kDemoModels) {
    EXPECT_TRUE(after.count(
        fmt::format(R"(inference_request_success_total{{model="{}",version="1"}})", name)))
        << name;
  }
  EXPECT_GT(after["process_cpu_seconds_total"], 0);
  EXPECT_GT(after["process_resident_memory_bytes"], 10e6);  // libtorch alone is more
  EXPECT_GT(after["process_open_fds"], 0);
}

TEST(InferenceWorkerRepositoryTest, HotSwapUnderLoadLosesNoRequest) {
  TempDir dir;
  const std::string repo = MakeMlpRepo(dir);
  Worker worker(repo);
  Reference ref = LoadReference("mlp");
  const std::string body = InferBody(ref.input_shape, ref.input);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, v1{0}, v2{0};
  std::string first_failure;
  std::mutex failure_mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto client = worker.Client();
      while (!stop.load()) {
        auto r = client->Post("/v2/models/mlp/infer", body);
        if (r.ok() && r->status == 200) {
          ++ok;
          (json::parse(r->body)["model_version"] == "2" ? v2 : v1)++;
        } else {
          ++failed;
          std::lock_guard lock(failure_mu);
          if (first_failure.empty())
            first_failure = r.ok() ? r->body : std::string(r.status().message());
        }
      }
    });
  }
  while (ok.load() < 200) std::this_thread::yield();
  ASSERT_EQ(RunRepoTool({"add", "--repo", repo, "--model", "mlp", "--file",
                         g_models + "/repo/mlp/1/model.pt"}),
            0);
  auto client = worker.Client();
  WaitForIndex(client.get(), [](const json& i) {
    return StateOf(i, "mlp", "2") == "READY" && StateOf(i, "mlp", "1") == "UNLOADED";
  });
  const int after_swap = ok.load();
  while (ok.load() < after_swap + 200) std::this_thread::yield();
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(v1.load(), 0);
  EXPECT_GT(v2.load(), 0);
}

TEST(InferenceWorkerRepositoryTest, CorruptedAndBrokenChainVersionsAreRejectedWhileServing) {
  TempDir dir;
  const std::string repo = MakeMlpRepo(dir);
  Worker worker(repo);
  auto client = worker.Client();
  Reference ref = LoadReference("mlp");
  const std::string body = InferBody(ref.input_shape, ref.input);
  const std::string model_file = g_models + "/repo/mlp/1/model.pt";

  // Version 2: built in a scratch copy, then one byte of the model flipped, then moved in.
  TempDir staging_dir;
  const std::string staging = MakeMlpRepo(staging_dir);
  ASSERT_EQ(RunRepoTool({"add", "--repo", staging, "--model", "mlp", "--file", model_file}), 0);
  {
    std::fstream f(staging + "/mlp/2/model.pt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  fs::rename(staging + "/mlp/2", repo + "/mlp/2");
  json index =
      WaitForIndex(client.get(), [](const json& i) { return StateOf(i, "mlp", "2") == "FAILED"; });
  EXPECT_NE(ReasonOf(index, "mlp", "2").find("sha256 mismatch"), std::string::npos) << index.dump();

  // Version 3: a valid manifest whose parent link does not match version 2's manifest.
  ASSERT_EQ(RunRepoTool({"add", "--repo", staging, "--model", "mlp", "--version", "3", "--file",
                         model_file}),
            0);
  {
    json m = json::parse(ReadFile(staging + "/mlp/3/MANIFEST.json"));
    m["parent_manifest_sha256"] = std::string(64, 'a');
    std::ofstream(staging + "/mlp/3/MANIFEST.json", std::ios::trunc) << m.dump(2);
  }
  fs::rename(staging + "/mlp/3", repo + "/mlp/3");
  index =
      WaitForIndex(client.get(), [](const json& i) { return StateOf(i, "mlp", "3") == "FAILED"; });
  EXPECT_NE(ReasonOf(index, "mlp", "3").find("chain broken"), std::string::npos) << index.dump();

  // The old version kept serving throughout.
  auto r = client->Post("/v2/models/mlp/infer", body);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["model_version"], "1");
  EXPECT_EQ(client->Post("/v2/models/mlp/versions/2/infer", body)->status, 404);
  auto metrics = client->Get("/metrics")->body;
  EXPECT_NE(
      metrics.find("inference_version_rejected_total{model=\"mlp\",reason=\"verification\"} 2"),
      std::string::npos)
      << metrics;

  // A good version 4 (linked to 3's manifest) still loads: rejections never block later updates.
  ASSERT_EQ(RunRepoTool({"add", "--repo", repo, "--model", "mlp", "--file", model_file}), 0);
  WaitForIndex(client.get(), [](const json& i) {
    return StateOf(i, "mlp", "4") == "READY" && StateOf(i, "mlp", "1") == "UNLOADED";
  });
  r = client->Post("/v2/models/mlp/infer", body);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["model_version"], "4");
}

TEST(InferenceWorkerRepositoryTest, QueueFullIs429AndExpiredDeadlineIs504) {
  TempDir dir;
  std::string config = ReadFile(g_models + "/repo/mlp/config.yaml");
  config.replace(config.find("max_queue_delay_us: "), std::string("max_queue_delay_us: 200").size(),
                 "max_queue_delay_us: 1500000");
  config.replace(config.find("preferred_batch_sizes: "),
                 std::string("preferred_batch_sizes: [32, 64]").size(),
                 "preferred_batch_sizes: []");
  config.replace(config.find("queue_size_max: "), std::string("queue_size_max: 4096").size(),
                 // The lone requests below must wait: no adaptive early release.
                 "queue_size_max: 1\n  adaptive_release: false");
  const std::string repo = MakeMlpRepo(dir, config);
  Worker worker(repo);
  auto client = worker.Client();
  Reference ref = LoadReference("mlp");
  // Alone in the queue, it would wait 1.5 s for company; its 2 ms deadline passes first.
  auto r = client->Post("/v2/models/mlp/infer",
                        InferBody(ref.input_shape, ref.input, R"("parameters":{"timeout":2000})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 504) << r->body;
  // One request waits in the queue (capacity 1); the next is shed with 429.
  std::thread waiting([&] {
    auto c = worker.Client();
    auto w = c->Post("/v2/models/mlp/infer", InferBody(ref.input_shape, ref.input));
    EXPECT_EQ(w->status, 200);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (json::parse(client->Get("/v2/stats")->body)["queue_depth"] != 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the request never queued";
    std::this_thread::yield();
  }
  r = client->Post("/v2/models/mlp/infer", InferBody(ref.input_shape, ref.input));
  EXPECT_EQ(r->status, 429) << r->body;
  waiting.join();
}

TEST(InferenceWorkerRepositoryTest, MemoryDoesNotGrowAcrossLoadUnloadCycles) {
  TempDir dir;
  const std::string repo = MakeMlpRepo(dir);
  Worker worker(repo);
  auto client = worker.Client();
  Reference ref = LoadReference("mlp");
  const std::string body = InferBody(ref.input_shape, ref.input);
  auto cycle = [&] {
    ASSERT_EQ(client->Post("/v2/repository/models/mlp/unload", "")->status, 200);
    ASSERT_EQ(client->Post("/v2/repository/models/mlp/load", "")->status, 200);
    ASSERT_EQ(client->Post("/v2/models/mlp/infer", body)->status, 200);
  };
  for (int i = 0; i < 10; ++i) cycle();  // warm: allocator arenas, thread pools
  const size_t rss_before = core::testing::ResidentBytes(worker.process().pid());
  for (int i = 0; i < 40; ++i) cycle();
  const size_t rss_after = core::testing::ResidentBytes(worker.process().pid());
  EXPECT_LT(rss_after, rss_before + (16u << 20)) << rss_before << " -> " << rss_after;
}

TEST(InferenceWorkerRepositoryTest, UnloadLoadAndUnixSocketsAndGracefulShutdown) {
  TempDir dir;
  const std::string repo = MakeMlpRepo(dir);
  const std::string http_sock = dir.File("http.sock");
  const std::string grpc_sock = dir.File("grpc.sock");
  Worker worker(repo, {"--unix-socket", http_sock, "--grpc-unix-socket", grpc_sock});
  auto client = TestClient::ConnectUnix(http_sock);
  ASSERT_TRUE(client.ok()) << client.status();
  Reference ref = LoadReference("mlp");
  EXPECT_EQ((*client)->Post("/v2/models/mlp/infer", InferBody(ref.input_shape, ref.input))->status,
            200);
  EXPECT_EQ((*client)->Post("/v2/repository/models/mlp/unload", "")->status, 200);
  EXPECT_EQ((*client)->Post("/v2/models/mlp/infer", InferBody(ref.input_shape, ref.input))->status,
            503);
  EXPECT_EQ((*client)->Post("/v2/repository/models/mlp/load", "")->status, 200);
  EXPECT_EQ((*client)->Post("/v2/models/mlp/infer", InferBody(ref.input_shape, ref.input))->status,
            200);
  EXPECT_EQ((*client)->Post("/v2/repository/models/zzz/load", "")->status, 404);

  // gRPC on the socket, and on TCP too since the port was given as well (WorkerProcess passes
  // --grpc-port 0).
  ASSERT_GT(worker.grpc_port, 0);
  std::vector<std::unique_ptr<inference::GRPCInferenceService::Stub>> stubs;
  stubs.push_back(inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel("unix:" + grpc_sock, grpc::InsecureChannelCredentials())));
  stubs.push_back(worker.Grpc());
  for (auto& stub : stubs) {
    grpc::ClientContext ctx;
    inference::ServerReadyResponse ready;
    ASSERT_TRUE(stub->ServerReady(&ctx, {}, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }

  worker.process().Signal(SIGTERM);
  auto rc = worker.process().Wait(30000);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0) << worker.Log();
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <infer-worker> <infer-repo> <models dir>\n", argv[0]);
    return 2;
  }
  g_worker = argv[1];
  g_repo_tool = argv[2];
  g_models = argv[3];
  return RUN_ALL_TESTS();
}

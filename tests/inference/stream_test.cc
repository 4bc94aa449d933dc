// Integration tests of ModelStreamInfer (issue 6, worker side): the real infer-worker binary over
// real gRPC, on the streaming demo models built by scripts/make-models into <models>/stream-repo
// (gru_seq: kind sequence; gru_gen: kind generator). Arguments: <infer-worker> <models dir>.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/inference/stream_requests.h"
#include "tests/inference/worker_process.h"

namespace {

namespace fs = std::filesystem;
using core::http::testing::TestClient;
using core::testing::ChildProcess;
using core::testing::TempDir;
using inference::ModelInferRequest;
using inference::ModelStreamInferResponse;
using nlohmann::json;
using Stream = grpc::ClientReaderWriter<ModelInferRequest, ModelStreamInferResponse>;

std::string g_worker, g_models;

using inference_testing::Chunk;
using inference_testing::Floats;
using inference_testing::Generate;
using inference_testing::IsFinal;
using inference_testing::kSeqFeatures;
using inference_testing::kSeqOutputs;
using inference_testing::kSeqSteps;
using inference_testing::ReadFile;
using inference_testing::TokenOf;

// A running worker on `repo` (tests/inference/worker_process.h), bound to loopback.
class Worker : public inference_testing::WorkerProcess {
 public:
  explicit Worker(const std::string& repo)
      : WorkerProcess(g_worker, repo, {"--host", "127.0.0.1"}) {}
};

// Sends `requests` on one stream (from a thread), reads until the worker ends the stream.
std::vector<ModelStreamInferResponse> RoundTrip(inference::GRPCInferenceService::Stub* stub,
                                                const std::vector<ModelInferRequest>& requests,
                                                grpc::Status* status) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&ctx);
  std::thread writer([&] {
    for (const auto& r : requests) {
      if (!stream->Write(r)) break;
    }
    stream->WritesDone();
  });
  std::vector<ModelStreamInferResponse> out;
  for (ModelStreamInferResponse resp; stream->Read(&resp);) out.push_back(resp);
  writer.join();
  *status = stream->Finish();
  return out;
}

class StreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(g_models + "/stream-repo/gru_seq/1/MANIFEST.json"))
        << "streaming demo models missing under " << g_models
        << ": run `/usr/bin/python3 scripts/make-models --skip-resnet --out " << g_models << "`";
    worker_ = new Worker(g_models + "/stream-repo");
  }
  static void TearDownTestSuite() {
    delete worker_;
    worker_ = nullptr;
  }
  static Worker* worker_;
};
Worker* StreamTest::worker_ = nullptr;

TEST_F(StreamTest, HundredInterleavedSequencesMatchTheReference) {
  json meta = json::parse(ReadFile(g_models + "/reference/gru_seq.json"));
  const auto in_shape = meta["input_shape"].get<std::vector<int64_t>>();  // [S, C, T, F]
  const int64_t sequences = in_shape[0], chunks = in_shape[1];
  ASSERT_EQ(sequences, 100);
  const std::vector<float> x = Floats(ReadFile(g_models + "/reference/gru_seq.input.bin"));
  const std::vector<float> y = Floats(ReadFile(g_models + "/reference/gru_seq.output.bin"));
  const size_t x_chunk = static_cast<size_t>(kSeqSteps * kSeqFeatures);
  const size_t y_chunk = static_cast<size_t>(kSeqSteps * kSeqOutputs);
  ASSERT_EQ(x.size(), static_cast<size_t>(sequences * chunks) * x_chunk);
  ASSERT_EQ(y.size(), static_cast<size_t>(sequences * chunks) * y_chunk);
  const double batches_before = worker_->Metric("inference_batch_size_count", "gru_seq");

  // 4 streams; sequence s goes on stream s % 4; each stream sends chunk c of all its sequences
  // before chunk c+1 (interleaved). Even sequences have int64 ids, odd ones string ids.
  constexpr int kStreams = 4;
  std::vector<std::vector<ModelInferRequest>> requests(kStreams);
  for (int64_t c = 0; c < chunks; ++c) {
    for (int64_t s = 0; s < sequences; ++s) {
      const float* chunk = x.data() + static_cast<size_t>(s * chunks + c) * x_chunk;
      const bool numeric = s % 2 == 0;
      requests[static_cast<size_t>(s % kStreams)].push_back(Chunk(
          fmt::format("s{}c{}", s, c), numeric ? std::optional<int64_t>(1000 + s) : std::nullopt,
          numeric ? "" : fmt::format("seq-{}", s), c == 0, c == chunks - 1, chunk));
    }
  }
  std::vector<std::vector<ModelStreamInferResponse>> got(kStreams);
  std::vector<grpc::Status> status(kStreams);
  std::vector<std::thread> threads;
  auto stub = worker_->Grpc();
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      got[static_cast<size_t>(i)] =
          RoundTrip(stub.get(), requests[static_cast<size_t>(i)], &status[static_cast<size_t>(i)]);
    });
  }
  for (auto& t : threads) t.join();

  size_t checked = 0;
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(status[static_cast<size_t>(i)].ok())
        << status[static_cast<size_t>(i)].error_message();
    std::map<int64_t, int64_t> next_chunk;  // responses of one sequence arrive in chunk order
    for (const auto& r : got[static_cast<size_t>(i)]) {
      ASSERT_EQ(r.error_message(), "") << r.infer_response().id();
      int64_t s = 0, c = 0;
      ASSERT_EQ(std::sscanf(r.infer_response().id().c_str(), "s%ldc%ld", &s, &c), 2);
      EXPECT_EQ(next_chunk[s]++, c) << "sequence " << s;
      EXPECT_TRUE(IsFinal(r));
      const auto& ir = r.infer_response();
      ASSERT_EQ(ir.outputs_size(), 1);  // the state output is the worker's, not returned
      EXPECT_EQ(ir.outputs(0).name(), "output");
      const std::vector<float> out = Floats(ir.raw_output_contents(0));
      ASSERT_EQ(out.size(), y_chunk);
      const float* want = y.data() + static_cast<size_t>(s * chunks + c) * y_chunk;
      for (size_t e = 0; e < y_chunk; ++e) {
        ASSERT_NEAR(out[e], want[e], 1e-5f) << "sequence " << s << " chunk " << c << " elem " << e;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<size_t>(sequences * chunks));
  // Chunks of different sequences were batched together: fewer batches than chunks.
  const double batches = worker_->Metric("inference_batch_size_count", "gru_seq") - batches_before;
  EXPECT_LT(batches, static_cast<double>(sequences * chunks));
  EXPECT_GT(batches, 0);
}

TEST_F(StreamTest, GenerationStreamsTheReferenceTokensAndMarksTheLastFinal) {
  json ref = json::parse(ReadFile(g_models + "/reference/gru_gen.json"));
  const auto prompts = ref["prompts"].get<std::vector<std::vector<int64_t>>>();
  const auto tokens = ref["tokens"].get<std::vector<std::vector<int64_t>>>();
  const int64_t max_tokens = ref["max_tokens"].get<int64_t>();
  std::vector<ModelInferRequest> requests;
  for (size_t p = 0; p < prompts.size(); ++p) {
    requests.push_back(Generate(fmt::format("g{}", p), prompts[p], max_tokens));
  }
  auto stub = worker_->Grpc();
  grpc::Status status;
  auto got = RoundTrip(stub.get(), requests, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::vector<int64_t>> streamed;
  std::map<std::string, int> finals;
  for (const auto& r : got) {
    ASSERT_EQ(r.error_message(), "");
    const std::string& id = r.infer_response().id();
    ASSERT_EQ(finals[id], 0) << id << ": a response after the final one";
    streamed[id].push_back(TokenOf(r));
    if (IsFinal(r)) ++finals[id];
  }
  for (size_t p = 0; p < prompts.size(); ++p) {
    const std::string id = fmt::format("g{}", p);
    EXPECT_EQ(streamed[id], tokens[p]) << id;
    EXPECT_EQ(finals[id], 1) << id;
  }
}

TEST_F(StreamTest, SlowReaderGetsEverythingWhileTheWorkerStopsProducing) {
  json ref = json::parse(ReadFile(g_models + "/reference/gru_gen.json"));
  const auto prompts = ref["prompts"].get<std::vector<std::vector<int64_t>>>();
  const auto tokens = ref["tokens"].get<std::vector<std::vector<int64_t>>>();
  constexpr int kRequests = 16;
  constexpr int64_t kMaxTokens = 256;  // 4096 responses in all
  // A small HTTP/2 receive window (no BDP growth), so the worker's writes block soon after the
  // client stops reading and the worker's own window is what bounds its buffering.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto stub = worker_->Grpc(args);
  const pid_t pid = worker_->process().pid();
  const size_t rss_before = core::testing::ResidentBytes(pid);
  const double steps_before = worker_->Metric("inference_request_success_total", "gru_gen");

  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&ctx);
  for (int i = 0; i < kRequests; ++i) {
    const auto& prompt = prompts[static_cast<size_t>(i) % prompts.size()];
    ASSERT_TRUE(stream->Write(Generate(fmt::format("r{}", i), prompt, kMaxTokens)));
  }
  ASSERT_TRUE(stream->WritesDone());
  // Not reading: the worker runs until its window of queued responses is full and stops.
  double steps = 0;
  for (int i = 0; i < 20; ++i) {  // wait until production stalls (or 2 s)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double now = worker_->Metric("inference_request_success_total", "gru_gen");
    if (now == steps && now > steps_before) break;
    steps = now;
  }
  steps = worker_->Metric("inference_request_success_total", "gru_gen") - steps_before;
  // What may run: every prompt step (<= 5 tokens each), the window of queued responses (16) plus
  // one step in flight per request, and what gRPC's own buffers and the 1 KiB HTTP/2 window
  // absorb (measured: 71 steps in all). Without flow control all ~4100 steps would run.
  const double bound = kRequests * 5 + 2 * 16 + kRequests + 250;
  EXPECT_LT(steps, bound) << "the worker kept generating for a reader that does not read";
  EXPECT_GT(steps, 0);
  const size_t rss_stalled = core::testing::ResidentBytes(pid);

  // Read slowly: every response arrives, in order, the last of each request final.
  std::map<std::string, std::vector<int64_t>> streamed;
  std::map<std::string, int> finals;
  size_t n = 0;
  size_t rss_max = rss_stalled;
  for (ModelStreamInferResponse r; stream->Read(&r); ++n) {
    ASSERT_EQ(r.error_message(), "");
    const std::string& id = r.infer_response().id();
    ASSERT_EQ(finals[id], 0) << id;
    streamed[id].push_back(TokenOf(r));
    if (IsFinal(r)) ++finals[id];
    if (n < 400) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (n % 512 == 0) rss_max = std::max(rss_max, core::testing::ResidentBytes(pid));
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(n, static_cast<size_t>(kRequests * kMaxTokens));
  for (int i = 0; i < kRequests; ++i) {
    const std::string id = fmt::format("r{}", i);
    ASSERT_EQ(streamed[id].size(), static_cast<size_t>(kMaxTokens)) << id;
    const auto& want = tokens[static_cast<size_t>(i) % tokens.size()];
    EXPECT_TRUE(std::equal(want.begin(), want.end(), streamed[id].begin())) << id;
    EXPECT_EQ(finals[id], 1) << id;
  }
  // Bounded: a window of small responses; nothing proportional to the 4096 responses.
  ASSERT_GT(rss_before, 0u);
  EXPECT_LT(rss_max, rss_before + (32u << 20))
      << "RSS before " << rss_before << ", stalled " << rss_stalled << ", max " << rss_max;
}

// One request on a fresh stream; returns the single response (the stream is then closed).
ModelStreamInferResponse One(inference::GRPCInferenceService::Stub* stub,
                             const std::vector<ModelInferRequest>& requests, size_t index) {
  grpc::Status status;
  auto got = RoundTrip(stub, requests, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(got.size(), index);
  return got.size() > index ? got[index] : ModelStreamInferResponse{};
}

TEST_F(StreamTest, BadParametersGetClearErrorsAndTheStreamStaysOpen) {
  const std::vector<float> x(static_cast<size_t>(kSeqSteps * kSeqFeatures), 0.5f);
  auto stub = worker_->Grpc();
  std::vector<ModelInferRequest> requests;
  // 0: a chunk without sequence_start for an id nobody started.
  requests.push_back(Chunk("unknown", 424242, "", false, false, x.data()));
  // 1: no sequence_id at all on a sequence model.
  requests.push_back(Chunk("no-id", std::nullopt, "", true, false, x.data()));
  // 2: the state input is the worker's.
  ModelInferRequest with_state = Chunk("state", 5, "", true, true, x.data());
  auto* st = with_state.add_inputs();
  st->set_name("state");
  st->set_datatype("FP32");
  st->add_shape(1);
  st->add_shape(16);
  with_state.add_raw_input_contents()->assign(64, '\0');
  requests.push_back(with_state);
  // 3, 4: max_tokens out of range; 5: token outside the vocabulary.
  requests.push_back(Generate("zero", {1, 2}, 0));
  requests.push_back(Generate("huge", {1, 2}, 100000));
  requests.push_back(Generate("vocab", {1, 99}, 4));
  // 6: unknown model.
  ModelInferRequest unknown = Generate("nomodel", {1}, 1);
  unknown.set_model_name("no_such_model");
  requests.push_back(unknown);
  // 7: sequence_start given as a string.
  ModelInferRequest bad_flag = Chunk("flag", 6, "", false, false, x.data());
  (*bad_flag.mutable_parameters())["sequence_start"].set_string_param("yes");
  requests.push_back(bad_flag);
  // 8: after all that, a valid one-chunk sequence still works on the same stream.
  requests.push_back(Chunk("good", 77, "", true, true, x.data()));

  grpc::Status status;
  auto got = RoundTrip(stub.get(), requests, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::string> errors;
  for (const auto& r : got) errors[r.infer_response().id()] = r.error_message();
  ASSERT_EQ(errors.size(), requests.size());
  auto expect = [&](const std::string& id, const std::string& code, const std::string& names) {
    const std::string& e = errors[id];
    EXPECT_EQ(e.rfind(code + ": ", 0), 0u) << id << ": " << e;
    EXPECT_NE(e.find(names), std::string::npos) << id << ": " << e;
  };
  expect("unknown", "INVALID_ARGUMENT", "sequence_id 424242");
  expect("unknown", "INVALID_ARGUMENT", "sequence_start");
  expect("no-id", "INVALID_ARGUMENT", "sequence_id: required");
  expect("state", "INVALID_ARGUMENT", "'state'");
  expect("zero", "INVALID_ARGUMENT", "max_tokens");
  expect("huge", "INVALID_ARGUMENT", "max_tokens");
  expect("vocab", "INVALID_ARGUMENT", "token 99");
  expect("nomodel", "NOT_FOUND", "no_such_model");
  expect("flag", "INVALID_ARGUMENT", "sequence_start");
  EXPECT_EQ(errors["good"], "");
  // The sequence whose chunk was refused because it sent the state was freed again.
  auto after = One(stub.get(), {Chunk("again", 5, "", false, true, x.data())}, 0);
  EXPECT_NE(after.error_message().find("sequence_id 5"), std::string::npos)
      << after.error_message();
}

TEST(StreamLimitsTest, TooManySequencesIsResourceExhaustedUntilOneIdlesOut) {
  TempDir dir;
  const std::string repo = dir.File("repo");
  fs::create_directories(repo);
  fs::copy(g_models + "/stream-repo/gru_seq", repo + "/gru_seq", fs::copy_options::recursive);
  {
    std::string config = ReadFile(repo + "/gru_seq/config.yaml");
    const std::regex sb("sequence_batching: \\{[^}]*\\}");
    ASSERT_TRUE(std::regex_search(config, sb));
    config = std::regex_replace(config, sb,
                                "sequence_batching: {idle_timeout_ms: 400, max_sequences: 4}");
    std::ofstream(repo + "/gru_seq/config.yaml", std::ios::trunc) << config;
  }
  Worker worker(repo);
  auto stub = worker.Grpc();
  const std::vector<float> x(static_cast<size_t>(kSeqSteps * kSeqFeatures), 0.25f);
  std::vector<ModelInferRequest> starts;
  for (int s = 0; s < 5; ++s)
    starts.push_back(Chunk(fmt::format("{}", s), s, "", true, false, x.data()));
  grpc::Status status;
  auto got = RoundTrip(stub.get(), starts, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(got.size(), 5u);
  int exhausted = 0;
  for (const auto& r : got) {
    if (r.error_message().empty()) continue;
    ++exhausted;
    EXPECT_EQ(r.error_message().rfind("RESOURCE_EXHAUSTED: ", 0), 0u) << r.error_message();
    EXPECT_NE(r.error_message().find("max_sequences"), std::string::npos) << r.error_message();
    EXPECT_EQ(r.infer_response().id(), "4");
  }
  EXPECT_EQ(exhausted, 1);
  // The four live sequences idle out (400 ms); then a new one starts. Await it, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool started = false;
  while (!started && std::chrono::steady_clock::now() < deadline) {
    auto r = One(stub.get(), {Chunk("late", 99, "", true, true, x.data())}, 0);
    started = r.error_message().empty();
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(started);
  // An expired sequence is gone: its next chunk is refused, naming it.
  auto r = One(stub.get(), {Chunk("old", 0, "", false, false, x.data())}, 0);
  EXPECT_EQ(r.error_message().rfind("INVALID_ARGUMENT: sequence_id 0", 0), 0u) << r.error_message();
}

TEST(StreamShutdownTest, WorkerStopsPromptlyWithLiveSequences) {
  Worker worker(g_models + "/stream-repo");
  {
    auto stub = worker.Grpc();
    const std::vector<float> x(static_cast<size_t>(kSeqSteps * kSeqFeatures), 0.25f);
    auto r = One(stub.get(), {Chunk("live", 1, "", true, false, x.data())}, 0);  // never ended
    ASSERT_EQ(r.error_message(), "");
  }
  const auto t0 = std::chrono::steady_clock::now();
  worker.process().Signal(SIGTERM);
  auto rc = worker.process().Wait(30000);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0) << worker.Log();
  // The live sequence pinned its version; it is released at shutdown instead of waiting out the
  // 30 s drain timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10)) << worker.Log();
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <infer-worker> <models dir>\n", argv[0]);
    return 2;
  }
  g_worker = argv[1];
  g_models = argv[2];
  return RUN_ALL_TESTS();
}

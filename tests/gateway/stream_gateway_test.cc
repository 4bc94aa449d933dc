// Streaming through infer-gateway (issue 6, gateway side): the real gateway supervising real
// infer-worker processes on the streaming demo models (<models>/stream-repo, built by
// scripts/make-models), gRPC ModelStreamInfer and SSE generate_stream over real sockets.
// Arguments: <infer-gateway> <infer-worker> <models dir>.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/http/testing/sse_client.h"
#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/gateway/gateway_testing.h"
#include "tests/inference/stream_requests.h"
#include "tests/inference/worker_process.h"

namespace {

using gateway_testing::Eventually;
using gateway_testing::MetricIn;
using gateway_testing::Sha256Hex;

namespace fs = std::filesystem;
using core::http::testing::SseClient;
using core::http::testing::SseEvent;
using core::http::testing::TestClient;
using core::testing::ChildProcess;
using core::testing::TempDir;
using inference::ModelInferRequest;
using inference::ModelStreamInferResponse;
using nlohmann::json;
using Stream = grpc::ClientReaderWriter<ModelInferRequest, ModelStreamInferResponse>;
using SteadyClock = std::chrono::steady_clock;
using inference_testing::Floats;
using inference_testing::Generate;
using inference_testing::IsFinal;
using inference_testing::kSeqFeatures;
using inference_testing::kSeqOutputs;
using inference_testing::kSeqSteps;
using inference_testing::ReadFile;
using inference_testing::TokenOf;

std::string g_gateway, g_worker, g_models, g_stream_load;

constexpr char kKey[] = "stream-key";

// A gateway supervising `workers` infer-worker processes on the streaming repository.
class Gateway {
 public:
  Gateway(int workers, const std::string& streaming_yaml) {
    const std::string config = dir_.File("gateway.yaml");
    std::ofstream(config) << fmt::format(
        "http_port: 0\ngrpc_port: 0\nhost: 127.0.0.1\nstats_interval_ms: 50\n"
        "workers: {{binary: {}, repo: {}, min: {}, max: {}, initial: {}, runtime_dir: {}}}\n"
        "auth:\n  keys:\n    - {{name: s, sha256: \"{}\", rate_per_s: 100000, burst: 100000}}\n"
        "breaker: {{consecutive_failures: 1000, min_requests: 100000}}\n"
        "ejection: {{consecutive_failures: 1000}}\n"
        "streaming: {{{}}}\n",
        g_worker, g_models + "/stream-repo", workers, workers, workers, dir_.File("run"),
        Sha256Hex(kKey), streaming_yaml);
    auto child = ChildProcess::Start(
        {g_gateway, "--config", config, "--ready-file", dir_.File("ready.json")},
        {.log_path = dir_.File("gateway.log")});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return;
    child_ = *std::move(child);
    auto ready = core::testing::WaitForReadyFile(dir_.File("ready.json"), 20000);
    EXPECT_TRUE(ready.ok()) << ready.status();
    if (!ready.ok()) return;
    port_ = (*ready)["http_port"].get<uint16_t>();
    grpc_port_ = (*ready)["grpc_port"].get<int>();
    runtime_dir_ = (*ready)["runtime_dir"].get<std::string>();
    ok_ = Eventually([&] { return Metric("gateway_workers{state=\"ready\"}") >= workers; }, 60000);
    EXPECT_TRUE(ok_) << "workers did not become ready\n" << Log();
  }
  ~Gateway() {
    if (child_) {
      child_->Signal(SIGTERM);
      (void)child_->Wait(15000);
    }
  }
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }
  std::string Log() const { return ReadFile(dir_.File("gateway.log")); }
  pid_t pid() const { return child_ ? child_->pid() : -1; }
  std::string Metrics() const {
    auto c = TestClient::Connect("127.0.0.1", port_);
    if (!c.ok()) return "";
    auto r = (*c)->Get("/metrics");
    return r.ok() ? r->body : "";
  }
  double Metric(const std::string& sample) const { return MetricIn(Metrics(), sample); }
  std::unique_ptr<inference::GRPCInferenceService::Stub> Grpc(
      const grpc::ChannelArguments& args = {}) const {
    return inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
        fmt::format("127.0.0.1:{}", grpc_port_), grpc::InsecureChannelCredentials(), args));
  }
  int grpc_port() const { return grpc_port_; }
  pid_t WorkerPid(int i) const {
    auto j = core::testing::WaitForReadyFile(fmt::format("{}/w{}.ready", runtime_dir_, i), 5000);
    return j.ok() ? (*j)["pid"].get<pid_t>() : -1;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  uint16_t port_ = 0;
  int grpc_port_ = -1;
  std::string runtime_dir_;
  bool ok_ = false;
};

// A gru_seq chunk with an integer sequence id.
ModelInferRequest Chunk(const std::string& request_id, int64_t sequence_id, bool start, bool end,
                        const float* x) {
  return inference_testing::Chunk(request_id, sequence_id, "", start, end, x);
}

std::string GenerateBody(const std::string& id, const std::vector<int64_t>& prompt,
                         int64_t max_tokens) {
  return json{{"id", id}, {"token", prompt}, {"parameters", {{"max_tokens", max_tokens}}}}.dump();
}

void AddKey(grpc::ClientContext* ctx) {
  ctx->AddMetadata("authorization", fmt::format("Bearer {}", kKey));
}

std::vector<std::pair<std::string, std::string>> KeyHeader() {
  return {{"Authorization", fmt::format("Bearer {}", kKey)}};
}

// Sends `requests` on one gateway stream (from a thread) and reads until the stream ends.
std::vector<ModelStreamInferResponse> RoundTrip(inference::GRPCInferenceService::Stub* stub,
                                                const std::vector<ModelInferRequest>& requests,
                                                grpc::Status* status) {
  grpc::ClientContext ctx;
  AddKey(&ctx);
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

struct GenReference {
  std::vector<std::vector<int64_t>> prompts, tokens;
  int64_t max_tokens = 0;
};

GenReference LoadGenReference() {
  json ref = json::parse(ReadFile(g_models + "/reference/gru_gen.json"));
  return {ref["prompts"].get<std::vector<std::vector<int64_t>>>(),
          ref["tokens"].get<std::vector<std::vector<int64_t>>>(), ref["max_tokens"].get<int64_t>()};
}

// The tokens of SSE token events (delta.token), and whether a final event closed the stream.
struct SseResult {
  std::vector<int64_t> tokens;
  size_t first_index = 0;  // of the first token read here (earlier ones may have been read)
  int keepalives = 0;
  bool final_event = false;
  std::vector<SseEvent> errors;
};

SseResult ReadSse(SseClient* c, int event_timeout_ms = 20000) {
  SseResult out;
  while (auto e = c->Next(event_timeout_ms)) {
    if (e->event == "keepalive") {
      ++out.keepalives;
    } else if (e->event == "final") {
      out.final_event = true;
    } else if (e->event == "error") {
      out.errors.push_back(*e);
    } else {
      json d = json::parse(e->data);
      if (out.tokens.empty()) out.first_index = d["index"].get<size_t>();
      EXPECT_EQ(d["model_version"], "1") << e->data;  // the version that served, even unpinned
      EXPECT_EQ(d["index"].get<size_t>(), out.first_index + out.tokens.size()) << e->data;
      out.tokens.push_back(d["delta"]["token"][0].get<int64_t>());
    }
  }
  return out;
}

// Every reference prompt generated over SSE, one after another: the reference tokens, one final
// event, no error and no keep-alive.
void ExpectSseGenerationsMatch(Gateway* gw, const GenReference& ref) {
  for (size_t p = 0; p < ref.prompts.size(); ++p) {
    auto c = SseClient::Post("127.0.0.1", gw->port(), "/v2/models/gru_gen/generate_stream",
                             GenerateBody(fmt::format("sse{}", p), ref.prompts[p], ref.max_tokens),
                             KeyHeader());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ((*c)->status(), 200);
    EXPECT_EQ((*c)->header("content-type"), "text/event-stream");
    SseResult r = ReadSse(c->get());
    EXPECT_EQ(r.tokens, ref.tokens[p]) << p;
    EXPECT_TRUE(r.final_event);
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].data;
    EXPECT_EQ(r.keepalives, 0);
  }
}

class StreamGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(g_models + "/stream-repo/gru_seq/1/MANIFEST.json"))
        << "streaming demo models missing under " << g_models;
    gateway_ = new Gateway(2, "window: 16, sse_pause_bytes: 4096");
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  static Gateway* gateway_;
};
Gateway* StreamGatewayTest::gateway_ = nullptr;

// 100 sequences interleaved over 4 client streams, through the gateway to 2 workers: every chunk's
// output equals the in-process reference (a chunk on a worker without its state would be refused).
TEST_F(StreamGatewayTest, HundredInterleavedSequencesMatchTheReference) {
  ASSERT_TRUE(gateway_->ok());
  json meta = json::parse(ReadFile(g_models + "/reference/gru_seq.json"));
  const auto in_shape = meta["input_shape"].get<std::vector<int64_t>>();
  const int64_t sequences = in_shape[0], chunks = in_shape[1];
  const std::vector<float> x = Floats(ReadFile(g_models + "/reference/gru_seq.input.bin"));
  const std::vector<float> y = Floats(ReadFile(g_models + "/reference/gru_seq.output.bin"));
  const size_t x_chunk = static_cast<size_t>(kSeqSteps * kSeqFeatures);
  const size_t y_chunk = static_cast<size_t>(kSeqSteps * kSeqOutputs);
  constexpr int kStreams = 4;
  std::vector<std::vector<ModelInferRequest>> requests(kStreams);
  for (int64_t c = 0; c < chunks; ++c) {
    for (int64_t s = 0; s < sequences; ++s) {
      requests[static_cast<size_t>(s % kStreams)].push_back(
          Chunk(fmt::format("s{}c{}", s, c), 5000 + s, c == 0, c == chunks - 1,
                x.data() + static_cast<size_t>(s * chunks + c) * x_chunk));
    }
  }
  std::vector<std::vector<ModelStreamInferResponse>> got(kStreams);
  std::vector<grpc::Status> status(kStreams);
  std::vector<std::thread> threads;
  auto stub = gateway_->Grpc();
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      const auto u = static_cast<size_t>(i);
      got[u] = RoundTrip(stub.get(), requests[u], &status[u]);
    });
  }
  for (auto& t : threads) t.join();
  size_t checked = 0;
  for (size_t i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(status[i].ok()) << status[i].error_message();
    std::map<int64_t, int64_t> next_chunk;
    for (const auto& r : got[i]) {
      ASSERT_EQ(r.error_message(), "") << r.infer_response().id();
      int64_t s = 0, c = 0;
      ASSERT_EQ(std::sscanf(r.infer_response().id().c_str(), "s%ldc%ld", &s, &c), 2);
      EXPECT_EQ(next_chunk[s]++, c) << "sequence " << s;
      const std::vector<float> out = Floats(r.infer_response().raw_output_contents(0));
      ASSERT_EQ(out.size(), y_chunk);
      const float* want = y.data() + static_cast<size_t>(s * chunks + c) * y_chunk;
      for (size_t e = 0; e < y_chunk; ++e) {
        ASSERT_NEAR(out[e], want[e], 1e-5f) << "sequence " << s << " chunk " << c;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<size_t>(sequences * chunks));
  EXPECT_GE(gateway_->Metric("gateway_stream_responses_total{protocol=\"grpc\"}"),
            static_cast<double>(sequences * chunks));
}

// A sequence started on one client stream continues on another: the gateway's sequence affinity
// sends the chunk to the worker holding the state (the output equals the reference's chunk 1).
TEST_F(StreamGatewayTest, SequenceContinuesOnAnotherClientStream) {
  ASSERT_TRUE(gateway_->ok());
  json meta = json::parse(ReadFile(g_models + "/reference/gru_seq.json"));
  const int64_t chunks = meta["input_shape"].get<std::vector<int64_t>>()[1];
  ASSERT_GE(chunks, 2);
  const std::vector<float> x = Floats(ReadFile(g_models + "/reference/gru_seq.input.bin"));
  const std::vector<float> y = Floats(ReadFile(g_models + "/reference/gru_seq.output.bin"));
  const size_t x_chunk = static_cast<size_t>(kSeqSteps * kSeqFeatures);
  const size_t y_chunk = static_cast<size_t>(kSeqSteps * kSeqOutputs);
  auto stub = gateway_->Grpc();
  // Several sequences, so with two workers some start on each.
  for (int64_t s = 0; s < 6; ++s) {
    grpc::Status st;
    auto first = RoundTrip(
        stub.get(), {Chunk("c0", 9000 + s, true, false, x.data() + s * chunks * x_chunk)}, &st);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(first[0].error_message(), "");
    auto second =
        RoundTrip(stub.get(),
                  {Chunk("c1", 9000 + s, false, true, x.data() + (s * chunks + 1) * x_chunk)}, &st);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(second.size(), 1u);
    ASSERT_EQ(second[0].error_message(), "") << "sequence " << s;
    const std::vector<float> out = Floats(second[0].infer_response().raw_output_contents(0));
    ASSERT_EQ(out.size(), y_chunk);
    for (size_t e = 0; e < y_chunk; ++e) {
      ASSERT_NEAR(out[e], y[(static_cast<size_t>(s * chunks) + 1) * y_chunk + e], 1e-5f);
    }
  }
}

TEST_F(StreamGatewayTest, GenerationEqualsTheReferenceOverGrpcAndSse) {
  ASSERT_TRUE(gateway_->ok());
  const GenReference ref = LoadGenReference();
  std::vector<ModelInferRequest> requests;
  for (size_t p = 0; p < ref.prompts.size(); ++p) {
    requests.push_back(Generate(fmt::format("g{}", p), ref.prompts[p], ref.max_tokens));
  }
  auto stub = gateway_->Grpc();
  grpc::Status status;
  auto got = RoundTrip(stub.get(), requests, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::vector<int64_t>> streamed;
  std::map<std::string, int> finals;
  for (const auto& r : got) {
    ASSERT_EQ(r.error_message(), "");
    streamed[r.infer_response().id()].push_back(TokenOf(r));
    if (IsFinal(r)) ++finals[r.infer_response().id()];
  }
  for (size_t p = 0; p < ref.prompts.size(); ++p) {
    EXPECT_EQ(streamed[fmt::format("g{}", p)], ref.tokens[p]) << p;
    EXPECT_EQ(finals[fmt::format("g{}", p)], 1) << p;
  }

  // SSE, on the default upstream client (streaming.sse_upstream: h2). One generation after
  // another: after the first on each of the two workers, each generation reuses the idle upstream
  // call (HTTP/2 stream) of the previous one on its worker, with the same tokens.
  const double reused_before =
      gateway_->Metric("gateway_sse_upstream_calls_total{reused=\"true\"}");
  ExpectSseGenerationsMatch(gateway_, ref);
  ASSERT_GT(ref.prompts.size(), 2u);
  EXPECT_GE(gateway_->Metric("gateway_sse_upstream_calls_total{reused=\"true\"}") - reused_before,
            static_cast<double>(ref.prompts.size() - 2));
  EXPECT_GE(gateway_->Metric("gateway_stream_first_token_seconds_count{protocol=\"sse\"}"),
            static_cast<double>(ref.prompts.size()));
  // No gRPC series: the gRPC relay does not read responses, and a series that stays 0 would say
  // no stream ever got a first token.
  EXPECT_EQ(gateway_->Metric("gateway_stream_first_token_seconds_count{protocol=\"grpc\"}"), -1);
}

// streaming.sse_upstream: grpc relays SSE generations over gRPC C++ calls, pooled as the h2 ones:
// one generation after another on the one worker, each after the first reuses the idle call of the
// previous one, with the same tokens.
TEST(StreamUpstreamTest, SseOverGrpcUpstreamMatchesTheReferenceAndReusesCalls) {
  Gateway gw(1, "window: 16, sse_pause_bytes: 4096, sse_upstream: grpc");
  ASSERT_TRUE(gw.ok());
  const GenReference ref = LoadGenReference();
  ASSERT_GT(ref.prompts.size(), 2u);
  ExpectSseGenerationsMatch(&gw, ref);
  EXPECT_GE(gw.Metric("gateway_sse_upstream_calls_total{reused=\"true\"}"),
            static_cast<double>(ref.prompts.size() - 1));
}

// infer-stream-load, the streaming benchmark's load generator, counts the same tokens and the same
// errors with both of its gRPC clients (nghttp2 and gRPC C++) through the gateway: every token of
// every generation, a call per stream that fails on an unknown model, and on a missing key.
TEST_F(StreamGatewayTest, LoadGeneratorClientsCountTokensAndErrorsAlike) {
  ASSERT_TRUE(gateway_->ok());
  core::testing::TempDir dir;
  auto run = [&](const std::vector<std::string>& extra, int* rc) {
    std::vector<std::string> argv = {g_stream_load,
                                     "--target",
                                     fmt::format("127.0.0.1:{}", gateway_->grpc_port()),
                                     "--streams",
                                     "4",
                                     "--requests",
                                     "3",
                                     "--max-tokens",
                                     "8"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = ChildProcess::Start(argv, {.log_path = dir.File("load.out")});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return std::string();
    auto code = (*child)->Wait(60000);
    EXPECT_TRUE(code.ok()) << code.status();
    *rc = code.ok() ? *code : -1;
    return ReadFile(dir.File("load.out"));
  };
  for (const std::string client : {"h2", "grpc"}) {
    int rc = -1;
    std::string out = run({"--client", client, "--api-key", kKey}, &rc);
    EXPECT_EQ(rc, 0) << client << ": " << out;
    EXPECT_NE(out.find("generations 12, tokens 96 in"), std::string::npos) << client << ": " << out;
    EXPECT_NE(out.find("errors=0"), std::string::npos) << client << ": " << out;

    out = run({"--client", client, "--api-key", kKey, "--model", "no_such_model"}, &rc);
    EXPECT_EQ(rc, 1) << client << ": " << out;
    EXPECT_NE(out.find("tokens 0 in"), std::string::npos) << client << ": " << out;
    EXPECT_NE(out.find("errors=4"), std::string::npos) << client << ": " << out;

    out = run({"--client", client}, &rc);  // no key: UNAUTHENTICATED
    EXPECT_EQ(rc, 1) << client << ": " << out;
    EXPECT_NE(out.find("errors=4"), std::string::npos) << client << ": " << out;
  }
  // A call per generation (h2 only): the same tokens over 12 calls instead of 4.
  int rc = -1;
  const std::string out = run({"--api-key", kKey, "--call-per-generation"}, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("generations 12, tokens 96 in"), std::string::npos) << out;
  EXPECT_NE(out.find("errors=0"), std::string::npos) << out;
}

TEST_F(StreamGatewayTest, BadRequestsGetClearErrors) {
  ASSERT_TRUE(gateway_->ok());
  const std::vector<float> x(static_cast<size_t>(kSeqSteps * kSeqFeatures), 0.5f);
  auto stub = gateway_->Grpc();
  std::vector<ModelInferRequest> requests;
  requests.push_back(Chunk("unknown", 424242, false, false, x.data()));
  ModelInferRequest no_id = Chunk("no-id", 1, true, false, x.data());
  no_id.mutable_parameters()->erase("sequence_id");
  requests.push_back(no_id);
  ModelInferRequest bad_flag = Chunk("flag", 6, false, false, x.data());
  (*bad_flag.mutable_parameters())["sequence_start"].set_string_param("yes");
  requests.push_back(bad_flag);
  ModelInferRequest no_model = Generate("nomodel", {1}, 1);
  no_model.set_model_name("");
  requests.push_back(no_model);
  requests.push_back(Generate("zero", {1, 2}, 0));  // the worker's own check, passed through
  requests.push_back(Chunk("good", 77, true, true, x.data()));
  grpc::Status status;
  auto got = RoundTrip(stub.get(), requests, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::string> errors;
  for (const auto& r : got) errors[r.infer_response().id()] = r.error_message();
  ASSERT_EQ(errors.size(), requests.size());
  auto expect = [&](const std::string& id, const std::string& code, const std::string& names) {
    EXPECT_EQ(errors[id].rfind(code + ": ", 0), 0u) << id << ": " << errors[id];
    EXPECT_NE(errors[id].find(names), std::string::npos) << id << ": " << errors[id];
  };
  expect("unknown", "INVALID_ARGUMENT", "sequence_id 424242");
  expect("unknown", "INVALID_ARGUMENT", "sequence_start");
  expect("no-id", "INVALID_ARGUMENT", "sequence_id: required");
  expect("flag", "INVALID_ARGUMENT", "sequence_start");
  expect("zero", "INVALID_ARGUMENT", "max_tokens");
  EXPECT_EQ(errors["good"], "");

  // The relay is raw: bytes that are not a ModelInferRequest get an error response, and the
  // stream goes on (a valid request behind them is answered).
  {
    grpc::GenericStub generic(grpc::CreateChannel(
        fmt::format("127.0.0.1:{}", gateway_->grpc_port()), grpc::InsecureChannelCredentials()));
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    AddKey(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto call = generic.PrepareCall(&ctx, "/inference.GRPCInferenceService/ModelStreamInfer", &cq);
    auto step = [&cq](const char* what) {
      void* tag = nullptr;
      bool ok = false;
      EXPECT_TRUE(cq.Next(&tag, &ok)) << what;
      return ok;
    };
    call->StartCall(nullptr);
    ASSERT_TRUE(step("start"));
    grpc::Slice garbage(std::string("\x0a\xff\xff\xff\xff\x0f"));  // a length past the end
    call->Write(grpc::ByteBuffer(&garbage, 1), nullptr);
    ASSERT_TRUE(step("write garbage"));
    const std::string good = Chunk("after-garbage", 78, true, true, x.data()).SerializeAsString();
    grpc::Slice good_slice(good);
    call->Write(grpc::ByteBuffer(&good_slice, 1), nullptr);
    ASSERT_TRUE(step("write good"));
    call->WritesDone(nullptr);
    ASSERT_TRUE(step("writes done"));
    std::vector<ModelStreamInferResponse> answers;
    while (true) {
      grpc::ByteBuffer bytes;
      call->Read(&bytes, nullptr);
      if (!step("read")) break;
      std::vector<grpc::Slice> slices;
      ASSERT_TRUE(bytes.Dump(&slices).ok());
      std::string flat;
      for (const auto& sl : slices)
        flat.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
      ASSERT_TRUE(answers.emplace_back().ParseFromString(flat));
    }
    grpc::Status finished;
    call->Finish(&finished, nullptr);
    step("finish");
    EXPECT_TRUE(finished.ok()) << finished.error_message();
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_EQ(answers[0].error_message().rfind("INVALID_ARGUMENT: ", 0), 0u)
        << answers[0].error_message();
    EXPECT_NE(answers[0].error_message().find("ModelInferRequest"), std::string::npos);
    EXPECT_EQ(answers[1].error_message(), "");
    EXPECT_EQ(answers[1].infer_response().id(), "after-garbage");
  }

  // Keys are checked on streams too.
  {
    grpc::ClientContext ctx;
    auto stream = stub->ModelStreamInfer(&ctx);
    stream->WritesDone();
    ModelStreamInferResponse r;
    EXPECT_FALSE(stream->Read(&r));
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  auto post = [&](const std::string& target, const std::string& body, bool key = true) {
    auto c =
        SseClient::Post("127.0.0.1", gateway_->port(), target, body,
                        key ? KeyHeader() : std::vector<std::pair<std::string, std::string>>{});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  };
  auto error_field = [](SseClient* c) {
    auto body = c->ReadBody(5000);
    EXPECT_TRUE(body.ok()) << body.status();
    json j = json::parse(body.ok() ? *body : "{}", nullptr, false);
    return j.is_object() && j.contains("field") ? j["field"].get<std::string>() : "";
  };
  const std::string target = "/v2/models/gru_gen/generate_stream";
  auto c = post(target, GenerateBody("x", {1, 2}, 4), false);
  EXPECT_EQ(c->status(), 401);
  c = post(target, "{not json");
  EXPECT_EQ(c->status(), 400);
  EXPECT_EQ(error_field(c.get()), "body");
  c = post(target, R"({"token": [1, "a"]})");
  EXPECT_EQ(c->status(), 400);
  EXPECT_EQ(error_field(c.get()), "token");
  c = post(target, R"({"parameters": {"max_tokens": 4}})");
  EXPECT_EQ(c->status(), 400);
  EXPECT_EQ(error_field(c.get()), "body");
  c = post(target, R"({"token": [1], "parameters": {"max_tokens": [4]}})");
  EXPECT_EQ(c->status(), 400);
  EXPECT_EQ(error_field(c.get()), "parameters.max_tokens");
  c = post("/v2/models/gru_gen/versions/99/generate_stream", GenerateBody("x", {1}, 4));
  EXPECT_EQ(c->status(), 404);
  // An error the worker finds is an event after the stream started.
  c = post(target, GenerateBody("big", {1, 99}, 4));
  ASSERT_EQ(c->status(), 200);
  SseResult r = ReadSse(c.get());
  ASSERT_EQ(r.errors.size(), 1u);
  json e = json::parse(r.errors[0].data);
  EXPECT_EQ(e["code"], "invalid_argument") << r.errors[0].data;
  EXPECT_NE(e["error"].get<std::string>().find("token 99"), std::string::npos);
  EXPECT_TRUE(r.tokens.empty());
}

// The gateway's RSS while clients do not read: it must not buffer what the worker would produce.
TEST_F(StreamGatewayTest, SlowReadersKeepGatewayMemoryBoundedAndLoseNothing) {
  ASSERT_TRUE(gateway_->ok());
  const GenReference ref = LoadGenReference();
  constexpr int kRequests = 16;
  constexpr int64_t kMaxTokens = 256;  // the demo max; 4096 gRPC responses, 4 x 256 SSE events
  const size_t rss_before = core::testing::ResidentBytes(gateway_->pid());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto stub = gateway_->Grpc(args);
  grpc::ClientContext ctx;
  AddKey(&ctx);
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&ctx);
  for (int i = 0; i < kRequests; ++i) {
    const auto& prompt = ref.prompts[static_cast<size_t>(i) % ref.prompts.size()];
    ASSERT_TRUE(stream->Write(Generate(fmt::format("r{}", i), prompt, kMaxTokens)));
  }
  ASSERT_TRUE(stream->WritesDone());
  std::vector<std::unique_ptr<SseClient>> sse;
  for (int i = 0; i < 4; ++i) {
    auto c = SseClient::Post("127.0.0.1", gateway_->port(), "/v2/models/gru_gen/generate_stream",
                             GenerateBody(fmt::format("slow{}", i), ref.prompts[0], kMaxTokens),
                             KeyHeader(), {.receive_buffer_bytes = 4096});
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ((*c)->status(), 200);
    sse.push_back(*std::move(c));
  }
  // Nobody reads for 2 s: production must stop (responses sent stop growing).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const double sent_a = gateway_->Metric("gateway_stream_responses_total{protocol=\"grpc\"}") +
                        gateway_->Metric("gateway_stream_responses_total{protocol=\"sse\"}");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double sent_b = gateway_->Metric("gateway_stream_responses_total{protocol=\"grpc\"}") +
                        gateway_->Metric("gateway_stream_responses_total{protocol=\"sse\"}");
  EXPECT_EQ(sent_a, sent_b) << "the gateway kept taking responses for clients that do not read";
  const size_t rss_stalled = core::testing::ResidentBytes(gateway_->pid());

  // Then read slowly: everything arrives, in order, nothing lost.
  std::map<std::string, std::vector<int64_t>> streamed;
  size_t n = 0;
  for (ModelStreamInferResponse r; stream->Read(&r); ++n) {
    ASSERT_EQ(r.error_message(), "");
    streamed[r.infer_response().id()].push_back(TokenOf(r));
    if (n < 200) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(n, static_cast<size_t>(kRequests * kMaxTokens));
  for (int i = 0; i < kRequests; ++i) {
    const auto& want = ref.tokens[static_cast<size_t>(i) % ref.tokens.size()];
    const auto& have = streamed[fmt::format("r{}", i)];
    ASSERT_EQ(have.size(), static_cast<size_t>(kMaxTokens));
    EXPECT_TRUE(std::equal(want.begin(), want.end(), have.begin())) << i;
  }
  for (auto& c : sse) {
    SseResult r = ReadSse(c.get());
    EXPECT_EQ(r.tokens.size(), static_cast<size_t>(kMaxTokens));
    EXPECT_TRUE(std::equal(ref.tokens[0].begin(), ref.tokens[0].end(), r.tokens.begin()));
    EXPECT_TRUE(r.final_event);
    EXPECT_EQ(r.keepalives, 0) << "a slow reader is not a stalled worker";
  }
  ASSERT_GT(rss_before, 0u);
  EXPECT_LT(rss_stalled, rss_before + (16u << 20))
      << "RSS before " << rss_before << ", while stalled " << rss_stalled;
}

// A worker that stops (SIGSTOP) mid-stream: keep-alive events at keepalive_ms, then an error event
// after fallback_max_ms. A worker that resumes before that: tokens resume and the stream ends well.
TEST(StreamFallbackTest, StalledWorkerGetsKeepalivesThenAnErrorAndRecoveryResumesTokens) {
  Gateway gw(1, "stall_ms: 300, keepalive_ms: 100, fallback_max_ms: 1000, sse_pause_bytes: 4096");
  ASSERT_TRUE(gw.ok());
  const GenReference ref = LoadGenReference();
  const pid_t worker = gw.WorkerPid(0);
  ASSERT_GT(worker, 0);
  const std::string target = "/v2/models/gru_gen/generate_stream";
  for (bool recover : {false, true}) {
    SCOPED_TRACE(recover ? "recovering worker" : "stalled worker");
    auto c = SseClient::Post("127.0.0.1", gw.port(), target, GenerateBody("s", ref.prompts[0], 256),
                             KeyHeader());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ((*c)->status(), 200);
    // A few tokens, then the worker stops.
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*c)->Next(10000).has_value());
    ASSERT_TRUE(core::testing::StopProcess(worker).ok());
    const auto stopped_at = SteadyClock::now();
    std::vector<SteadyClock::time_point> keepalives;
    std::optional<SseEvent> error;
    int tokens_after_resume = 0;
    bool final_event = false, resumed = false;
    while (auto e = (*c)->Next(5000)) {
      if (e->event == "keepalive") {
        json d = json::parse(e->data);
        EXPECT_TRUE(d["delta"].empty()) << e->data;
        EXPECT_EQ(d["reason"], "stall");
        keepalives.push_back(e->at);
        if (recover && keepalives.size() == 3) {
          ASSERT_EQ(::kill(worker, SIGCONT), 0);
          resumed = true;
        }
      } else if (e->event == "error") {
        error = e;
      } else if (e->event == "final") {
        final_event = true;
      } else if (!keepalives.empty()) {
        ++tokens_after_resume;
      }
    }
    if (!resumed) ::kill(worker, SIGCONT);
    ASSERT_GE(keepalives.size(), 3u);
    // The first after stall_ms (300), then every keepalive_ms (100): generous bounds for CI.
    EXPECT_GE(keepalives[0] - stopped_at, std::chrono::milliseconds(200));
    // Arrival times jitter on a loaded machine: the mean period is the configured one, and no
    // single gap is far off.
    const auto mean = (keepalives.back() - keepalives.front()) / (keepalives.size() - 1);
    EXPECT_GE(mean, std::chrono::milliseconds(90));
    EXPECT_LE(mean, std::chrono::milliseconds(180));
    for (size_t i = 1; i < keepalives.size(); ++i) {
      const auto gap = keepalives[i] - keepalives[i - 1];
      EXPECT_GE(gap, std::chrono::milliseconds(30)) << i;
      EXPECT_LE(gap, std::chrono::milliseconds(400)) << i;
    }
    if (recover) {
      EXPECT_FALSE(error.has_value()) << error->data;
      EXPECT_TRUE(final_event);
      EXPECT_GT(tokens_after_resume, 0);
    } else {
      ASSERT_TRUE(error.has_value());
      EXPECT_EQ(json::parse(error->data)["code"], "stalled") << error->data;
      // ~ fallback_max_ms / keepalive_ms keep-alives, then the error.
      EXPECT_GE(keepalives.size(), 6u);
      EXPECT_LE(keepalives.size(), 14u);
      EXPECT_GE(error->at - stopped_at, std::chrono::milliseconds(1200));
      EXPECT_FALSE(final_event);
    }
  }
  EXPECT_GE(gw.Metric("gateway_stream_fallbacks_total{reason=\"stall\"}"), 2);
  EXPECT_GE(gw.Metric("gateway_stream_keepalives_total"), 9);
  EXPECT_EQ(gw.Metric("gateway_stream_fallback_timeouts_total"), 1);
}

// No endpoint can take the request (its only worker stopped, so not ready): the SSE stream starts
// with keep-alives (reason "unavailable"); when the worker comes back, tokens flow and the stream
// ends normally; when it does not, an error event (code "unavailable") after fallback_max_ms.
TEST(StreamFallbackTest, NoEligibleEndpointGetsKeepalivesThenTokensOrAnError) {
  Gateway gw(1, "stall_ms: 300, keepalive_ms: 100, fallback_max_ms: 1500");
  ASSERT_TRUE(gw.ok());
  const GenReference ref = LoadGenReference();
  const pid_t worker = gw.WorkerPid(0);
  ASSERT_GT(worker, 0);
  for (bool recover : {true, false}) {
    SCOPED_TRACE(recover ? "worker comes back" : "worker stays away");
    ASSERT_TRUE(core::testing::StopProcess(worker).ok());
    ASSERT_TRUE(
        Eventually([&] { return gw.Metric("gateway_workers{state=\"ready\"}") == 0; }, 10000));
    auto c = SseClient::Post("127.0.0.1", gw.port(), "/v2/models/gru_gen/generate_stream",
                             GenerateBody("u", ref.prompts[0], ref.max_tokens), KeyHeader());
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ((*c)->status(), 200);
    const auto posted = SteadyClock::now();
    int keepalives = 0;
    std::vector<int64_t> tokens;
    std::optional<SseEvent> error;
    bool final_event = false, resumed = false;
    while (auto e = (*c)->Next(5000)) {
      if (e->event == "keepalive") {
        ++keepalives;
        EXPECT_EQ(json::parse(e->data)["reason"], "unavailable") << e->data;
        if (recover && keepalives == 3) {
          ASSERT_EQ(::kill(worker, SIGCONT), 0);
          resumed = true;
        }
      } else if (e->event == "error") {
        error = e;
      } else if (e->event == "final") {
        final_event = true;
      } else {
        tokens.push_back(json::parse(e->data)["delta"]["token"][0].get<int64_t>());
      }
    }
    if (!resumed) ::kill(worker, SIGCONT);
    EXPECT_GE(keepalives, 3);
    if (recover) {
      EXPECT_FALSE(error.has_value()) << error->data;
      EXPECT_TRUE(final_event);
      EXPECT_EQ(tokens, ref.tokens[0]);
    } else {
      ASSERT_TRUE(error.has_value());
      EXPECT_EQ(json::parse(error->data)["code"], "unavailable") << error->data;
      EXPECT_GE(error->at - posted, std::chrono::milliseconds(1400));
      EXPECT_TRUE(tokens.empty());
      ASSERT_TRUE(
          Eventually([&] { return gw.Metric("gateway_workers{state=\"ready\"}") == 1; }, 10000));
    }
  }
  EXPECT_EQ(gw.Metric("gateway_stream_fallbacks_total{reason=\"unavailable\"}"), 2);
  EXPECT_EQ(gw.Metric("gateway_stream_fallback_timeouts_total"), 1);
}

// kill -9 of the worker holding a sequence: the client's gRPC stream ends with UNAVAILABLE naming
// the worker (never a silent continuation elsewhere); a later chunk of that sequence is refused;
// an SSE generation on it ends with an error event. The supervisor restarts the worker.
TEST(StreamFailureTest, KilledWorkerEndsItsStreamsWithUnavailable) {
  Gateway gw(1, "window: 16, sse_pause_bytes: 4096");
  ASSERT_TRUE(gw.ok());
  const pid_t worker = gw.WorkerPid(0);
  ASSERT_GT(worker, 0);
  const std::vector<float> x(static_cast<size_t>(kSeqSteps * kSeqFeatures), 0.5f);
  auto stub = gw.Grpc();
  grpc::ClientContext ctx;
  AddKey(&ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&ctx);
  ASSERT_TRUE(stream->Write(Chunk("c0", 31, true, false, x.data())));
  ModelStreamInferResponse r;
  ASSERT_TRUE(stream->Read(&r));
  ASSERT_EQ(r.error_message(), "");

  const GenReference ref = LoadGenReference();
  // A finished SSE generation leaves its upstream call idle in the pool; the kill ends it too.
  auto sse_before =
      SseClient::Post("127.0.0.1", gw.port(), "/v2/models/gru_gen/generate_stream",
                      GenerateBody("idle", ref.prompts[1], ref.max_tokens), KeyHeader());
  ASSERT_TRUE(sse_before.ok()) << sse_before.status();
  EXPECT_EQ(ReadSse(sse_before->get()).tokens, ref.tokens[1]);
  auto sse = SseClient::Post("127.0.0.1", gw.port(), "/v2/models/gru_gen/generate_stream",
                             GenerateBody("k", ref.prompts[0], 256), KeyHeader(),
                             {.receive_buffer_bytes = 4096});
  ASSERT_TRUE(sse.ok()) << sse.status();
  ASSERT_EQ((*sse)->status(), 200);
  ASSERT_TRUE((*sse)->Next(10000).has_value());

  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  while (stream->Read(&r)) {
  }
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("worker"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("sequence_start"), std::string::npos) << s.error_message();

  SseResult sr = ReadSse(sse->get());
  ASSERT_EQ(sr.errors.size(), 1u);
  EXPECT_EQ(json::parse(sr.errors[0].data)["code"], "unavailable") << sr.errors[0].data;
  EXPECT_FALSE(sr.final_event);

  // The worker comes back (a new process, without the sequence's state).
  ASSERT_TRUE(Eventually(
      [&] {
        const pid_t now = gw.WorkerPid(0);
        return now > 0 && now != worker && gw.Metric("gateway_workers{state=\"ready\"}") >= 1;
      },
      60000));
  grpc::Status st;
  auto later = RoundTrip(stub.get(), {Chunk("c1", 31, false, false, x.data())}, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(later.size(), 1u);
  const std::string& e = later[0].error_message();
  EXPECT_TRUE(e.rfind("UNAVAILABLE: sequence_id 31: its worker", 0) == 0) << e;
  // New sequences work on the restarted worker.
  auto fresh = RoundTrip(stub.get(), {Chunk("n", 32, true, true, x.data())}, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].error_message(), "");
  EXPECT_GE(gw.Metric("gateway_stream_upstream_failures_total"), 2);
  // An SSE generation gets a new call to the new worker, not the dead idle one.
  auto sse_after =
      SseClient::Post("127.0.0.1", gw.port(), "/v2/models/gru_gen/generate_stream",
                      GenerateBody("after", ref.prompts[1], ref.max_tokens), KeyHeader());
  ASSERT_TRUE(sse_after.ok()) << sse_after.status();
  SseResult after = ReadSse(sse_after->get());
  EXPECT_EQ(after.tokens, ref.tokens[1]);
  EXPECT_TRUE(after.final_event);
  EXPECT_TRUE(after.errors.empty()) << after.errors[0].data;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: %s <infer-gateway> <infer-worker> <models dir> <infer-stream-load>\n",
                 argv[0]);
    return 2;
  }
  g_gateway = argv[1];
  g_worker = argv[2];
  g_models = argv[3];
  g_stream_load = argv[4];
  return RUN_ALL_TESTS();
}

// infer-stream-load: a small closed-loop load generator for ModelStreamInfer generation (figures
// in docs/inference-notes.md, "Streaming"). Each of --streams streams (gRPC: all on one completion
// queue polled by one thread; SSE: a thread each) runs --requests generations of --max-tokens
// tokens one after the other (the next request is sent when the previous one's final response
// arrived). Prints tokens/s over the whole run and the time-to-first-token (request written ->
// first token read) percentiles.
//
//   infer-stream-load --target 127.0.0.1:8001 --streams 32 --requests 8 --max-tokens 64
//   infer-stream-load --sse 127.0.0.1:8080 ...   the gateway's SSE generate_stream instead: each
//                                                generation is one POST (a new connection), TTFT
//                                                is POST sent -> first token event read
// --api-key adds "authorization: Bearer <key>" (gRPC metadata / HTTP header) for a gateway.
// The last line is machine-readable: "result tokens_per_s=<x> ttft_p50_ms=<y> errors=<n>".

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "core/http/testing/sse_client.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// The two prompt tokens of generation `request` on stream `stream`: the same for gRPC and SSE, so
// both protocols run the same generations.
std::array<int64_t, 2> Prompt(int stream, int request) {
  return {(stream + request) % 32, (stream * 7 + request) % 32};
}

// One generation stream of the gRPC load, as a state machine on a shared completion queue: one
// operation in flight at a time (start, write, reads until the final response, then the next
// write; at the end writes-done and finish). The stream itself is the tag.
class GrpcStream {
 public:
  GrpcStream(int index, const std::string& model, int64_t max_tokens, int requests)
      : index_(index), model_(model), max_tokens_(max_tokens), requests_(requests) {}

  void Start(inference::GRPCInferenceService::Stub* stub, grpc::CompletionQueue* cq,
             const std::string& api_key) {
    if (!api_key.empty()) ctx_.AddMetadata("authorization", "Bearer " + api_key);
    rw_ = stub->PrepareAsyncModelStreamInfer(&ctx_, cq);
    op_ = Op::kStart;
    rw_->StartCall(this);
  }

  // Advances after the operation in flight completed; true once the stream is over.
  bool Step(bool ok, std::atomic<int64_t>* tokens, std::atomic<int>* errors) {
    switch (op_) {
      case Op::kStart:
        if (!ok) return Finish(errors, true);
        WriteNext();
        return false;
      case Op::kWrite:
        if (!ok) return Finish(errors, true);
        first_ = true;
        Read();
        return false;
      case Op::kRead: {
        if (!ok || !resp_.error_message().empty()) return Finish(errors, true);
        if (first_) {
          ttft_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
          first_ = false;
        }
        tokens->fetch_add(1, std::memory_order_relaxed);
        const auto& params = resp_.infer_response().parameters();
        auto it = params.find("triton_final_response");
        if (it == params.end() || !it->second.bool_param()) {
          Read();
        } else if (++done_ < requests_) {
          WriteNext();
        } else {
          op_ = Op::kWritesDone;
          rw_->WritesDone(this);
        }
        return false;
      }
      case Op::kWritesDone:
        return Finish(errors, !ok);
      case Op::kFinish:
        if (!failed_ && !status_.ok()) errors->fetch_add(1);
        return true;
    }
    return true;
  }

  std::vector<double> ttft_ms;

 private:
  enum class Op { kStart, kWrite, kRead, kWritesDone, kFinish };

  void WriteNext() {
    req_.Clear();
    req_.set_model_name(model_);
    req_.set_id(std::to_string(done_));
    (*req_.mutable_parameters())["max_tokens"].set_int64_param(max_tokens_);
    auto* in = req_.add_inputs();
    in->set_name("token");
    in->set_datatype("INT64");
    in->add_shape(2);
    const std::array<int64_t, 2> prompt = Prompt(index_, done_);
    req_.add_raw_input_contents()->assign(reinterpret_cast<const char*>(prompt.data()),
                                          sizeof(prompt));
    sent_ = Clock::now();
    op_ = Op::kWrite;
    rw_->Write(req_, this);
  }
  void Read() {
    op_ = Op::kRead;
    rw_->Read(&resp_, this);
  }
  bool Finish(std::atomic<int>* errors, bool failed) {
    if (failed) {
      errors->fetch_add(1);  // counted once: the cancelled call's status is not counted again
      failed_ = true;
      ctx_.TryCancel();
    }
    op_ = Op::kFinish;
    rw_->Finish(&status_, this);
    return false;
  }

  const int index_;
  const std::string model_;
  const int64_t max_tokens_;
  const int requests_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<inference::ModelInferRequest,
                                                inference::ModelStreamInferResponse>>
      rw_;
  inference::ModelInferRequest req_;
  inference::ModelStreamInferResponse resp_;
  Clock::time_point sent_;
  Op op_ = Op::kStart;
  int done_ = 0;
  bool first_ = true;
  bool failed_ = false;
  grpc::Status status_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string target = "127.0.0.1:8001";
  std::string model = "gru_gen";
  int streams = 32;
  int requests = 8;
  int64_t max_tokens = 64;
  std::string sse, api_key;
  CLI::App app{
      "infer-stream-load: ModelStreamInfer generation load (tokens/s, time to first token)"};
  app.add_option("--target", target, "worker gRPC address");
  app.add_option("--model", model, "generator model");
  app.add_option("--streams", streams, "concurrent streams")->check(CLI::Range(1, 1024));
  app.add_option("--requests", requests, "generations per stream")->check(CLI::Range(1, 100000));
  app.add_option("--max-tokens", max_tokens, "tokens per generation")->check(CLI::Range(1, 4096));
  app.add_option("--sse", sse, "gateway HTTP address host:port: use SSE generate_stream");
  app.add_option("--api-key", api_key, "bearer key for a gateway");
  CLI11_PARSE(app, argc, argv);
  std::string sse_host;
  uint16_t sse_port = 0;
  if (!sse.empty()) {
    const size_t colon = sse.rfind(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "--sse: expected host:port, got '%s'\n", sse.c_str());
      return 2;
    }
    sse_host = sse.substr(0, colon);
    sse_port = static_cast<uint16_t>(std::stoi(sse.substr(colon + 1)));
  }

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  std::mutex mu;
  std::vector<double> ttft_ms;
  std::atomic<int64_t> tokens{0};
  std::atomic<int> errors{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int s = 0; s < streams && !sse.empty(); ++s) {
    threads.emplace_back([&, s] {
      std::vector<double> local;
      std::vector<std::pair<std::string, std::string>> headers;
      if (!api_key.empty()) headers.emplace_back("Authorization", "Bearer " + api_key);
      for (int r = 0; r < requests; ++r) {
        const nlohmann::json body = {{"id", std::to_string(r)},
                                     {"token", Prompt(s, r)},
                                     {"parameters", {{"max_tokens", max_tokens}}}};
        const auto sent = Clock::now();
        auto c = core::http::testing::SseClient::Post(
            sse_host, sse_port, "/v2/models/" + model + "/generate_stream", body.dump(), headers);
        if (!c.ok() || (*c)->status() != 200) {
          ++errors;
          continue;
        }
        bool first = true, final_seen = false;
        while (auto e = (*c)->Next(30000)) {
          if (e->event == "final") {
            final_seen = true;
          } else if (e->event == "error") {
            ++errors;
          } else if (e->event.empty()) {
            if (first) {
              local.push_back(std::chrono::duration<double, std::milli>(e->at - sent).count());
              first = false;
            }
            ++tokens;
          }
        }
        if (!final_seen) ++errors;
      }
      std::lock_guard lock(mu);
      ttft_ms.insert(ttft_ms.end(), local.begin(), local.end());
    });
  }
  if (sse.empty()) {
    // gRPC: every stream on one completion queue, driven by one thread (a thread per stream with
    // the blocking API cost more CPU per token than the server side it measures).
    std::vector<std::unique_ptr<GrpcStream>> grpc_streams;
    grpc::CompletionQueue cq;
    for (int s = 0; s < streams; ++s) {
      grpc_streams.push_back(std::make_unique<GrpcStream>(s, model, max_tokens, requests));
      grpc_streams.back()->Start(stub.get(), &cq, api_key);
    }
    int live = streams;
    void* tag = nullptr;
    bool ok = false;
    while (live > 0 && cq.Next(&tag, &ok)) {
      if (static_cast<GrpcStream*>(tag)->Step(ok, &tokens, &errors)) --live;
    }
    for (auto& g : grpc_streams)
      ttft_ms.insert(ttft_ms.end(), g->ttft_ms.begin(), g->ttft_ms.end());
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("streams %d, generations %zu, tokens %ld in %.2f s: %.0f tokens/s\n", streams,
              ttft_ms.size(), static_cast<long>(tokens.load()), secs,
              static_cast<double>(tokens.load()) / secs);
  std::printf("time to first token: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms; errors %d\n",
              Percentile(ttft_ms, 0.5), Percentile(ttft_ms, 0.9), Percentile(ttft_ms, 0.99),
              errors.load());
  std::printf("result tokens_per_s=%.0f ttft_p50_ms=%.3f errors=%d\n",
              static_cast<double>(tokens.load()) / secs, Percentile(ttft_ms, 0.5), errors.load());
  return errors.load() == 0 ? 0 : 1;
}

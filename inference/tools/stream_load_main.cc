// infer-stream-load: a small closed-loop load generator for ModelStreamInfer generation (figures
// in docs/inference-notes.md, "Streaming"). Each of --streams streams runs --requests generations
// of --max-tokens tokens one after the other (the next request is sent when the previous one's
// final response arrived). Prints tokens/s over the whole run and the time-to-first-token (request
// written -> first token read) percentiles. One thread drives every stream (gRPC: one completion
// queue or nghttp2 on one socket; SSE: non-blocking sockets on epoll), so the client's own cost per
// token stays small next to the server side it measures.
//
//   infer-stream-load --target 127.0.0.1:8001 --streams 32 --requests 8 --max-tokens 64
//   infer-stream-load --sse 127.0.0.1:8080 ...   the gateway's SSE generate_stream instead
//                                                (inference/tools/sse_stream_load.h): each
//                                                generation is one POST on the stream's keep-alive
//                                                HTTP/1.1 connection (--sse-new-connection: a new
//                                                connection per POST); TTFT is POST sent -> first
//                                                token event read
// --client picks the gRPC client: h2 (default; nghttp2, inference/tools/h2_stream_load.h) or grpc
// (gRPC C++ on one completion queue); both send the same requests on one connection.
// --api-key adds "authorization: Bearer <key>" (gRPC metadata / HTTP header) for a gateway.
// The last line is machine-readable: "result tokens_per_s=<x> ttft_p50_ms=<y> errors=<n>".

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "inference/kserve/stream_protocol.h"
#include "inference/kserve/stream_response_view.h"
#include "inference/tools/h2_stream_load.h"
#include "inference/tools/sse_stream_load.h"
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

// The ModelInferRequest of generation `request` on stream `stream` (both gRPC clients).
void GenerationRequest(const std::string& model, int64_t max_tokens, int stream, int request,
                       inference::ModelInferRequest* req) {
  req->Clear();
  req->set_model_name(model);
  req->set_id(std::to_string(request));
  (*req->mutable_parameters())["max_tokens"].set_int64_param(max_tokens);
  auto* in = req->add_inputs();
  in->set_name("token");
  in->set_datatype("INT64");
  in->add_shape(2);
  const std::array<int64_t, 2> prompt = Prompt(stream, request);
  req->add_raw_input_contents()->assign(reinterpret_cast<const char*>(prompt.data()),
                                        sizeof(prompt));
}

// One generation stream of the gRPC load, as a state machine on a shared completion queue: one
// operation in flight at a time (start, write, reads until the final response, then the next
// write; at the end writes-done and finish). The stream itself is the tag.
class GrpcStream {
 public:
  GrpcStream(int index, const std::string& model, int64_t max_tokens, int requests)
      : index_(index), model_(model), max_tokens_(max_tokens), requests_(requests) {}

  void Start(grpc::GenericStub* stub, grpc::CompletionQueue* cq, const std::string& api_key) {
    if (!api_key.empty()) ctx_.AddMetadata("authorization", "Bearer " + api_key);
    rw_ = stub->PrepareCall(&ctx_, inference::kModelStreamInferMethod, cq);
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
        if (!ok) return Finish(errors, true);
        if (!Scan() || !response_.error_message.empty()) return Finish(errors, true);
        if (first_) {
          ttft_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
          first_ = false;
        }
        tokens->fetch_add(1, std::memory_order_relaxed);
        if (!response_.final) {
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
    GenerationRequest(model_, max_tokens_, index_, done_, &req_);
    bool own_buffer = false;
    req_bytes_.Clear();  // the previous request's write has completed
    grpc::SerializationTraits<inference::ModelInferRequest>::Serialize(req_, &req_bytes_,
                                                                       &own_buffer);
    sent_ = Clock::now();
    op_ = Op::kWrite;
    rw_->Write(req_bytes_, this);
  }
  // Reads the response just read into response_, off its bytes (see stream_response_view.h);
  // false when malformed. The views are used before the next read replaces resp_.
  bool Scan() {
    if (!resp_.TrySingleSlice(&slice_).ok() && !resp_.DumpToSingleSlice(&slice_).ok()) {
      return false;
    }
    return inference::ReadStreamResponse(
        std::string_view(reinterpret_cast<const char*>(slice_.begin()), slice_.size()), &response_);
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
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> rw_;
  inference::ModelInferRequest req_;
  grpc::ByteBuffer req_bytes_;
  grpc::ByteBuffer resp_;  // serialized ModelStreamInferResponse, scanned, never parsed
  grpc::Slice slice_;      // resp_ in one piece, while response_ is read
  inference::StreamResponseView response_;  // views into slice_
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
  std::string client = "h2";
  app.add_option("--client", client,
                 "gRPC client: h2 (nghttp2, one thread; the default: about a third of the CPU "
                 "per token) or grpc (gRPC C++, one completion queue)")
      ->check(CLI::IsMember({"h2", "grpc"}));
  bool call_per_generation = false;
  app.add_flag("--call-per-generation", call_per_generation,
               "h2: a new ModelStreamInfer call for each generation instead of one per stream");
  bool sse_new_connection = false;
  app.add_flag("--sse-new-connection", sse_new_connection,
               "SSE: a new connection for each generation instead of keep-alive");
  CLI11_PARSE(app, argc, argv);
  // The gateway's address parser; this tool speaks TCP only.
  auto parse_address =
      [](const char* flag,
         const std::string& text) -> std::optional<inference::gateway::UpstreamAddress> {
    absl::StatusOr<inference::gateway::UpstreamAddress> a =
        inference::gateway::UpstreamAddress::Parse(text);
    if (!a.ok() || a->unix_socket) {
      std::fprintf(stderr, "%s: expected host:port, got '%s'%s%s\n", flag, text.c_str(),
                   a.ok() ? "" : ": ", a.ok() ? "" : std::string(a.status().message()).c_str());
      return std::nullopt;
    }
    return *std::move(a);
  };
  // --sse and the h2 client need host:port; the gRPC C++ client takes any gRPC target.
  std::optional<inference::gateway::UpstreamAddress> address;
  if (!sse.empty() || client == "h2") {
    address = sse.empty() ? parse_address("--target", target) : parse_address("--sse", sse);
    if (!address) return 2;
  }

  std::vector<double> ttft_ms;
  std::atomic<int64_t> tokens{0};
  std::atomic<int> errors{0};
  const auto t0 = Clock::now();
  if (!sse.empty()) {
    inference::SseStreamLoadOptions o;
    o.host = address->host;
    o.port = address->port;
    o.target = "/v2/models/" + model + "/generate_stream";
    o.api_key = api_key;
    o.streams = streams;
    o.requests = requests;
    o.new_connection = sse_new_connection;
    o.make_body = [max_tokens](int stream, int request) {
      const nlohmann::json body = {{"id", std::to_string(request)},
                                   {"token", Prompt(stream, request)},
                                   {"parameters", {{"max_tokens", max_tokens}}}};
      return body.dump();
    };
    o.on_stream_failed = [](int stream, std::string_view why) {
      std::fprintf(stderr, "sse stream %d: %.*s\n", stream, static_cast<int>(why.size()),
                   why.data());
    };
    absl::StatusOr<inference::SseStreamLoadResult> r = inference::RunSseStreamLoad(o);
    if (!r.ok()) {
      std::fprintf(stderr, "sse client: %s\n", r.status().ToString().c_str());
      return 1;
    }
    tokens = r->tokens;
    errors = r->errors;
    ttft_ms = std::move(r->ttft_ms);
  } else if (client == "h2") {
    inference::H2StreamLoadOptions o;
    o.host = address->host;
    o.port = address->port;
    o.api_key = api_key;
    o.streams = streams;
    o.requests = requests;
    o.call_per_generation = call_per_generation;
    o.make_request = [&model, max_tokens](int stream, int request) {
      inference::ModelInferRequest req;
      GenerationRequest(model, max_tokens, stream, request, &req);
      return req.SerializeAsString();
    };
    absl::StatusOr<inference::H2StreamLoadResult> r = inference::RunH2StreamLoad(o);
    if (!r.ok()) {
      std::fprintf(stderr, "h2 client: %s\n", r.status().ToString().c_str());
      return 1;
    }
    tokens = r->tokens;
    errors = r->errors;
    ttft_ms = std::move(r->ttft_ms);
  } else {
    // gRPC: every stream on one completion queue, driven by one thread (a thread per stream with
    // the blocking API cost more CPU per token than the server side it measures).
    auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    std::vector<std::unique_ptr<GrpcStream>> grpc_streams;
    grpc::CompletionQueue cq;
    for (int s = 0; s < streams; ++s) {
      grpc_streams.push_back(std::make_unique<GrpcStream>(s, model, max_tokens, requests));
      grpc_streams.back()->Start(&stub, &cq, api_key);
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

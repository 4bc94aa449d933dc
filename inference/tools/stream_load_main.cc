// infer-stream-load: a small closed-loop load generator for ModelStreamInfer generation (figures
// in docs/inference-notes.md, "Streaming"). Each of --streams streams runs --requests generations
// of --max-tokens tokens one after the other (the next request is sent when the previous one's
// final response arrived). Prints tokens/s over the whole run and the time-to-first-token (request
// written -> first token read) percentiles. One thread drives every stream (gRPC: one completion
// queue; SSE: one Asio io_context), so the client's own cost per token stays small next to the
// server side it measures.
//
//   infer-stream-load --target 127.0.0.1:8001 --streams 32 --requests 8 --max-tokens 64
//   infer-stream-load --sse 127.0.0.1:8080 ...   the gateway's SSE generate_stream instead: each
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
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "fmt/format.h"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "inference/kserve/stream_protocol.h"
#include "inference/tools/h2_stream_load.h"
#include "inference/tools/stream_response_scan.h"
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
        const std::optional<inference::StreamResponseFlags> flags = Scan();
        if (!flags || flags->error) return Finish(errors, true);
        if (first_) {
          ttft_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
          first_ = false;
        }
        tokens->fetch_add(1, std::memory_order_relaxed);
        if (!flags->final) {
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
  // The flags of the response just read, off its bytes (see stream_response_scan.h).
  std::optional<inference::StreamResponseFlags> Scan() {
    grpc::Slice slice;
    if (!resp_.TrySingleSlice(&slice).ok() && !resp_.DumpToSingleSlice(&slice).ok()) {
      return std::nullopt;
    }
    return inference::ScanStreamResponse(slice.begin(), slice.size());
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
  Clock::time_point sent_;
  Op op_ = Op::kStart;
  int done_ = 0;
  bool first_ = true;
  bool failed_ = false;
  grpc::Status status_;
};

// One SSE generation stream of the load, on a shared single-threaded io_context: POST, read the
// event stream through Beast's parser (chunked decoding) until its end, then the next POST on the
// same connection (or a new one when the server or --sse-new-connection closes it).
class SseStream {
 public:
  struct Config {
    boost::asio::ip::tcp::endpoint server;
    std::string host;  // Host header
    std::string target;
    std::string api_key;
    int64_t max_tokens = 0;
    int requests = 0;
    bool new_connection = false;
  };

  SseStream(boost::asio::io_context& io, const Config& config, int index,
            std::atomic<int64_t>* tokens, std::atomic<int>* errors)
      : config_(config), index_(index), tokens_(tokens), errors_(errors), socket_(io) {
    on_chunk_ = [this](uint64_t, boost::beast::string_view data, ErrorCode&) {
      return OnChunk(std::string_view(data.data(), data.size()));
    };
  }

  void Start() { Connect(); }

  std::vector<double> ttft_ms;

 private:
  using ErrorCode = boost::system::error_code;

  void Connect() {
    ErrorCode ignored;
    socket_.close(ignored);
    buffer_.clear();
    socket_.async_connect(config_.server, [this](ErrorCode ec) {
      if (ec) return Fail("connect", ec);
      socket_.set_option(boost::asio::ip::tcp::no_delay(true));
      Send();
    });
  }

  void Send() {
    const nlohmann::json body = {{"id", std::to_string(done_)},
                                 {"token", Prompt(index_, done_)},
                                 {"parameters", {{"max_tokens", config_.max_tokens}}}};
    const std::string text = body.dump();
    request_ = fmt::format(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: "
        "text/event-stream\r\nContent-Length: {}\r\n{}{}\r\n{}",
        config_.target, config_.host, text.size(),
        config_.api_key.empty() ? "" : fmt::format("Authorization: Bearer {}\r\n", config_.api_key),
        config_.new_connection ? "Connection: close\r\n" : "", text);
    parser_.emplace();
    parser_->body_limit(boost::none);  // an event stream has no length; it ends with its last chunk
    parser_->on_chunk_body(on_chunk_);
    events_.clear();
    first_ = true;
    final_ = false;
    failed_event_ = false;
    sent_ = Clock::now();
    boost::asio::async_write(socket_, boost::asio::buffer(request_), [this](ErrorCode ec, size_t) {
      if (ec) return Fail("write", ec);
      Read();
    });
  }

  void Read() {
    boost::beast::http::async_read_some(socket_, buffer_, *parser_, [this](ErrorCode ec, size_t) {
      if (ec) return Fail("read", ec);
      if (parser_->is_header_done() && parser_->get().result_int() != 200) {
        return Fail(fmt::format("status {}", parser_->get().result_int()), {});
      }
      if (!parser_->is_done()) return Read();
      if (!final_ || failed_event_) errors_->fetch_add(1);
      const bool keep_alive = parser_->get().keep_alive();
      if (++done_ == config_.requests) {
        ErrorCode ignored;
        socket_.close(ignored);
        return;
      }
      keep_alive ? Send() : Connect();
    });
  }

  // Splits the event-stream text into events ("\n\n"-terminated blocks) as it arrives.
  size_t OnChunk(std::string_view data) {
    events_.append(data);
    size_t start = 0;
    for (size_t end; (end = events_.find("\n\n", start)) != std::string::npos; start = end + 2) {
      const std::string_view block(events_.data() + start, end - start);
      if (block.starts_with("event: final")) {
        final_ = true;
      } else if (block.starts_with("event: error")) {
        failed_event_ = true;
      } else if (block.starts_with("data: ")) {  // a token (comments are keep-alives)
        if (first_) {
          ttft_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
          first_ = false;
        }
        tokens_->fetch_add(1, std::memory_order_relaxed);
      }
    }
    events_.erase(0, start);
    return data.size();
  }

  void Fail(const std::string& what, ErrorCode ec) {
    std::fprintf(stderr, "sse stream %d: %s%s%s\n", index_, what.c_str(), ec ? ": " : "",
                 ec ? ec.message().c_str() : "");
    errors_->fetch_add(1);
    ErrorCode ignored;
    socket_.close(ignored);
  }

  const Config& config_;
  const int index_;
  std::atomic<int64_t>* const tokens_;
  std::atomic<int>* const errors_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::empty_body>> parser_;
  std::function<size_t(uint64_t, boost::beast::string_view, ErrorCode&)> on_chunk_;  // parser's
  std::string request_;
  std::string events_;  // event-stream text not yet split into events
  Clock::time_point sent_;
  int done_ = 0;
  bool first_ = true;
  bool final_ = false;
  bool failed_event_ = false;
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
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(address->host, ec);
    if (ec) {
      std::fprintf(stderr, "--sse: '%s' is not an IP address\n", address->host.c_str());
      return 2;
    }
    SseStream::Config config{{ip, address->port},
                             address->host,
                             "/v2/models/" + model + "/generate_stream",
                             api_key,
                             max_tokens,
                             requests,
                             sse_new_connection};
    boost::asio::io_context io(1);
    std::vector<std::unique_ptr<SseStream>> sse_streams;
    for (int s = 0; s < streams; ++s) {
      sse_streams.push_back(std::make_unique<SseStream>(io, config, s, &tokens, &errors));
      sse_streams.back()->Start();
    }
    io.run();
    for (auto& st : sse_streams)
      ttft_ms.insert(ttft_ms.end(), st->ttft_ms.begin(), st->ttft_ms.end());
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

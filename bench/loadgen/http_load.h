// Closed-loop HTTP/1.1 load over keep-alive connections (see closed_loop.h for the loop itself).
//
// Each request is rendered by a callback into a buffer the connection reuses, so every request can
// carry unique ids without allocating once the buffer has grown; a fixed body is just a copy.
// Responses must carry Content-Length (no chunked encoding). Example, 16 connections posting a
// fixed JSON body for 10 s:
//
//   loadgen::HttpLoadOptions o;
//   o.port = 8080;
//   o.load.connections = 16;
//   o.load.duration = std::chrono::seconds(10);
//   std::string req;
//   loadgen::AppendHttpRequest(&req, "POST", "127.0.0.1", "/v1/infer", R"({"x":[1,2]})");
//   auto r = loadgen::RunHttpLoad(o, [&](uint64_t, std::string* out) { out->assign(req); });
//   if (r.ok()) std::puts(loadgen::FormatSummary("infer-c16", *r).c_str());
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bench/loadgen/closed_loop.h"

namespace loadgen {

// Renders request number `seq` into `*out` (cleared beforehand). Called on the connection's io
// thread; with threads > 1 it must be safe to call concurrently.
using HttpRequestRenderer = std::function<void(uint64_t seq, std::string* out)>;
// Classifies the response to request `seq`. Same threading rule as the renderer.
using HttpResponseClassifier =
    std::function<Counts(uint64_t seq, int status, std::string_view body)>;

// Default classifier: 2xx is one ok operation, anything else one error.
Counts ClassifyByStatus(uint64_t seq, int status, std::string_view body);

// Appends a complete HTTP/1.1 keep-alive request (with Content-Length when `body` is non-empty).
void AppendHttpRequest(std::string* out, std::string_view method, std::string_view host,
                       std::string_view path, std::string_view body = {},
                       std::string_view content_type = "application/json");

struct HttpLoadOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  LoadOptions load;
};

// Largest response the client accepts; larger ones are errors and retire the connection.
inline constexpr size_t kHttpResponseBytesMax = 64 << 20;

absl::StatusOr<LoadResult> RunHttpLoad(const HttpLoadOptions& options,
                                       const HttpRequestRenderer& render,
                                       const HttpResponseClassifier& classify = ClassifyByStatus);

}  // namespace loadgen

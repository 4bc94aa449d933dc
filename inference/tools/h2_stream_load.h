#pragma once
// The gRPC side of infer-stream-load on nghttp2: every stream of the load is one ModelStreamInfer
// call on a single HTTP/2 connection, driven by one thread. gRPC's C++ client spends about 1.6 us
// of CPU per streamed token in this load (completion queue, call combiner, per-message batches);
// the load generator shares a core with the gateway it measures, so that cost lowers the gateway's
// figure, not the worker's. nghttp2 frames and deframes the same HTTP/2 and gRPC bytes (the wire is
// the same to the server: HEADERS with the gRPC content type, length-prefixed messages in DATA,
// trailers with grpc-status) for a fraction of it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/kserve/grpc_framing.h"

namespace inference {

struct H2StreamLoadOptions {
  std::string host;  // numeric address or name
  uint16_t port = 0;
  std::string api_key;  // "authorization: Bearer <key>" when set
  int streams = 1;
  int requests = 1;
  size_t response_bytes_max = 4 << 20;
  // A new call for every generation (its request, half-close, responses, status), as the gateway's
  // SSE endpoint calls its worker; otherwise one call per stream carries all its generations.
  bool call_per_generation = false;
  // The serialized ModelInferRequest of generation `request` of stream `stream`.
  std::function<std::string(int stream, int request)> make_request;
};

struct H2StreamLoadResult {
  int64_t tokens = 0;  // responses read that were not errors
  int errors = 0;      // calls that failed (error response, bad bytes, non-OK status, reset)
  std::vector<double> ttft_ms;  // per generation: request queued -> first response read
};

// Runs the closed loop: each stream sends a request, reads its responses until the one marked
// final, then sends the next, --requests times, then half-closes and expects grpc-status 0. An
// error status when the connection cannot be made or breaks (the streams still open count as
// errors in that case only through the status).
absl::StatusOr<H2StreamLoadResult> RunH2StreamLoad(const H2StreamLoadOptions& options);

}  // namespace inference

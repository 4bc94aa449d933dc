#pragma once
// StreamProxy: the gateway's streaming front ends (issue 6).
//
// gRPC ModelStreamInfer (bidirectional, KServe/Triton streaming extension), proxied per message:
//  - Sticky routing. A client stream opens one upstream stream per worker it needs and reuses it:
//    the first request of a stream picks a worker (power of two choices); later requests without
//    a sequence go to the same worker. A sequence is bound to a worker at its `sequence_start`
//    (gateway-wide, streaming/sequence_affinity.h), so its later chunks reach that worker even
//    from another client stream. `sequence_end` unbinds it.
//  - A worker that fails ends every client stream using it with UNAVAILABLE ("worker <name> ended
//    the stream ..."): a sequence's state lives in that worker, so it is never continued silently
//    on another worker's empty state. A chunk of a sequence whose worker is gone, or that the
//    gateway never saw started, is answered with an error response (the stream stays open):
//    "UNAVAILABLE: sequence_id 7: its worker ... is gone ..." / "INVALID_ARGUMENT: sequence_id 7:
//    unknown sequence ... sequence_start ...".
//  - Version: the message's model_version, else metadata x-model-version, else the routing split
//    (sticky on x-user-id); a sequence keeps the version chosen at its start. The QoS level
//    (x-qos-level) becomes each request's "priority" parameter.
//  - Flow control: at most `window` responses queued per client stream (upstream reads pause
//    beyond it) and `upstream_write_queue` requests per upstream (client reads pause beyond it), so
//    a slow client makes the worker stop, never the gateway grow.
//  - Raw relay: requests go to the worker as the client's bytes plus a suffix of the fields the
//    gateway sets (version, priority; proxy/infer_request_wire.h), and responses come back as the
//    worker's bytes: nothing is re-serialised per token. A message that does not parse as a
//    ModelInferRequest gets an INVALID_ARGUMENT error response; the stream stays open.
//
// SSE: POST /v2/models/{m}[/versions/{v}]/generate_stream (the Triton "generate" extension shape):
//   body   {"id": "r1", "parameters": {"max_tokens": 16}, "<input>": [ints or numbers], ...}
//          every top-level key except id/parameters is an input tensor: an array of integers
//          becomes INT64 [n], an array with any non-integer number FP32 [n].
//   answer 200 text/event-stream; one event per response of the worker:
//            data: {"id":"r1","model_name":"gru_gen","model_version":"1","index":0,
//                   "delta":{"token":[17]}}
//          then, after the response marked final (triton_final_response),
//            event: final   data: {"id":..,"model_name":..,"model_version":..,"responses":N}
//          errors after the stream started:
//            event: error   data: {"error":"...","code":"unavailable"|"stalled"|...}
//          errors before it started are plain JSON (4xx/5xx) as for /infer.
//   Fallback: when no endpoint can take the request (breaker open, none ready) or no response
//   arrived for `stall_ms`, the stream sends keep-alive events
//            event: keepalive   data: {"id":..,"delta":{},"keepalive":true,"waited_ms":N}
//   every `keepalive_ms` (reason "unavailable" while no endpoint can take it, "stall" when its
//   worker went quiet); real events resume when tokens flow again (an endpoint became eligible, a
//   worker recovered); after `fallback_max_ms` without a token it sends an error event (code
//   "unavailable" or "stalled") and closes. Counted in gateway_stream_fallbacks_total{reason},
//   gateway_stream_keepalives_total, gateway_stream_fallback_timeouts_total.
//   A slow SSE reader: upstream reads pause while more than `sse_pause_bytes` wait in the
//   connection's buffer and resume when it drains.
//   Upstream calls are reused: a generation goes to the worker that load-aware picking chose, on
//   an idle ModelStreamInfer call to it when the pool has one (streaming/sse_upstream.h), so the
//   first token does not wait for a call's set-up. `sse_timeout_ms` bounds a generation (checked
//   by the watchdog, error event code "deadline_exceeded").
//
// Thread safety: handlers run on gRPC / HTTP threads; one watchdog thread times the SSE
// fallbacks. Every pointer passed in must outlive the proxy; Stop() before destroying it.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/clock/clock.h"
#include "core/http/router.h"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/gateway_metrics.h"
#include "inference/gateway/qos/qos_admission.h"
#include "inference/gateway/routing/routing_watcher.h"
#include "inference/gateway/streaming/sequence_affinity.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace inference::gateway {

struct StreamingOptions {
  size_t window = 16;                 // responses queued per client stream
  size_t upstream_write_queue = 4;    // requests queued per upstream stream
  int64_t stall_ms = 2000;            // SSE: no token for this long -> keep-alive fallback
  int64_t keepalive_ms = 500;         // SSE: keep-alive period during fallback
  int64_t fallback_max_ms = 10'000;   // SSE: fallback longer than this -> error event, close
  int64_t sse_timeout_ms = 600'000;   // SSE: deadline of the whole generation
  size_t sse_pause_bytes = 64 << 10;  // SSE: pause upstream reads beyond this many buffered bytes
  int64_t sse_upstream_idle_ms = 30'000;  // SSE: an idle upstream call is closed after this long
  size_t sse_upstream_idle_max = 256;     // SSE: idle upstream calls kept (all workers)
  // SSE: the client of the worker calls, which sse_upstream_idle_* pool alike: "h2" (nghttp2,
  // H2StreamClient) or "grpc" (gRPC C++).
  std::string sse_upstream = "h2";
  SequenceAffinity::Options sequences;

  absl::Status Validate() const;
};

class SseUpstream;

class StreamProxy {
 public:
  StreamProxy(StreamingOptions options, EndpointSet* endpoints, RoutingWatcher* routing,
              GatewayMetrics* metrics, core::Clock* clock);
  ~StreamProxy();
  StreamProxy(const StreamProxy&) = delete;
  StreamProxy& operator=(const StreamProxy&) = delete;

  // A ModelStreamInfer call whose key and QoS level were already checked (grpc_proxy.cc).
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewGrpcStream(
      grpc::CallbackServerContext* ctx, QosLevel qos);
  // POST .../generate_stream whose key was already checked (rest_proxy.cc).
  void GenerateSse(core::http::Request& req, core::http::Responder responder);

  // Starts / stops the SSE watchdog thread.
  void Start();
  void Stop();

  const StreamingOptions& options() const { return options_; }
  SequenceAffinity& affinity() { return affinity_; }
  EndpointSet* endpoints() const { return endpoints_; }
  RoutingWatcher* routing() const { return routing_; }
  GatewayMetrics* metrics() const { return metrics_; }
  core::Clock* clock() const { return clock_; }

  class SseCall;

  // The SSE upstream-call pool (streaming/sse_upstream.h). Take: an idle open call to `endpoint`,
  // or nullptr. Return: a call whose generation ended with its final response; kept idle for
  // `sse_upstream_idle_ms`, at most `sse_upstream_idle_max` of them. Track: every call opened, so
  // Stop() can end them.
  std::shared_ptr<SseUpstream> TakeIdleUpstream(const EndpointPtr& endpoint);
  void ReturnIdleUpstream(std::shared_ptr<SseUpstream> upstream);
  void TrackUpstream(const std::shared_ptr<SseUpstream>& upstream);

 private:
  void WatchdogLoop();
  void SweepIdleUpstreams(int64_t now_ns);

  const StreamingOptions options_;
  EndpointSet* const endpoints_;
  RoutingWatcher* const routing_;
  GatewayMetrics* const metrics_;
  core::Clock* const clock_;
  SequenceAffinity affinity_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::shared_ptr<SseCall>> sse_calls_;  // open SSE streams, swept by the watchdog

  std::mutex pool_mu_;
  std::vector<std::shared_ptr<SseUpstream>> idle_upstreams_;  // newest last
  std::vector<std::weak_ptr<SseUpstream>> upstreams_;         // every call opened, until it ends
  bool stop_pool_ = false;                                    // Stop(): idle calls are closed
  std::thread watchdog_;
};

}  // namespace inference::gateway

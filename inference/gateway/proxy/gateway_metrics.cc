#include "inference/gateway/proxy/gateway_metrics.h"

#include <atomic>

namespace inference::gateway {

namespace {
std::atomic<uint64_t> next_metrics_id{1};
}  // namespace

GatewayMetrics::GatewayMetrics()
    : id_(next_metrics_id.fetch_add(1, std::memory_order_relaxed)),
      requests_(registry_.AddCounter("gateway_requests_total",
                                     "Requests by model, version, QoS level and outcome.",
                                     {"model", "version", "qos", "outcome"})),
      upstream_latency_(registry_.AddHistogram("gateway_upstream_request_duration_seconds",
                                               "Latency of requests forwarded to a worker.",
                                               {"endpoint"}, core::DefaultLatencyBucketsSeconds())),
      breaker_state_(registry_.AddGauge(
          "gateway_breaker_state", "Circuit breaker per endpoint: 0 closed, 1 open, 2 half-open.",
          {"endpoint"})),
      breaker_transitions_(registry_.AddCounter("gateway_breaker_transitions_total",
                                                "Circuit breaker state changes.")),
      retries_(registry_.AddCounter("gateway_upstream_retries_total",
                                    "Requests retried on another endpoint after failing before "
                                    "reaching the model.")),
      shed_(registry_.AddCounter("gateway_shed_total", "Requests shed by QoS admission.", {"qos"})),
      rate_limited_(registry_.AddCounter("gateway_rate_limited_total",
                                         "Requests refused by an API key's rate limit.")),
      workers_(registry_.AddGauge("gateway_workers", "Worker endpoints by state.", {"state"})),
      workers_ready_(workers_.WithLabels({"ready"})),
      workers_total_(workers_.WithLabels({"total"})),
      reloads_(registry_.AddCounter("gateway_routing_reloads_total",
                                    "Routing file reloads by result.", {"result"})),
      streams_(registry_.AddGauge("gateway_streams", "Open streams by protocol (grpc, sse).",
                                  {"protocol"})),
      stream_responses_(registry_.AddCounter("gateway_stream_responses_total",
                                             "Stream responses (gRPC) and token events (SSE) sent.",
                                             {"protocol"})),
      stream_first_token_(registry_.AddHistogram(
          "gateway_stream_first_token_seconds",
          "Time from an SSE generation request's arrival to its first token event sent.",
          {"protocol"}, core::DefaultLatencyBucketsSeconds())),
      stream_fallbacks_(
          registry_.AddCounter("gateway_stream_fallbacks_total",
                               "SSE streams that entered keep-alive fallback, by reason (stall; "
                               "unavailable: no endpoint could take it).",
                               {"reason"})),
      stream_keepalives_(
          registry_.AddCounter("gateway_stream_keepalives_total", "SSE keep-alive events sent.")),
      stream_fallback_timeouts_(registry_.AddCounter(
          "gateway_stream_fallback_timeouts_total",
          "SSE streams ended with an error after fallback_max_ms without a token.")),
      stream_upstream_failures_(
          registry_.AddCounter("gateway_stream_upstream_failures_total",
                               "Streams ended because their worker failed or went away.")),
      streams_by_protocol_{&streams_.WithLabels({"grpc"}), &streams_.WithLabels({"sse"})},
      stream_responses_by_protocol_{&stream_responses_.WithLabels({"grpc"}),
                                    &stream_responses_.WithLabels({"sse"})},
      sse_first_token_(stream_first_token_.WithLabels({"sse"})),
      sse_upstream_calls_family_(registry_.AddCounter(
          "gateway_sse_upstream_calls_total",
          "SSE generations by the upstream call they used: a new one or an idle one reused.",
          {"reused"})),
      sse_upstream_calls_{&sse_upstream_calls_family_.WithLabels({"false"}),
                          &sse_upstream_calls_family_.WithLabels({"true"})} {}

}  // namespace inference::gateway

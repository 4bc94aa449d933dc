#pragma once
// The gateway's Prometheus metrics (served on GET /metrics):
//   gateway_requests_total{model,version,qos,outcome}   outcome: ok, client_error, server_error,
//                                                        shed, rate_limited, unauthenticated,
//                                                        forbidden, unavailable, timeout
//   gateway_upstream_request_duration_seconds{endpoint}  upstream latency
//   gateway_upstream_retries_total                       retried on another endpoint
//   gateway_breaker_state{endpoint}                      0 closed, 1 open, 2 half-open
//   gateway_breaker_transitions_total
//   gateway_shed_total{qos}, gateway_rate_limited_total
//   gateway_workers{state}                               ready, total
//   gateway_routing_reloads_total{result}                ok, refused
//   gateway_streams{protocol}                            open streams: grpc, sse
//   gateway_stream_responses_total{protocol}             responses / token events sent
//   gateway_stream_first_token_seconds{protocol="sse"}   request -> first token event sent (SSE
//                                                        only: the gRPC relay forwards responses
//                                                        as bytes and never reads which is first)
//   gateway_stream_fallbacks_total{reason}               SSE fallback entered: stall, unavailable
//   (breaker
//                                                        open, ejected or no ready worker)
//   gateway_stream_keepalives_total                      SSE keep-alive events sent
//   gateway_stream_fallback_timeouts_total               SSE streams ended after fallback_max_ms
//   gateway_stream_upstream_failures_total               streams ended because their worker failed
//   gateway_sse_upstream_calls_total{reused}             SSE generations by upstream call: a new
//                                                        one ("false") or an idle one ("true")
//
// Thread safety: as core::Registry (every method from any thread).

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "core/metrics/registry.h"
#include "inference/gateway/qos/qos_admission.h"

namespace inference::gateway {

class GatewayMetrics {
 public:
  GatewayMetrics();
  core::Registry& registry() { return registry_; }

  // Per request: the children come from a per-thread cache (no family mutex, no label-key
  // allocation once warm; the family's lookup only on a miss).
  void CountRequest(std::string_view model, std::string_view version, QosLevel qos,
                    std::string_view outcome) {
    Cached<core::Counter>(requests_, 'r', {model, version, QosName(qos), outcome}).Inc();
  }
  core::Histogram& UpstreamLatency(std::string_view endpoint) {
    return Cached<core::Histogram>(upstream_latency_, 'u', {endpoint});
  }
  core::Gauge& BreakerState(std::string_view endpoint) {
    return breaker_state_.WithLabels({endpoint});
  }
  core::Counter& breaker_transitions() { return breaker_transitions_; }
  core::Counter& retries() { return retries_; }
  core::Counter& Shed(QosLevel qos) { return shed_.WithLabels({QosName(qos)}); }
  core::Counter& rate_limited() { return rate_limited_; }
  core::Gauge& workers_ready() { return workers_ready_; }
  core::Gauge& workers_total() { return workers_total_; }
  core::Counter& RoutingReload(bool ok) { return reloads_.WithLabels({ok ? "ok" : "refused"}); }
  // The streaming families have two label values; their children are resolved once, so the
  // per-response counters take no lookup (and no family lock) on the hot path.
  enum class StreamProtocol { kGrpc = 0, kSse = 1 };
  core::Gauge& Streams(StreamProtocol p) { return *streams_by_protocol_[Index(p)]; }
  core::Counter& StreamResponses(StreamProtocol p) {
    return *stream_responses_by_protocol_[Index(p)];
  }
  core::Histogram& SseFirstToken() { return sse_first_token_; }
  core::Counter& StreamFallbacks(std::string_view reason) {
    return stream_fallbacks_.WithLabels({reason});
  }
  core::Counter& stream_keepalives() { return stream_keepalives_; }
  core::Counter& stream_fallback_timeouts() { return stream_fallback_timeouts_; }
  core::Counter& stream_upstream_failures() { return stream_upstream_failures_; }
  core::Counter& SseUpstreamCalls(bool reused) { return *sse_upstream_calls_[reused ? 1 : 0]; }

 private:
  // Children of this instance's families already looked up by the calling thread. Keyed by
  // instance id (never reused, unlike an address), family tag and the label values; bounded by
  // kChildCacheEntriesMax per thread (cleared when full: a miss only costs the family lookup).
  static constexpr size_t kChildCacheEntriesMax = 4096;
  template <typename Metric, typename Family>
  Metric& Cached(Family& family, char tag, std::initializer_list<std::string_view> labels) {
    struct Cache {
      absl::flat_hash_map<std::string, void*> children;
      std::string key;
    };
    thread_local Cache cache;
    std::string& key = cache.key;
    key.assign(reinterpret_cast<const char*>(&id_), sizeof(id_));
    key.push_back(tag);
    for (std::string_view l : labels) {  // length-prefixed: no two label lists share a key
      const uint32_t n = static_cast<uint32_t>(l.size());
      key.append(reinterpret_cast<const char*>(&n), sizeof(n));
      key.append(l);
    }
    if (auto it = cache.children.find(key); it != cache.children.end()) {
      return *static_cast<Metric*>(it->second);
    }
    Metric& m = family.WithLabels(labels);
    if (cache.children.size() >= kChildCacheEntriesMax) cache.children.clear();
    cache.children.emplace(key, &m);
    return m;
  }

  const uint64_t id_;
  core::Registry registry_;
  core::CounterFamily& requests_;
  core::HistogramFamily& upstream_latency_;
  core::GaugeFamily& breaker_state_;
  core::Counter& breaker_transitions_;
  core::Counter& retries_;
  core::CounterFamily& shed_;
  core::Counter& rate_limited_;
  core::GaugeFamily& workers_;
  core::Gauge& workers_ready_;
  core::Gauge& workers_total_;
  core::CounterFamily& reloads_;
  core::GaugeFamily& streams_;
  core::CounterFamily& stream_responses_;
  core::HistogramFamily& stream_first_token_;
  core::CounterFamily& stream_fallbacks_;
  core::Counter& stream_keepalives_;
  core::Counter& stream_fallback_timeouts_;
  core::Counter& stream_upstream_failures_;
  static size_t Index(StreamProtocol p) { return static_cast<size_t>(p); }
  std::array<core::Gauge*, 2> streams_by_protocol_;
  std::array<core::Counter*, 2> stream_responses_by_protocol_;
  core::Histogram& sse_first_token_;
  core::CounterFamily& sse_upstream_calls_family_;
  std::array<core::Counter*, 2> sse_upstream_calls_;  // [new, reused]
};

}  // namespace inference::gateway

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
//
// Thread safety: as core::Registry (every method from any thread).

#include <string_view>

#include "core/metrics/registry.h"
#include "inference/gateway/qos/qos_admission.h"

namespace inference::gateway {

class GatewayMetrics {
 public:
  GatewayMetrics();
  core::Registry& registry() { return registry_; }

  void CountRequest(std::string_view model, std::string_view version, QosLevel qos,
                    std::string_view outcome) {
    requests_.WithLabels({model, version, QosName(qos), outcome}).Inc();
  }
  core::Histogram& UpstreamLatency(std::string_view endpoint) {
    return upstream_latency_.WithLabels({endpoint});
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

 private:
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
};

}  // namespace inference::gateway

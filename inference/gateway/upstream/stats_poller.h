#pragma once
// StatsPoller: keeps every endpoint's live signals fresh.
//
// Every interval_ms, for each endpoint, it sends GET /v2/stats (queue depth, per-model latency
// EWMA, the versions the worker serves) and, while the endpoint is not ready, GET /v2/health/ready;
// the endpoint becomes ready (gets traffic) on the first 200. A transport failure (the worker is
// gone) marks it not ready at once, so new requests stop going there before the breaker would
// notice. At most one poll per endpoint is outstanding. It also refreshes the breaker-state and
// worker-count gauges.
//
// Thread safety: Start/Stop from the owning thread; the polls run on the UpstreamPool's threads.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/gateway_metrics.h"
#include "inference/gateway/upstream/upstream_pool.h"

namespace inference::gateway {

inline constexpr int kStatsTimeoutMs = 1000;

struct GrpcUpstream;   // upstream/grpc_upstream.h
class H2StreamClient;  // upstream/h2_stream_client.h

// What an endpoint needs: its HTTP connection pool target, its gRPC channel (null when the gRPC
// front end is off or the worker has no gRPC address) and the poller's in-progress flag.
struct EndpointTransport {
  std::shared_ptr<UpstreamTarget> target;
  std::shared_ptr<GrpcUpstream> grpc;
  // SSE generate_stream's upstream calls (streaming.sse_upstream: h2); null: they use `grpc`.
  std::shared_ptr<H2StreamClient> h2;
  std::atomic<bool> polling{false};
};

inline EndpointTransport* TransportOf(const Endpoint& e) {
  return static_cast<EndpointTransport*>(e.transport.get());
}

class StatsPoller {
 public:
  StatsPoller(EndpointSet* endpoints, UpstreamPool* pool, GatewayMetrics* metrics, int interval_ms);
  ~StatsPoller();
  void Start();
  void Stop();
  // One round now (tests, and right after a worker is added).
  void PollOnce();

 private:
  void Poll(const EndpointPtr& endpoint);
  EndpointSet* const endpoints_;
  UpstreamPool* const pool_;
  GatewayMetrics* const metrics_;
  const int interval_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace inference::gateway

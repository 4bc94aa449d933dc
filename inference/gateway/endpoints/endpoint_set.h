#pragma once
// EndpointSet: the workers the gateway forwards to, with their live signals, and the picker.
//
// An Endpoint is one worker's HTTP address (TCP "host:port" or "unix:/path") plus its gRPC address.
// Signals:
//   - inflight: requests the gateway has outstanding on it (exact, updated per request);
//   - queue_depth, worker_latency_ewma_us: polled from the worker's GET /v2/stats;
//   - latency_ewma_us: upstream latency measured by the gateway (alpha kLatencyEwmaAlpha);
//   - ready: set by the poller once the worker answers /v2/health/ready with 200, so a new worker
//     gets traffic only once ready; draining endpoints (scale-down) get no new requests.
// Protection:
//   - a core::CircuitBreaker per endpoint (error-rate and consecutive-failure triggers);
//   - outlier ejection: eject_consecutive_failures failures in a row eject the endpoint for
//     ejection_ms * (times ejected, capped at 8), never more than ejection_share_max of the set.
//
// Picking is power of two choices: two distinct random eligible endpoints (ready, not draining, not
// ejected, breaker not open), the one with the lower cost wins, where
//   cost = (inflight + queue_depth + 1) * max(latency_ewma_us, kLatencyFloorUs).
// The winner's breaker must then admit the request (a half-open breaker admits only its probes).
//
// Thread safety: every method may be called from any thread. The endpoint list is a snapshot
// (copy-on-write under a mutex), so picking takes no lock beyond the breakers' own.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "core/resilience/circuit_breaker.h"
#include "core/sync/snapshot_ptr.h"

namespace inference::gateway {

inline constexpr size_t kEndpointsMax = 256;
inline constexpr double kLatencyEwmaAlpha = 0.2;
inline constexpr double kLatencyFloorUs = 50;

struct UpstreamAddress {
  bool unix_socket = false;
  std::string host;  // TCP host, or the socket path
  uint16_t port = 0;
  // "host:port" or "unix:/path".
  static absl::StatusOr<UpstreamAddress> Parse(std::string_view text);
  std::string ToString() const;
};

class Endpoint {
 public:
  Endpoint(std::string name, UpstreamAddress http, std::string grpc_target,
           std::unique_ptr<core::CircuitBreaker> breaker)
      : name_(std::move(name)),
        http_(std::move(http)),
        grpc_target_(std::move(grpc_target)),
        breaker_(std::move(breaker)) {}

  const std::string& name() const { return name_; }
  const UpstreamAddress& http() const { return http_; }
  const std::string& grpc_target() const { return grpc_target_; }  // "" when unknown
  core::CircuitBreaker& breaker() { return *breaker_; }

  std::atomic<int64_t> inflight{0};
  std::atomic<int64_t> queue_depth{0};
  std::atomic<double> worker_latency_ewma_us{0};
  std::atomic<double> latency_ewma_us{0};
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> ejected_until_ns{0};
  std::atomic<int32_t> consecutive_failures{0};
  std::atomic<int32_t> ejections{0};
  std::atomic<int64_t> requests{0};  // forwarded by the gateway (for metrics and tests)
  // Opaque per-endpoint transport state (connection pool), owned by the endpoint. Given to
  // EndpointSet::Add, so it is set before any thread can see the endpoint; read-only afterwards.
  std::shared_ptr<void> transport;

  // "model\0version" pairs the worker reports ready (from /v2/stats).
  void SetVersions(absl::flat_hash_set<std::string> versions);
  bool HasVersion(std::string_view model, std::string_view version) const;

 private:
  const std::string name_;
  const UpstreamAddress http_;
  const std::string grpc_target_;
  std::unique_ptr<core::CircuitBreaker> breaker_;
  mutable std::mutex mu_;
  absl::flat_hash_set<std::string> versions_;
};

using EndpointPtr = std::shared_ptr<Endpoint>;
using EndpointList = std::vector<EndpointPtr>;

class EndpointSet {
 public:
  struct Options {
    core::CircuitBreaker::Options breaker;
    int eject_consecutive_failures = 5;
    int64_t ejection_ms = 2000;
    double ejection_share_max = 0.5;
  };
  // Validates the breaker options (through CircuitBreaker::Create) and the ejection settings.
  static absl::StatusOr<std::unique_ptr<EndpointSet>> Create(Options options, core::Clock* clock,
                                                             uint64_t seed);

  // Adds an endpoint (not ready until MarkReady / the poller) with its `transport` (see
  // Endpoint::transport). AlreadyExists for a duplicate name, ResourceExhausted beyond
  // kEndpointsMax.
  absl::StatusOr<EndpointPtr> Add(std::string name, UpstreamAddress http, std::string grpc_target,
                                  std::shared_ptr<void> transport = nullptr);
  void Remove(std::string_view name);
  std::shared_ptr<const EndpointList> snapshot() const { return list_.load(); }
  int ReadyCount() const;

  // Power of two choices (see above), skipping `exclude` (the endpoint that just failed). When
  // model/version are given, only endpoints reporting that version are eligible. Unavailable when
  // no endpoint is eligible. The caller must report the outcome with RecordResult().
  absl::StatusOr<EndpointPtr> Pick(std::string_view model = {}, std::string_view version = {},
                                   const Endpoint* exclude = nullptr);
  // Whether any ready endpoint reports `version` of `model`.
  bool AnyHasVersion(std::string_view model, std::string_view version) const;
  // Pick() for a request routed to `version` of `model`: restricted to endpoints reporting that
  // version while any does, any eligible endpoint otherwise (an empty version, or one no endpoint
  // reports yet, e.g. before the first stats poll).
  absl::StatusOr<EndpointPtr> PickForVersion(std::string_view model, std::string_view version,
                                             const Endpoint* exclude);

  // Outcome of one forwarded request: success, or a failure that counts against the endpoint
  // (transport error, timeout, 5xx). `latency_us` feeds the gateway-side EWMA (successes only).
  void RecordResult(Endpoint& endpoint, bool success, double latency_us);
  // The same for a long-lived stream: its outcome counts for the breaker and ejection, but its
  // duration is no request latency (the EWMA is left alone).
  void RecordStreamResult(Endpoint& endpoint, bool success);

 private:
  EndpointSet(Options options, core::Clock* clock, uint64_t seed);
  bool Eligible(const Endpoint& e, int64_t now_ns) const;
  static double Cost(const Endpoint& e);

  const Options options_;
  core::Clock* const clock_;
  std::mutex mu_;  // writers of list_, and the PRNG
  std::mt19937_64 rng_;
  core::SnapshotPtr<EndpointList> list_;
};

}  // namespace inference::gateway

#include "inference/gateway/streaming/stream_proxy.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "fmt/format.h"
#include "inference/gateway/streaming/stream_internal.h"

namespace inference::gateway {

namespace stream_internal {

absl::StatusOr<std::string> ResolveVersion(EndpointSet* endpoints, RoutingWatcher* routing,
                                           std::string_view model, std::string_view pinned,
                                           std::string_view user_id) {
  if (!pinned.empty()) {
    if (!endpoints->AnyHasVersion(model, pinned)) {
      return absl::NotFoundError(
          fmt::format("model '{}' version '{}' (model_version / "
                      "x-model-version) is unknown or not ready on any "
                      "worker",
                      model, pinned));
    }
    return std::string(pinned);
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::shared_ptr<const RoutingTable> table = routing->current();
  if (auto v = table->Resolve(model, user_id, rng())) return std::string(*v);
  return std::string();
}

grpc::StatusCode CodeOf(std::string_view error_message) {
  static constexpr std::pair<std::string_view, grpc::StatusCode> kCodes[] = {
      {"INVALID_ARGUMENT", grpc::StatusCode::INVALID_ARGUMENT},
      {"NOT_FOUND", grpc::StatusCode::NOT_FOUND},
      {"RESOURCE_EXHAUSTED", grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"UNAVAILABLE", grpc::StatusCode::UNAVAILABLE},
      {"FAILED_PRECONDITION", grpc::StatusCode::FAILED_PRECONDITION},
      {"DEADLINE_EXCEEDED", grpc::StatusCode::DEADLINE_EXCEEDED},
      {"INTERNAL", grpc::StatusCode::INTERNAL},
  };
  for (const auto& [name, code] : kCodes) {
    if (error_message.starts_with(name) && error_message.substr(name.size()).starts_with(":")) {
      return code;
    }
  }
  return grpc::StatusCode::UNKNOWN;
}

bool StreamEndpointFault(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    default:
      return false;
  }
}

}  // namespace stream_internal

absl::Status StreamingOptions::Validate() const {
  auto bad = [](std::string_view field, std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("streaming.{}: {}", field, why));
  };
  if (window < 1 || window > 4096) return bad("window", "expected 1..4096");
  if (upstream_write_queue < 1 || upstream_write_queue > 4096) {
    return bad("upstream_write_queue", "expected 1..4096");
  }
  if (stall_ms < 1) return bad("stall_ms", "expected >= 1");
  if (keepalive_ms < 1) return bad("keepalive_ms", "expected >= 1");
  if (fallback_max_ms < keepalive_ms) {
    return bad("fallback_max_ms", "must be at least keepalive_ms (one keep-alive at least)");
  }
  if (sse_timeout_ms < 1) return bad("sse_timeout_ms", "expected >= 1");
  if (sse_pause_bytes < 1024) return bad("sse_pause_bytes", "expected >= 1024");
  if (sse_upstream_idle_ms < 1) return bad("sse_upstream_idle_ms", "expected >= 1");
  if (sse_upstream_idle_max > 65536) return bad("sse_upstream_idle_max", "expected 0..65536");
  if (sse_upstream != "h2" && sse_upstream != "grpc") {
    return bad("sse_upstream", fmt::format("'{}': expected h2 or grpc", sse_upstream));
  }
  if (sequences.entries_max < 16) return bad("sequences_max", "expected >= 16");
  if (sequences.idle_ms < 1) return bad("sequence_idle_ms", "expected >= 1");
  return absl::OkStatus();
}

StreamProxy::StreamProxy(StreamingOptions options, EndpointSet* endpoints, RoutingWatcher* routing,
                         GatewayMetrics* metrics, core::Clock* clock)
    : options_(options),
      endpoints_(endpoints),
      routing_(routing),
      metrics_(metrics),
      clock_(clock),
      affinity_(options.sequences) {}

StreamProxy::~StreamProxy() { Stop(); }

void StreamProxy::Start() {
  std::lock_guard lock(mu_);
  if (watchdog_.joinable()) return;
  stop_ = false;
  watchdog_ = std::thread([this] { WatchdogLoop(); });
}

}  // namespace inference::gateway

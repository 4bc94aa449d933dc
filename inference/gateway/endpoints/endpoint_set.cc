#include "inference/gateway/endpoints/endpoint_set.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "fmt/format.h"

namespace inference::gateway {

absl::StatusOr<UpstreamAddress> UpstreamAddress::Parse(std::string_view text) {
  UpstreamAddress a;
  if (text.starts_with("unix:")) {
    a.unix_socket = true;
    a.host = std::string(text.substr(5));
    if (a.host.empty()) return absl::InvalidArgumentError("empty Unix socket path");
    return a;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        fmt::format("expected host:port or unix:/path, got '{}'", text));
  }
  a.host = std::string(text.substr(0, colon));
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
    return absl::InvalidArgumentError(fmt::format("bad port in '{}'", text));
  }
  a.port = static_cast<uint16_t>(value);
  return a;
}

std::string UpstreamAddress::ToString() const {
  return unix_socket ? "unix:" + host : fmt::format("{}:{}", host, port);
}

void Endpoint::SetVersions(absl::flat_hash_set<std::string> versions) {
  std::lock_guard<std::mutex> lock(mu_);
  versions_ = std::move(versions);
}

bool Endpoint::HasVersion(std::string_view model, std::string_view version) const {
  std::string key;
  key.reserve(model.size() + 1 + version.size());
  key.append(model).push_back('\0');
  key.append(version);
  std::lock_guard<std::mutex> lock(mu_);
  return versions_.contains(key);
}

absl::StatusOr<std::unique_ptr<EndpointSet>> EndpointSet::Create(Options options,
                                                                 core::Clock* clock,
                                                                 uint64_t seed) {
  absl::StatusOr<std::unique_ptr<core::CircuitBreaker>> probe =
      core::CircuitBreaker::Create(options.breaker, clock);
  if (!probe.ok()) return probe.status();
  if (options.eject_consecutive_failures < 1 || options.ejection_ms < 1 ||
      !(options.ejection_share_max >= 0 && options.ejection_share_max <= 1)) {
    return absl::InvalidArgumentError(
        "ejection: expected consecutive_failures >= 1, ejection_ms >= 1, share_max in [0, 1]");
  }
  return std::unique_ptr<EndpointSet>(new EndpointSet(std::move(options), clock, seed));
}

EndpointSet::EndpointSet(Options options, core::Clock* clock, uint64_t seed)
    : options_(std::move(options)), clock_(clock), rng_(seed) {
  list_.store(std::make_shared<const EndpointList>());
}

absl::StatusOr<EndpointPtr> EndpointSet::Add(std::string name, UpstreamAddress http,
                                             std::string grpc_target,
                                             std::shared_ptr<void> transport) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const EndpointList> old = list_.load();
  if (old->size() >= kEndpointsMax) {
    return absl::ResourceExhaustedError(fmt::format("at most {} endpoints", kEndpointsMax));
  }
  for (const auto& e : *old) {
    if (e->name() == name) return absl::AlreadyExistsError(fmt::format("endpoint {}", name));
  }
  absl::StatusOr<std::unique_ptr<core::CircuitBreaker>> breaker =
      core::CircuitBreaker::Create(options_.breaker, clock_);
  if (!breaker.ok()) return breaker.status();
  auto endpoint = std::make_shared<Endpoint>(std::move(name), std::move(http),
                                             std::move(grpc_target), *std::move(breaker));
  endpoint->transport = std::move(transport);  // before the list publishes it to other threads
  auto next = std::make_shared<EndpointList>(*old);
  next->push_back(endpoint);
  list_.store(std::move(next));
  return endpoint;
}

void EndpointSet::Remove(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const EndpointList> old = list_.load();
  auto next = std::make_shared<EndpointList>();
  for (const auto& e : *old) {
    if (e->name() != name) next->push_back(e);
  }
  list_.store(std::move(next));
}

int EndpointSet::ReadyCount() const {
  int n = 0;
  for (const auto& e : *snapshot()) n += e->ready.load() && !e->draining.load();
  return n;
}

bool EndpointSet::Eligible(const Endpoint& e, int64_t now_ns) const {
  return e.ready.load(std::memory_order_relaxed) && !e.draining.load(std::memory_order_relaxed) &&
         e.ejected_until_ns.load(std::memory_order_relaxed) <= now_ns &&
         const_cast<Endpoint&>(e).breaker().state() != core::CircuitBreaker::State::kOpen;
}

double EndpointSet::Cost(const Endpoint& e) {
  const double load = static_cast<double>(e.inflight.load(std::memory_order_relaxed) +
                                          e.queue_depth.load(std::memory_order_relaxed) + 1);
  return load * std::max(e.latency_ewma_us.load(std::memory_order_relaxed), kLatencyFloorUs);
}

bool EndpointSet::AnyHasVersion(std::string_view model, std::string_view version) const {
  for (const auto& e : *snapshot()) {
    if (e->ready.load() && e->HasVersion(model, version)) return true;
  }
  return false;
}

absl::StatusOr<EndpointPtr> EndpointSet::PickForVersion(std::string_view model,
                                                        std::string_view version,
                                                        const Endpoint* exclude) {
  const bool filter = !version.empty() && AnyHasVersion(model, version);
  return Pick(model, filter ? version : std::string_view(), exclude);
}

absl::StatusOr<EndpointPtr> EndpointSet::Pick(std::string_view model, std::string_view version,
                                              const Endpoint* exclude) {
  const std::shared_ptr<const EndpointList> list = snapshot();
  const int64_t now_ns = clock_->NowNs();
  // Eligible candidates, on the stack for the common small sets.
  std::array<Endpoint*, kEndpointsMax> candidates;
  size_t n = 0;
  for (const auto& e : *list) {
    if (e.get() == exclude || !Eligible(*e, now_ns)) continue;
    if (!version.empty() && !e->HasVersion(model, version)) continue;
    candidates[n++] = e.get();
  }
  if (n == 0) return absl::UnavailableError("no ready worker endpoint");
  size_t first = 0;
  size_t second = 0;
  if (n > 1) {
    std::lock_guard<std::mutex> lock(mu_);
    first = std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
    second = std::uniform_int_distribution<size_t>(0, n - 2)(rng_);
    if (second >= first) ++second;
  }
  if (n > 1 && Cost(*candidates[second]) < Cost(*candidates[first])) std::swap(first, second);
  // The winner, then the runner-up, then the rest, until a breaker admits the request.
  Endpoint* order_first[2] = {candidates[first], candidates[second]};
  for (size_t i = 0; i < (n > 1 ? 2u : 1u); ++i) {
    if (order_first[i]->breaker().Allow()) {
      for (const auto& e : *list) {
        if (e.get() == order_first[i]) return e;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (i == first || i == second) continue;
    if (candidates[i]->breaker().Allow()) {
      for (const auto& e : *list) {
        if (e.get() == candidates[i]) return e;
      }
    }
  }
  return absl::UnavailableError("every worker endpoint is open-circuited or probing");
}

void EndpointSet::RecordResult(Endpoint& e, bool success, double latency_us) {
  if (success) {
    double prev = e.latency_ewma_us.load(std::memory_order_relaxed);
    const double next = prev == 0 ? latency_us : prev + kLatencyEwmaAlpha * (latency_us - prev);
    e.latency_ewma_us.store(next, std::memory_order_relaxed);
  }
  RecordStreamResult(e, success);
}

void EndpointSet::RecordStreamResult(Endpoint& e, bool success) {
  if (success) {
    e.breaker().RecordSuccess();
    e.consecutive_failures.store(0, std::memory_order_relaxed);
    return;
  }
  e.breaker().RecordFailure();
  const int32_t failures = e.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (failures < options_.eject_consecutive_failures) return;
  const int64_t now_ns = clock_->NowNs();
  if (e.ejected_until_ns.load() > now_ns) return;
  const std::shared_ptr<const EndpointList> list = snapshot();
  size_t ejected = 0;
  for (const auto& other : *list) ejected += other->ejected_until_ns.load() > now_ns;
  if (static_cast<double>(ejected + 1) >
      options_.ejection_share_max * static_cast<double>(list->size())) {
    return;  // ejecting this one too would leave too little capacity
  }
  const int32_t times = std::min(e.ejections.fetch_add(1) + 1, 8);
  e.ejected_until_ns.store(now_ns + options_.ejection_ms * 1'000'000 * times);
  e.consecutive_failures.store(0);
}

}  // namespace inference::gateway

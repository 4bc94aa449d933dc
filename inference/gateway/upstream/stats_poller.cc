#include "inference/gateway/upstream/stats_poller.h"

#include <chrono>

#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace inference::gateway {
namespace {

constexpr std::string_view kStatsRequest =
    "GET /v2/stats HTTP/1.1\r\nHost: worker\r\nUser-Agent: infer-gateway\r\n\r\n";
constexpr std::string_view kReadyRequest =
    "GET /v2/health/ready HTTP/1.1\r\nHost: worker\r\nUser-Agent: infer-gateway\r\n\r\n";

void ApplyStats(Endpoint& e, const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return;
  e.queue_depth.store(j.value("queue_depth", int64_t{0}));
  double latency = 0;
  absl::flat_hash_set<std::string> versions;
  if (auto it = j.find("models"); it != j.end() && it->is_array()) {
    for (const auto& m : *it) {
      if (!m.is_object()) continue;
      latency = std::max(latency, m.value("latency_ewma_us", 0.0));
      std::string key = m.value("name", std::string());
      key.push_back('\0');
      key.append(m.value("version", std::string()));
      versions.insert(std::move(key));
    }
  }
  e.worker_latency_ewma_us.store(latency);
  e.SetVersions(std::move(versions));
}

}  // namespace

StatsPoller::StatsPoller(EndpointSet* endpoints, UpstreamPool* pool, GatewayMetrics* metrics,
                         int interval_ms)
    : endpoints_(endpoints), pool_(pool), metrics_(metrics), interval_ms_(interval_ms) {}

StatsPoller::~StatsPoller() { Stop(); }

void StatsPoller::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      PollOnce();
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; });
    }
  });
}

void StatsPoller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsPoller::PollOnce() {
  const auto list = endpoints_->snapshot();
  int ready = 0;
  for (const EndpointPtr& e : *list) {
    ready += e->ready.load() && !e->draining.load();
    using State = core::CircuitBreaker::State;
    const State s = e->breaker().state();
    metrics_->BreakerState(e->name()).Set(s == State::kClosed ? 0 : s == State::kOpen ? 1 : 2);
    Poll(e);
  }
  metrics_->workers_ready().Set(ready);
  metrics_->workers_total().Set(static_cast<double>(list->size()));
}

void StatsPoller::Poll(const EndpointPtr& e) {
  EndpointTransport* t = TransportOf(*e);
  if (t == nullptr || t->polling.exchange(true)) return;
  pool_->Send(t->target, std::string(kStatsRequest), kStatsTimeoutMs,
              [pool = pool_, e](UpstreamResponse&& r) {
                EndpointTransport* t = TransportOf(*e);
                if (!r.status.ok()) {
                  if (e->ready.exchange(false)) {
                    spdlog::warn("endpoint {} unreachable: {}", e->name(),
                                 std::string(r.status.message()));
                  }
                  t->polling.store(false);
                  return;
                }
                if (r.http_status == 200) ApplyStats(*e, r.body);
                if (e->ready.load()) {
                  t->polling.store(false);
                  return;
                }
                pool->Send(t->target, std::string(kReadyRequest), kStatsTimeoutMs,
                           [e](UpstreamResponse&& r) {
                             if (r.status.ok() && r.http_status == 200 && !e->ready.load()) {
                               e->ready.store(true);
                               spdlog::info("endpoint {} ready", e->name());
                             }
                             TransportOf(*e)->polling.store(false);
                           });
              });
}

}  // namespace inference::gateway

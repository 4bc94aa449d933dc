#pragma once
// Liveness and readiness for orchestrators (Kubernetes probes, load balancers, the inference gateway).
//
//   GET /healthz  -> 200 {"status":"ok"} while the process serves HTTP at all (liveness).
//   GET /readyz   -> 200 {"status":"ready","checks":{...}} when marked ready and every check passes,
//                    else 503 {"status":"not_ready","checks":{"journal":"cannot write: ..."}}.
//
// Thread safety: all methods may be called from any thread. Checks must be cheap and non-blocking: they
// run on an I/O thread for every probe.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/http/router.h"
#include "core/metrics/registry.h"

namespace core {

class Health {
 public:
  using Check = std::function<absl::Status()>;

  void SetReady(bool ready) { ready_.store(ready, std::memory_order_release); }
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Adds a named readiness check (e.g. "journal", "models"). Register at start-up.
  void AddCheck(std::string name, Check check);

  // Evaluates readiness: ready flag and all checks. Fills `body` with the JSON shown above.
  bool Evaluate(std::string* body) const;

 private:
  std::atomic<bool> ready_{false};
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, Check>> checks_;
};

// Registers GET /healthz and GET /readyz on `router`. `health` must outlive the router.
void RegisterHealthRoutes(http::Router& router, const Health* health);

// Registers GET /metrics (Prometheus text format 0.0.4) on `router`. `registry` must outlive the router.
void RegisterMetricsRoute(http::Router& router, const Registry* registry);

}  // namespace core

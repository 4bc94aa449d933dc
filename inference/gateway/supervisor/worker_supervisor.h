#pragma once
// WorkerSupervisor: spawns and supervises the gateway's own `infer-worker` processes.
//
// Each worker slot runs `infer-worker --repo R --unix-socket <dir>/w<i>.sock --grpc-unix-socket
// <dir>/w<i>.grpc.sock --ready-file <dir>/w<i>.ready --http-threads T`, with PR_SET_PDEATHSIG so a
// worker never outlives a killed gateway. A worker is attached as an endpoint once its ready file
// appears; the StatsPoller then lets traffic through only after /v2/health/ready answers 200.
//
// Crash: a worker that exits is detached at once and restarted after a full-jitter backoff
// (core::Backoff, reset after it has stayed up for kStableUptimeMs).
//
// Elastic scaling, evaluated every scale_interval_ms from the live signals:
//   pressure = mean over ready workers of max(gateway in-flight, worker queue depth)
//              (a request this gateway sent that waits in the worker's queue is counted once;
//              the worker's depth covers work other clients sent it)
//   slow     = mean worker latency EWMA > scale_up_latency_us (0: ignored)
//   scale up   when (pressure > scale_up_pressure or slow) in scale_up_after consecutive
//              evaluations and workers < workers_max;
//   scale down when pressure < scale_down_pressure in scale_down_after consecutive evaluations and
//              workers > workers_min, and no worker is still starting (its requests wait in
//              the gateway, so pressure reads low). The newest worker is drained (no new requests),
//              then SIGTERMed once it has no request in flight.
// The two thresholds and the consecutive-evaluation counts are the hysteresis.
//
// Thread safety: Start/Stop from the owning thread; the supervisor runs on its own thread and calls
// `attach`/`detach` there.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "core/resilience/retry.h"
#include "inference/gateway/endpoints/endpoint_set.h"

namespace inference::gateway {

inline constexpr int kWorkersMax = 64;
inline constexpr int64_t kStableUptimeMs = 10'000;

struct SupervisorOptions {
  std::string worker_binary;
  std::string repo;
  std::string runtime_dir;  // sockets, ready files, worker logs
  int workers_min = 1;
  int workers_max = 1;
  int workers_initial = 1;
  int worker_http_threads = 1;
  std::vector<std::string> worker_args;  // extra flags
  int scale_interval_ms = 1000;
  double scale_up_pressure = 8;
  double scale_down_pressure = 1;
  double scale_up_latency_us = 0;
  int scale_up_after = 3;
  int scale_down_after = 10;
  core::Backoff::Options restart_backoff{.initial_ms = 100,
                                         .max_ms = 5000,
                                         .multiplier = 2,
                                         .attempts_max = core::Backoff::kAttemptsMaxLimit};
};

class WorkerSupervisor {
 public:
  using Attach = std::function<EndpointPtr(const std::string& name, const UpstreamAddress& http,
                                           const std::string& grpc_target)>;
  using Detach = std::function<void(const std::string& name)>;

  static absl::StatusOr<std::unique_ptr<WorkerSupervisor>> Create(SupervisorOptions options,
                                                                  Attach attach, Detach detach,
                                                                  core::Clock* clock);
  ~WorkerSupervisor();
  void Start();
  void Stop();  // SIGTERMs every worker and waits (bounded) for them

  int workers() const;  // slots with a live process
  int64_t restarts() const;
  std::vector<pid_t> pids() const;

 private:
  struct Slot;
  WorkerSupervisor(SupervisorOptions options, Attach attach, Detach detach, core::Clock* clock);
  void Loop();
  void Step(int64_t now_ns);
  void Spawn(Slot& slot, int64_t now_ns);
  void Scale(int64_t now_ns);

  const SupervisorOptions options_;
  const Attach attach_;
  const Detach detach_;
  core::Clock* const clock_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int next_id_ = 0;
  int64_t restarts_ = 0;
  int64_t next_scale_ns_ = 0;
  int up_votes_ = 0;
  int down_votes_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace inference::gateway

#pragma once
// DynamicBatcher: per model version, merges queued requests into batches (see batch_queue.h for the
// policy), runs each batch on one of its instances (one execution thread per backend instance), and
// splits the outputs back to the requests.
//
// Submit() is called from any thread (I/O threads, gRPC threads) and never blocks on inference;
// every request is completed exactly once: on an execution thread after its batch ran, or inline in
// Submit() when rejected (RESOURCE_EXHAUSTED: queue full; UNAVAILABLE: stopping; INVALID_ARGUMENT:
// bad batch size or priority), or DEADLINE_EXCEEDED when its deadline passed while queued (it is
// not run).
//
// A batch of one request is run on the request's own input bytes (no copy); larger batches are
// gathered into per-instance scratch buffers that are reused from batch to batch.
//
// Stop(): stops accepting, runs everything already queued, joins the threads. Idempotent; also done
// by the destructor.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "inference/backend/backend.h"
#include "inference/batcher/batch_queue.h"
#include "inference/batcher/infer_request.h"
#include "inference/metrics/model_metrics.h"

namespace inference {

struct DynamicBatcherOptions {
  BatchQueueOptions queue;
  size_t output_count = 1;          // number of outputs the backend must return
  core::Clock* clock = nullptr;     // default: the real clock
  ModelMetrics* metrics = nullptr;  // optional
};

class DynamicBatcher {
 public:
  static absl::StatusOr<std::unique_ptr<DynamicBatcher>> Create(
      DynamicBatcherOptions options, std::vector<std::unique_ptr<Backend>> instances);
  ~DynamicBatcher();

  void Submit(std::unique_ptr<InferRequest> request);
  void Stop();

  size_t queue_depth() const;

 private:
  struct Instance {
    std::unique_ptr<Backend> backend;
    std::vector<std::vector<char>> scratch;  // one gather buffer per input
    std::thread thread;
  };
  DynamicBatcher(DynamicBatcherOptions options, std::vector<std::unique_ptr<Backend>> backends);
  void Run(Instance* instance);
  void Execute(Instance* instance, BatchQueue::Decision* decision);

  const DynamicBatcherOptions options_;
  core::Clock* const clock_;
  std::vector<std::unique_ptr<Instance>> instances_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  BatchQueue queue_;  // guarded by mu_
  bool stopping_ = false;
  // Requests in batches whose backend call has not returned yet (adaptive release input). Written
  // under mu_ when a batch is taken, decremented without it as soon as the backend returns, so a
  // client that answers at once does not see its previous request as still running.
  std::atomic<int64_t> in_service_{0};
  int idle_waiters_ = 0;  // execution threads waiting on cv_ (to skip needless notifies)
};

}  // namespace inference

#pragma once
// BatchQueue: the dynamic batcher's decisions without threads or clocks, so they can be tested with
// exact times. DynamicBatcher wraps it with a mutex, a condition variable and execution threads.
//
// Requests wait in one FIFO per priority level (level 0 first). A batch is formed from the highest
// levels down, taking requests whose non-batch input shapes match the first one taken, up to
// max_batch_size rows. It is released when
//   - it is full (max_batch_size rows), or
//   - the oldest waiting request has waited max_queue_delay_ns, or
//   - it reaches a preferred batch size (then it is cut to the largest preferred size it reaches),
//   or
//   - the queue is being flushed (shutdown), or
//   - adaptive release is on and the model is lightly loaded (below), or
//   - batching is continuous (below).
//
// Continuous batching (generator models: iteration-level scheduling). The steps of running
// generations are the queue's main traffic, and a step's company is the rest of its cohort: when a
// batch completes, each generation in it submits its next step before the instance asks for the
// next batch, so the cohort is already queued. Waiting for more only adds the delay to every step
// (2-15 live generations, below the first preferred size, waited max_queue_delay_ns per step,
// about 4x fewer tokens/s at 8 streams). So a continuous queue releases whatever is queued (up to
// max_batch_size rows) as soon as an instance asks; new generations join the next step.
//
// Adaptive release. Waiting for company only pays when company comes: under load, while the
// execution instances are busy, requests pile up and batches form by themselves; at low load a lone
// request waiting max_queue_delay_ns just adds that delay to its latency (a serial client, at
// concurrency 1, never has company). So every Push records how many other requests the new one
// found in the system (queued, plus `in_service` running in a batch right now), and an
// exponentially weighted average (weight kFoundEwmaWeight) of that count is kept. While that
// average is below kLoneArrivalFoundMax, Next() releases whatever is queued at once: the caller is
// an idle execution instance and arrivals do not overlap. As soon as arrivals find others (requests
// arrive faster than they are served), the average rises and the delay/preferred-size rules apply
// unchanged, so batching efficiency under load is that of the static policy. Requests whose
// deadline has passed are handed back as `expired` (to be answered DEADLINE_EXCEEDED) and never
// run. The total number of queued requests is bounded by queue_size_max (Push ->
// ResourceExhausted).
//
// Thread safety: none; the owner serializes calls.

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "inference/batcher/infer_request.h"

namespace inference {

struct BatchQueueOptions {
  int max_batch_size = 0;  // 0: the model does not batch; one request per batch
  int64_t max_queue_delay_ns = 0;
  std::vector<int> preferred_batch_sizes;  // ascending
  size_t queue_size_max = 1024;
  int priority_levels = 1;
  bool adaptive_release = false;  // see the header comment
  bool continuous = false;        // see the header comment; delay and preferred sizes unused
};

// Adaptive release: a partial batch goes at once while arriving requests found on average fewer
// than this many others queued or running.
inline constexpr double kLoneArrivalFoundMax = 0.5;
inline constexpr double kFoundEwmaWeight = 1.0 / 8;

class BatchQueue {
 public:
  explicit BatchQueue(BatchQueueOptions options);

  // Takes ownership on success. ResourceExhausted when full; InvalidArgument when the request's
  // rows exceed max_batch_size or its priority level is out of range (the request is left with the
  // caller). `in_service`: requests of this model running in a batch right now (adaptive release).
  absl::Status Push(std::unique_ptr<InferRequest>& request, int64_t now_ns, int64_t in_service = 0);

  struct Decision {
    std::vector<std::unique_ptr<InferRequest>> batch;    // run now (may be empty)
    std::vector<std::unique_ptr<InferRequest>> expired;  // answer DEADLINE_EXCEEDED
    int64_t batch_rows = 0;
    int64_t wake_ns = 0;  // when `batch` is empty and requests wait: look again at this time
  };
  // `flush`: release whatever is queued without waiting (shutdown/drain).
  void Next(int64_t now_ns, bool flush, Decision* decision);

  size_t size() const { return size_; }
  int64_t rows() const { return rows_; }
  bool empty() const { return size_ == 0; }
  // True when a Push just made a batch releasable without waiting (full or preferred size reached),
  // so the owner knows whether to wake a waiting execution thread early.
  bool ReadyWithoutWaiting() const;
  // True while adaptive release is on and arrivals do not overlap (see the header comment).
  bool LightlyLoaded() const {
    return options_.adaptive_release && found_ewma_ < kLoneArrivalFoundMax;
  }
  double found_ewma() const { return found_ewma_; }

 private:
  int64_t max_rows() const { return options_.max_batch_size > 0 ? options_.max_batch_size : 1; }
  static bool Compatible(const InferRequest& a, const InferRequest& b);

  BatchQueueOptions options_;
  std::vector<std::deque<std::unique_ptr<InferRequest>>> levels_;
  size_t size_ = 0;
  int64_t rows_ = 0;
  size_t with_deadline_ = 0;
  double found_ewma_ = 0;
  struct Pick {
    size_t level;
    size_t index;
    int64_t rows_after;
  };
  std::vector<Pick> picks_;  // Next()'s candidate batch; at most max_rows() entries  // EWMA of the
                             // requests an arriving request found queued or running
};

}  // namespace inference

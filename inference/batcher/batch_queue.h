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
//   - the queue is being flushed (shutdown).
// Requests whose deadline has passed are handed back as `expired` (to be answered
// DEADLINE_EXCEEDED) and never run. The total number of queued requests is bounded by
// queue_size_max (Push -> ResourceExhausted).
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
};

class BatchQueue {
 public:
  explicit BatchQueue(BatchQueueOptions options);

  // Takes ownership on success. ResourceExhausted when full; InvalidArgument when the request's
  // rows exceed max_batch_size or its priority level is out of range (the request is left with the
  // caller).
  absl::Status Push(std::unique_ptr<InferRequest>& request, int64_t now_ns);

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

 private:
  int64_t max_rows() const { return options_.max_batch_size > 0 ? options_.max_batch_size : 1; }
  static bool Compatible(const InferRequest& a, const InferRequest& b);

  BatchQueueOptions options_;
  std::vector<std::deque<std::unique_ptr<InferRequest>>> levels_;
  size_t size_ = 0;
  int64_t rows_ = 0;
  size_t with_deadline_ = 0;
};

}  // namespace inference

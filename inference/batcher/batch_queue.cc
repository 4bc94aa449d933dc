#include "inference/batcher/batch_queue.h"

#include <algorithm>
#include <limits>

#include "core/log/check.h"
#include "fmt/format.h"

namespace inference {

BatchQueue::BatchQueue(BatchQueueOptions options) : options_(std::move(options)) {
  CORE_CHECK(options_.priority_levels >= 1);
  CORE_CHECK(options_.queue_size_max >= 1);
  levels_.resize(static_cast<size_t>(options_.priority_levels));
  picks_.reserve(static_cast<size_t>(max_rows()));
}

bool BatchQueue::Compatible(const InferRequest& a, const InferRequest& b) {
  auto ia = a.inputs();
  auto ib = b.inputs();
  if (ia.size() != ib.size()) return false;
  for (size_t i = 0; i < ia.size(); ++i) {
    const Shape& sa = ia[i].shape;
    const Shape& sb = ib[i].shape;
    if (sa.rank() != sb.rank() || ia[i].datatype != ib[i].datatype) return false;
    for (size_t d = 1; d < sa.rank(); ++d) {
      if (sa[d] != sb[d]) return false;
    }
  }
  return true;
}

absl::Status BatchQueue::Push(std::unique_ptr<InferRequest>& request, int64_t now_ns,
                              int64_t in_service) {
  if (request->batch_rows < 1 || request->batch_rows > max_rows()) {
    return absl::InvalidArgumentError(
        fmt::format("batch size {} not in [1, {}]", request->batch_rows, max_rows()));
  }
  if (request->priority_level < 0 || request->priority_level >= options_.priority_levels) {
    return absl::InvalidArgumentError(fmt::format("priority out of range"));
  }
  if (size_ >= options_.queue_size_max) {
    return absl::ResourceExhaustedError(
        fmt::format("queue full ({} requests waiting)", options_.queue_size_max));
  }
  request->enqueue_ns = now_ns;
  const double found =
      static_cast<double>(size_) + static_cast<double>(std::max<int64_t>(0, in_service));
  found_ewma_ += (found - found_ewma_) * kFoundEwmaWeight;
  if (request->deadline_ns != 0) ++with_deadline_;
  rows_ += request->batch_rows;
  ++size_;
  levels_[static_cast<size_t>(request->priority_level)].push_back(std::move(request));
  return absl::OkStatus();
}

bool BatchQueue::ReadyWithoutWaiting() const {
  if (rows_ >= max_rows() || (rows_ > 0 && (options_.continuous || LightlyLoaded()))) return true;
  return !options_.preferred_batch_sizes.empty() && rows_ >= options_.preferred_batch_sizes.front();
}

void BatchQueue::Next(int64_t now_ns, bool flush, Decision* d) {
  d->batch.clear();
  d->expired.clear();
  d->batch_rows = 0;
  d->wake_ns = 0;
  int64_t earliest_deadline = std::numeric_limits<int64_t>::max();
  if (with_deadline_ > 0) {
    for (auto& level : levels_) {
      for (auto& r : level) {
        if (r->deadline_ns == 0) continue;
        if (r->deadline_ns <= now_ns) {
          --with_deadline_;
          --size_;
          rows_ -= r->batch_rows;
          d->expired.push_back(std::move(r));
        } else {
          earliest_deadline = std::min(earliest_deadline, r->deadline_ns);
        }
      }
      if (!d->expired.empty()) {
        level.erase(std::remove(level.begin(), level.end(), nullptr), level.end());
      }
    }
  }
  if (size_ == 0) return;

  // Candidate batch: highest levels first, FIFO within a level, compatible shapes only.
  const int64_t limit = max_rows();
  const InferRequest* first = nullptr;
  int64_t rows = 0;
  int64_t oldest_ns = std::numeric_limits<int64_t>::max();
  std::vector<Pick>& picks = picks_;  // reused: no allocation per batch once warm
  picks.clear();
  for (size_t l = 0; l < levels_.size() && rows < limit; ++l) {
    auto& level = levels_[l];
    if (!level.empty()) oldest_ns = std::min(oldest_ns, level.front()->enqueue_ns);
    for (size_t i = 0; i < level.size() && rows < limit; ++i) {
      const InferRequest& r = *level[i];
      if (first != nullptr && !Compatible(*first, r)) continue;
      if (rows + r.batch_rows > limit) continue;
      if (first == nullptr) first = &r;
      rows += r.batch_rows;
      picks.push_back({l, i, rows});
    }
  }
  for (size_t l = 0; l < levels_.size(); ++l) {
    if (!levels_[l].empty()) oldest_ns = std::min(oldest_ns, levels_[l].front()->enqueue_ns);
  }

  bool ready = flush || options_.continuous || rows >= limit ||
               now_ns - oldest_ns >= options_.max_queue_delay_ns || LightlyLoaded();
  if (!ready && !options_.preferred_batch_sizes.empty()) {
    // The largest preferred size the candidate reaches: cut the batch there.
    for (auto it = options_.preferred_batch_sizes.rbegin();
         it != options_.preferred_batch_sizes.rend(); ++it) {
      if (rows < *it) continue;
      while (!picks.empty() && picks.back().rows_after > *it) picks.pop_back();
      ready = !picks.empty();
      break;
    }
  }
  if (!ready) {
    d->wake_ns = std::min(oldest_ns + options_.max_queue_delay_ns, earliest_deadline);
    return;
  }
  d->batch.reserve(picks.size());
  for (const Pick& p : picks) {
    auto& r = levels_[p.level][p.index];
    d->batch_rows += r->batch_rows;
    if (r->deadline_ns != 0) --with_deadline_;
    d->batch.push_back(std::move(r));
  }
  for (auto& level : levels_) {
    level.erase(std::remove(level.begin(), level.end(), nullptr), level.end());
  }
  size_ -= d->batch.size();
  rows_ -= d->batch_rows;
}

}  // namespace inference

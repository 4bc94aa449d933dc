#include "inference/batcher/dynamic_batcher.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/log/check.h"
#include "fmt/format.h"

namespace inference {

absl::StatusOr<std::unique_ptr<DynamicBatcher>> DynamicBatcher::Create(
    DynamicBatcherOptions options, std::vector<std::unique_ptr<Backend>> instances) {
  if (instances.empty()) return absl::InvalidArgumentError("at least one instance is required");
  if (options.output_count == 0 || options.output_count > kModelTensorsMax) {
    return absl::InvalidArgumentError("output_count out of range");
  }
  return std::unique_ptr<DynamicBatcher>(
      new DynamicBatcher(std::move(options), std::move(instances)));
}

DynamicBatcher::DynamicBatcher(DynamicBatcherOptions options,
                               std::vector<std::unique_ptr<Backend>> backends)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : core::Clock::Real()),
      queue_(options_.queue) {
  for (auto& b : backends) {
    auto inst = std::make_unique<Instance>();
    inst->backend = std::move(b);
    instances_.push_back(std::move(inst));
  }
  for (auto& inst : instances_) {
    Instance* raw = inst.get();
    inst->thread = std::thread([this, raw] { Run(raw); });
  }
}

DynamicBatcher::~DynamicBatcher() { Stop(); }

void DynamicBatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& inst : instances_) {
    if (inst->thread.joinable()) inst->thread.join();
  }
}

size_t DynamicBatcher::queue_depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void DynamicBatcher::Submit(std::unique_ptr<InferRequest> request) {
  absl::Status status;
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      status = absl::UnavailableError("model version is unloading");
    } else {
      const bool was_empty = queue_.empty();
      status = queue_.Push(request, clock_->NowNs(), in_service_.load(std::memory_order_relaxed));
      if (status.ok()) {
        if (options_.metrics != nullptr) options_.metrics->SetQueueDepth(queue_.size());
        // Wake a waiting thread only when it has something new to decide: the first request (it
        // must arm its delay timer) or a batch that became releasable early.
        notify = idle_waiters_ > 0 && (was_empty || queue_.ReadyWithoutWaiting());
      }
    }
  }
  if (!status.ok()) {
    request->Complete(status, {});
    if (options_.metrics != nullptr) {
      options_.metrics->RecordRequest(false, clock_->NowNs() - request->start_ns, 0);
    }
    return;
  }
  if (notify) cv_.notify_one();
}

void DynamicBatcher::Run(Instance* instance) {
  instance->backend->AttachToThread();
  BatchQueue::Decision decision;
  std::unique_lock lock(mu_);
  while (true) {
    queue_.Next(clock_->NowNs(), stopping_, &decision);
    if (options_.metrics != nullptr) options_.metrics->SetQueueDepth(queue_.size());
    if (!decision.batch.empty() || !decision.expired.empty()) {
      in_service_.fetch_add(static_cast<int64_t>(decision.batch.size()), std::memory_order_relaxed);
      // Another thread may find more work while this one runs.
      if (!queue_.empty() && idle_waiters_ > 0) cv_.notify_one();
      lock.unlock();
      Execute(instance, &decision);
      lock.lock();
      continue;
    }
    if (stopping_ && queue_.empty()) break;
    ++idle_waiters_;
    if (decision.wake_ns == 0) {
      cv_.wait(lock);
    } else {
      const int64_t wait_ns = decision.wake_ns - clock_->NowNs();
      if (wait_ns > 0) cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
    }
    --idle_waiters_;
  }
}

void DynamicBatcher::Execute(Instance* instance, BatchQueue::Decision* d) {
  ModelMetrics* metrics = options_.metrics;
  const int64_t now_ns = clock_->NowNs();
  for (auto& r : d->expired) {
    r->Complete(absl::DeadlineExceededError("deadline passed while queued; not run"), {});
    if (metrics != nullptr)
      metrics->RecordRequest(false, now_ns - r->start_ns, now_ns - r->enqueue_ns);
  }
  d->expired.clear();
  if (d->batch.empty()) return;

  auto& batch = d->batch;
  const size_t input_count = batch.front()->inputs().size();
  std::array<TensorView, kModelTensorsMax> inputs;
  const bool batching = options_.queue.max_batch_size > 0;
  if (batch.size() == 1) {
    auto in = batch.front()->inputs();
    std::copy(in.begin(), in.end(), inputs.begin());
  } else {
    CORE_CHECK(batching);
    if (instance->scratch.size() < input_count) instance->scratch.resize(input_count);
    for (size_t i = 0; i < input_count; ++i) {
      size_t total = 0;
      for (const auto& r : batch) total += r->inputs()[i].bytes;
      auto& buf = instance->scratch[i];
      if (buf.size() < total) buf.resize(total);
      size_t offset = 0;
      for (const auto& r : batch) {
        const TensorView& v = r->inputs()[i];
        std::memcpy(buf.data() + offset, v.data, v.bytes);
        offset += v.bytes;
      }
      inputs[i] = batch.front()->inputs()[i];
      inputs[i].shape[0] = d->batch_rows;
      inputs[i].data = buf.data();
      inputs[i].bytes = total;
    }
  }

  const int64_t compute_start_ns = clock_->NowNs();
  absl::StatusOr<std::vector<Tensor>> outputs =
      instance->backend->Run(std::span<const TensorView>(inputs.data(), input_count));
  const int64_t compute_end_ns = clock_->NowNs();
  in_service_.fetch_sub(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
  if (metrics != nullptr) metrics->RecordBatch(d->batch_rows, compute_end_ns - compute_start_ns);

  absl::Status status = outputs.status();
  if (status.ok() && outputs->size() != options_.output_count) {
    status = absl::InternalError(fmt::format("model returned {} outputs, config declares {}",
                                             outputs->size(), options_.output_count));
  }
  if (status.ok() && batching) {
    for (const Tensor& t : *outputs) {
      if (t.view.shape.rank() == 0 || t.view.shape[0] != d->batch_rows) {
        status = absl::InternalError(fmt::format("model output shape {} does not have {} rows",
                                                 t.view.shape.ToString(), d->batch_rows));
        break;
      }
    }
  }
  std::array<TensorView, kModelTensorsMax> slice;
  int64_t row = 0;
  for (auto& r : batch) {
    if (status.ok()) {
      for (size_t k = 0; k < outputs->size(); ++k) {
        const TensorView& full = (*outputs)[k].view;
        slice[k] = full;
        if (batching) {
          const size_t row_bytes = full.bytes / static_cast<size_t>(d->batch_rows);
          slice[k].shape[0] = r->batch_rows;
          slice[k].data = full.data + static_cast<size_t>(row) * row_bytes;
          slice[k].bytes = static_cast<size_t>(r->batch_rows) * row_bytes;
        }
      }
      r->Complete(status, std::span<const TensorView>(slice.data(), outputs->size()));
    } else {
      r->Complete(status, {});
    }
    row += r->batch_rows;
    if (metrics != nullptr) {
      const int64_t done_ns = clock_->NowNs();
      metrics->RecordRequest(status.ok(), done_ns - r->start_ns, compute_start_ns - r->enqueue_ns);
    }
    r.reset();
  }
  batch.clear();
}

}  // namespace inference

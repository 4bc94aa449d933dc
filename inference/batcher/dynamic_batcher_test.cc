#include "inference/batcher/dynamic_batcher.h"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace inference {
namespace {

// Doubles every FP32 element; records batch sizes. Optionally blocks until released.
class DoublingBackend final : public Backend {
 public:
  absl::StatusOr<std::vector<Tensor>> Run(std::span<const TensorView> inputs) override {
    {
      std::unique_lock lock(mu);
      ++runs;
      rows.push_back(inputs[0].shape[0]);
      cv.notify_all();
      cv.wait(lock, [&] { return !blocked; });
    }
    auto buf = std::make_shared<std::vector<float>>(inputs[0].bytes / 4);
    const float* in = reinterpret_cast<const float*>(inputs[0].data);
    for (size_t i = 0; i < buf->size(); ++i) (*buf)[i] = 2 * in[i];
    Tensor t;
    t.view = inputs[0];
    t.view.data = reinterpret_cast<const char*>(buf->data());
    t.owner = buf;
    return std::vector<Tensor>{t};
  }
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  int runs = 0;
  std::vector<int64_t> rows;
};

class Call final : public InferRequest {
 public:
  Call(float value, std::promise<std::pair<absl::Status, float>>* done)
      : value_(value), done_(done) {
    set_input(
        0, TensorView{DataType::kFp32, Shape({1, 1}), reinterpret_cast<const char*>(&value_), 4});
  }
  void Complete(const absl::Status& s, std::span<const TensorView> outputs) override {
    float v = 0;
    if (s.ok()) std::memcpy(&v, outputs[0].data, 4);
    done_->set_value({s, v});
  }

 private:
  float value_;
  std::promise<std::pair<absl::Status, float>>* done_;
};

std::unique_ptr<DynamicBatcher> Make(DoublingBackend** backend, size_t queue_max = 64) {
  auto b = std::make_unique<DoublingBackend>();
  *backend = b.get();
  DynamicBatcherOptions o;
  o.queue.max_batch_size = 8;
  o.queue.max_queue_delay_ns = 0;
  o.queue.queue_size_max = queue_max;
  std::vector<std::unique_ptr<Backend>> instances;
  instances.push_back(std::move(b));
  auto r = DynamicBatcher::Create(std::move(o), std::move(instances));
  EXPECT_TRUE(r.ok());
  return *std::move(r);
}

TEST(DynamicBatcherTest, MergesWhileBusyAndSplitsResultsBack) {
  DoublingBackend* backend;
  auto batcher = Make(&backend);
  backend->blocked = true;
  std::vector<std::promise<std::pair<absl::Status, float>>> done(6);
  batcher->Submit(std::make_unique<Call>(0.5f, &done[0]));
  {
    std::unique_lock lock(backend->mu);
    backend->cv.wait(lock, [&] { return backend->runs == 1; });  // first batch is running
  }
  for (int i = 1; i < 6; ++i)
    batcher->Submit(std::make_unique<Call>(static_cast<float>(i), &done[i]));
  {
    std::lock_guard lock(backend->mu);
    backend->blocked = false;
  }
  backend->cv.notify_all();
  for (int i = 0; i < 6; ++i) {
    auto [s, v] = done[i].get_future().get();
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_FLOAT_EQ(v, i == 0 ? 1.0f : 2.0f * static_cast<float>(i));
  }
  batcher->Stop();
  EXPECT_EQ(backend->rows, (std::vector<int64_t>{1, 5}));
}

TEST(DynamicBatcherTest, FullQueueIsResourceExhaustedAndStopDrains) {
  DoublingBackend* backend;
  auto batcher = Make(&backend, /*queue_max=*/2);
  backend->blocked = true;
  std::vector<std::promise<std::pair<absl::Status, float>>> done(4);
  batcher->Submit(std::make_unique<Call>(1, &done[0]));
  {
    std::unique_lock lock(backend->mu);
    backend->cv.wait(lock, [&] { return backend->runs == 1; });
  }
  batcher->Submit(std::make_unique<Call>(2, &done[1]));
  batcher->Submit(std::make_unique<Call>(3, &done[2]));
  batcher->Submit(std::make_unique<Call>(4, &done[3]));  // queue holds 2: rejected inline
  EXPECT_EQ(done[3].get_future().get().first.code(), absl::StatusCode::kResourceExhausted);
  std::thread stopper([&] { batcher->Stop(); });
  {
    std::lock_guard lock(backend->mu);
    backend->blocked = false;
  }
  backend->cv.notify_all();
  stopper.join();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(done[i].get_future().get().first.ok());
  std::promise<std::pair<absl::Status, float>> late;
  batcher->Submit(std::make_unique<Call>(5, &late));
  EXPECT_EQ(late.get_future().get().first.code(), absl::StatusCode::kUnavailable);
}

TEST(DynamicBatcherTest, BackendFailureFailsEveryRequestOfTheBatch) {
  class Failing final : public Backend {
    absl::StatusOr<std::vector<Tensor>> Run(std::span<const TensorView>) override {
      return absl::InternalError("boom");
    }
  };
  std::vector<std::unique_ptr<Backend>> instances;
  instances.push_back(std::make_unique<Failing>());
  DynamicBatcherOptions o;
  o.queue.max_batch_size = 4;
  auto batcher = *DynamicBatcher::Create(std::move(o), std::move(instances));
  std::promise<std::pair<absl::Status, float>> done;
  batcher->Submit(std::make_unique<Call>(1, &done));
  EXPECT_EQ(done.get_future().get().first.code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace inference

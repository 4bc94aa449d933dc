#include "inference/batcher/batch_queue.h"

#include "core/clock/clock.h"
#include "gtest/gtest.h"

namespace inference {
namespace {

class TestRequest final : public InferRequest {
 public:
  explicit TestRequest(int id, int64_t rows = 1, int64_t width = 4) : id(id) {
    batch_rows = rows;
    set_input(0, TensorView{DataType::kFp32, Shape({rows, width}), nullptr,
                            static_cast<size_t>(rows * width * 4)});
  }
  void Complete(const absl::Status&, std::span<const TensorView>) override {}
  int id;
};

std::unique_ptr<InferRequest> Req(int id, int64_t rows = 1, int priority = 0,
                                  int64_t deadline_ns = 0, int64_t width = 4) {
  auto r = std::make_unique<TestRequest>(id, rows, width);
  r->priority_level = priority;
  r->deadline_ns = deadline_ns;
  return r;
}

std::vector<int> Ids(const std::vector<std::unique_ptr<InferRequest>>& batch) {
  std::vector<int> ids;
  for (const auto& r : batch) ids.push_back(static_cast<TestRequest*>(r.get())->id);
  return ids;
}

constexpr int64_t kUs = 1000;

BatchQueueOptions Options() {
  BatchQueueOptions o;
  o.max_batch_size = 8;
  o.max_queue_delay_ns = 100 * kUs;
  o.queue_size_max = 16;
  o.priority_levels = 3;
  return o;
}

TEST(BatchQueueTest, WaitsForTheDelayThenReleasesWhatIsThere) {
  core::FakeClock clock;
  BatchQueue q(Options());
  for (int i = 0; i < 3; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs()).ok());
  }
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_EQ(d.wake_ns, clock.NowNs() + 100 * kUs);
  clock.AdvanceNs(99 * kUs);
  q.Next(clock.NowNs(), false, &d);
  EXPECT_TRUE(d.batch.empty());
  clock.AdvanceNs(1 * kUs);
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(d.batch_rows, 3);
  EXPECT_TRUE(q.empty());
}

TEST(BatchQueueTest, FullBatchGoesAtOnceAndRespectsMaxRows) {
  core::FakeClock clock;
  BatchQueue q(Options());
  for (int i = 0; i < 5; ++i) {
    auto r = Req(i, 2);
    ASSERT_TRUE(q.Push(r, clock.NowNs()).ok());
  }
  EXPECT_TRUE(q.ReadyWithoutWaiting());
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(d.batch_rows, 8);
  EXPECT_EQ(q.size(), 1u);
}

TEST(BatchQueueTest, PreferredSizeCutsTheBatchEarly) {
  core::FakeClock clock;
  auto o = Options();
  o.preferred_batch_sizes = {2, 4};
  BatchQueue q(o);
  for (int i = 0; i < 3; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs()).ok());
  }
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0, 1}));
}

TEST(BatchQueueTest, HigherPriorityFirstFifoWithinALevel) {
  core::FakeClock clock;
  auto o = Options();
  o.max_batch_size = 3;
  BatchQueue q(o);
  int prio[] = {2, 1, 0, 1, 0};
  for (int i = 0; i < 5; ++i) {
    auto r = Req(i, 1, prio[i]);
    ASSERT_TRUE(q.Push(r, clock.NowNs()).ok());
  }
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{2, 4, 1}));
  q.Next(clock.NowNs(), true, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{3, 0}));
}

TEST(BatchQueueTest, ExpiredRequestsAreHandedBackNotBatched) {
  core::FakeClock clock;
  BatchQueue q(Options());
  auto a = Req(0, 1, 0, clock.NowNs() + 50 * kUs);
  auto b = Req(1);
  ASSERT_TRUE(q.Push(a, clock.NowNs()).ok());
  ASSERT_TRUE(q.Push(b, clock.NowNs()).ok());
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(d.wake_ns, clock.NowNs() + 50 * kUs);  // the deadline comes before the delay
  clock.AdvanceNs(50 * kUs);
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.expired), (std::vector<int>{0}));
  EXPECT_TRUE(d.batch.empty());
  EXPECT_EQ(q.size(), 1u);
  clock.AdvanceNs(50 * kUs);
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{1}));
}

TEST(BatchQueueTest, BoundedQueueAndInvalidRequests) {
  core::FakeClock clock;
  BatchQueue q(Options());
  for (int i = 0; i < 16; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs()).ok());
  }
  auto extra = Req(99);
  EXPECT_EQ(q.Push(extra, clock.NowNs()).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_NE(extra, nullptr);  // left with the caller
  BatchQueue q2(Options());
  auto big = Req(1, 9);
  EXPECT_EQ(q2.Push(big, clock.NowNs()).code(), absl::StatusCode::kInvalidArgument);
  auto prio = Req(1, 1, 3);
  EXPECT_EQ(q2.Push(prio, clock.NowNs()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchQueueTest, OnlyCompatibleShapesShareABatch) {
  core::FakeClock clock;
  BatchQueue q(Options());
  auto a = Req(0, 1, 0, 0, 4);
  auto b = Req(1, 1, 0, 0, 5);
  auto c = Req(2, 1, 0, 0, 4);
  ASSERT_TRUE(q.Push(a, clock.NowNs()).ok());
  ASSERT_TRUE(q.Push(b, clock.NowNs()).ok());
  ASSERT_TRUE(q.Push(c, clock.NowNs()).ok());
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), true, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0, 2}));
  q.Next(clock.NowNs(), true, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{1}));
}

TEST(BatchQueueTest, NonBatchingModelRunsOneRequestAtATime) {
  core::FakeClock clock;
  auto o = Options();
  o.max_batch_size = 0;
  BatchQueue q(o);
  for (int i = 0; i < 2; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs()).ok());
  }
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0}));
}

}  // namespace
}  // namespace inference

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

BatchQueueOptions AdaptiveOptions() {
  BatchQueueOptions o = Options();
  o.adaptive_release = true;
  return o;
}

TEST(BatchQueueTest, AdaptiveReleasesALoneRequestAtOnce) {
  // A serial client (concurrency 1): every request finds the system empty, so none waits for the
  // 100 us delay; with the static policy each one would.
  core::FakeClock clock;
  BatchQueue adaptive(AdaptiveOptions());
  BatchQueue fixed(Options());
  BatchQueue::Decision d;
  for (int i = 0; i < 20; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(adaptive.Push(r, clock.NowNs(), /*in_service=*/0).ok());
    adaptive.Next(clock.NowNs(), false, &d);
    ASSERT_EQ(Ids(d.batch), std::vector<int>{i});
    EXPECT_EQ(d.batch.front()->enqueue_ns, clock.NowNs());  // no queueing delay
    clock.AdvanceNs(30 * kUs);                              // run + round trip
  }
  EXPECT_EQ(adaptive.found_ewma(), 0);
  auto r = Req(99);
  ASSERT_TRUE(fixed.Push(r, clock.NowNs(), 0).ok());
  fixed.Next(clock.NowNs(), false, &d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_EQ(d.wake_ns, clock.NowNs() + 100 * kUs);
}

TEST(BatchQueueTest, AdaptiveWaitsForCompanyWhileArrivalsOverlap) {
  core::FakeClock clock;
  BatchQueue q(AdaptiveOptions());
  BatchQueue::Decision d;
  const int64_t t0 = clock.NowNs();
  // Load: arrivals find a batch of 4 running (and each other). found EWMA: 0.5, 1.0625, 1.6797.
  for (int i = 0; i < 3; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs(), /*in_service=*/4).ok());
    clock.AdvanceNs(10 * kUs);
  }
  EXPECT_GE(q.found_ewma(), kLoneArrivalFoundMax);
  EXPECT_FALSE(q.LightlyLoaded());
  // The instance that ran the batch comes back: it waits for company up to the delay, as the
  // static policy does.
  q.Next(clock.NowNs(), false, &d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_EQ(d.wake_ns, t0 + 100 * kUs);  // the oldest arrived at t0
  clock.SetNs(t0 + 100 * kUs);
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0, 1, 2}));

  // Load goes away: lone arrivals pull the average down (weight 1/8) until requests go at once.
  int waited = 0;
  for (int i = 10; i < 40; ++i) {
    clock.AdvanceNs(1000 * kUs);
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs(), 0).ok());
    q.Next(clock.NowNs(), false, &d);
    if (d.batch.empty()) {
      ++waited;
      clock.AdvanceNs(100 * kUs);
      q.Next(clock.NowNs(), false, &d);
      ASSERT_EQ(Ids(d.batch), std::vector<int>{i});
    }
  }
  // Each lone arrival scales the average by 7/8: 1.6797 * (7/8)^k < 0.5 from k = 10 on.
  EXPECT_EQ(waited, 9);
  EXPECT_TRUE(q.LightlyLoaded());
}

TEST(BatchQueueTest, AdaptiveStillFormsFullBatchesUnderLoad) {
  // Closed loop at concurrency 16 with max_batch_size 8: while a batch of 8 runs, the other 8
  // clients' requests arrive and find it running; every batch the instance takes is full.
  core::FakeClock clock;
  BatchQueue q(AdaptiveOptions());
  BatchQueue::Decision d;
  int next_id = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = Req(next_id++);
    ASSERT_TRUE(q.Push(r, clock.NowNs(), 0).ok());
  }
  for (int round = 0; round < 10; ++round) {
    q.Next(clock.NowNs(), false, &d);
    ASSERT_EQ(d.batch_rows, 8) << "round " << round;
    for (int i = 0; i < 8; ++i) {  // arrivals while the batch runs
      clock.AdvanceNs(5 * kUs);
      auto r = Req(next_id++);
      ASSERT_TRUE(q.Push(r, clock.NowNs(), /*in_service=*/8).ok());
    }
  }
  EXPECT_FALSE(q.LightlyLoaded());
}

TEST(BatchQueueTest, AdaptiveWakesAWaitingInstance) {
  core::FakeClock clock;
  BatchQueue q(AdaptiveOptions());
  auto r = Req(0);
  ASSERT_TRUE(q.Push(r, clock.NowNs(), 0).ok());
  EXPECT_TRUE(q.ReadyWithoutWaiting());
  BatchQueue fixed(Options());
  auto f = Req(1);
  ASSERT_TRUE(fixed.Push(f, clock.NowNs(), 0).ok());
  EXPECT_FALSE(fixed.ReadyWithoutWaiting());
}

// Continuous (generator steps): what is queued goes at once, whole (no cut at a preferred size),
// up to max_batch_size; an idle instance is woken for it; a cohort resubmitted while the batch ran
// forms the next batch together with a step that arrived meanwhile.
TEST(BatchQueueTest, ContinuousReleasesEverythingQueuedAtOnce) {
  core::FakeClock clock;
  auto o = Options();
  o.continuous = true;
  o.preferred_batch_sizes = {2, 4};  // not used
  BatchQueue q(o);
  for (int i = 0; i < 3; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs(), 3).ok());  // arrivals overlap: adaptive would wait
    EXPECT_TRUE(q.ReadyWithoutWaiting());
  }
  BatchQueue::Decision d;
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{0, 1, 2}));
  for (int i = 3; i < 13; ++i) {
    auto r = Req(i);
    ASSERT_TRUE(q.Push(r, clock.NowNs(), 3).ok());
  }
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10}));  // max_batch_size 8
  q.Next(clock.NowNs(), false, &d);
  EXPECT_EQ(Ids(d.batch), (std::vector<int>{11, 12}));
  q.Next(clock.NowNs(), false, &d);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_FALSE(q.ReadyWithoutWaiting());
}

}  // namespace
}  // namespace inference

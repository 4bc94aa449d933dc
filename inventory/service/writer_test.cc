#include "inventory/service/writer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "inventory/journal/fault_env.h"

namespace inventory {
namespace {

constexpr char kDir[] = "/data";

class TestSubmission final : public Submission {
 public:
  void Complete() override { done.set_value(results[0]); }
  std::promise<OpResult> done;
};

// What a batch submission held when it completed (the writer destroys it right after).
struct BatchReply {
  std::vector<OpResult> results;
  std::vector<uint32_t> failed_index;
  std::vector<OutcomeRun> outcomes;
};

class BatchSubmission final : public Submission {
 public:
  void Complete() override {
    done.set_value(BatchReply{
        {results.begin(), results.end()}, failed_index, {outcomes.begin(), outcomes.end()}});
  }
  std::promise<BatchReply> done;
};

class WriterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Writer> Open(WriterOptions options = {}) {
    auto w = Writer::Create(
        &env_,
        JournalOptions{.dir = kDir, .segment_bytes_max = 1 << 20, .prepare_in_background = false},
        EngineLimits{}, options, &clock_, nullptr);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::future<OpResult> Start(Writer* w, Operation op) {
    auto s = std::make_unique<TestSubmission>();
    s->ops.push_back(std::move(op));
    auto f = s->done.get_future();
    w->Submit(std::move(s));
    return f;
  }
  OpResult Run(Writer* w, Operation op) { return Start(w, std::move(op)).get(); }
  // Polls `done` for up to 10 s.
  static bool Eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }
  BatchReply RunBatch(Writer* w, std::vector<Operation> ops, ResultMode mode) {
    auto s = std::make_unique<BatchSubmission>();
    s->result_mode = mode;
    for (Operation& op : ops) s->ops.push_back(std::move(op));
    auto f = s->done.get_future();
    w->Submit(std::move(s));
    return f.get();
  }
  // Seqs of the snapshot files in the journal directory.
  std::vector<uint64_t> SnapshotSeqs() {
    std::vector<uint64_t> seqs;
    auto names = env_.ListDir(kDir);
    EXPECT_TRUE(names.ok());
    for (const std::string& name : *names) {
      if (name.starts_with("snapshot-") && name.ends_with(".snap")) {
        seqs.push_back(std::stoull(name.substr(9, 20)));
      }
    }
    return seqs;
  }
  static Operation Cancel(std::string id) {
    Operation op;
    op.kind = OpKind::kCancel;
    op.reservation_id = std::move(id);
    return op;
  }
  static Operation Adjust(std::string sku, int64_t delta, std::string op_id) {
    Operation op;
    op.kind = OpKind::kAdjust;
    op.sku = std::move(sku);
    op.delta = delta;
    op.op_id = std::move(op_id);
    return op;
  }
  static Operation Reserve(std::string id, std::string sku, int64_t qty, int64_t ttl_ms) {
    Operation op;
    op.kind = OpKind::kReserve;
    op.reservation_id = std::move(id);
    op.items.push_back({std::move(sku), qty});
    op.ttl_ms = ttl_ms;
    return op;
  }
  static Operation GetSku(std::string sku) {
    Operation op;
    op.kind = OpKind::kGetSku;
    op.sku = std::move(sku);
    return op;
  }
  void StartTwoRoundsFirstSyncHeld(Writer* w, std::future<OpResult>* first,
                                   std::future<OpResult>* second);
  FaultEnv env_;
  core::FakeClock clock_;
};

TEST_F(WriterTest, ConcurrentReservationsNeverOversellAndSurviveRestart) {
  auto w = Open();
  ASSERT_EQ(Run(w.get(), Adjust("hot", 1000, "seed")).outcome, Outcome::kOk);
  constexpr int kThreads = 8, kPerThread = 200;
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        OpResult r = Run(w.get(), Reserve(fmt::format("r{}-{}", t, i), "hot", 1, 60'000));
        if (r.outcome == Outcome::kCreated) {
          ++created;
        } else {
          EXPECT_EQ(r.outcome, Outcome::kInsufficientStock);
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1000);
  EXPECT_EQ(refused.load(), kThreads * kPerThread - 1000);
  // Group commit: far fewer fsyncs than operations.
  EXPECT_LT(env_.syncs(), static_cast<uint64_t>(kThreads * kPerThread));
  w->Stop();
  w = Open();
  OpResult sku = Run(w.get(), GetSku("hot"));
  EXPECT_EQ(sku.sku.available, 0);
  EXPECT_EQ(sku.sku.reserved, 1000);
}

TEST_F(WriterTest, CrashLosesNothingAcknowledged) {
  auto w = Open(WriterOptions{.snapshot_on_stop = false});
  ASSERT_EQ(Run(w.get(), Adjust("a", 100, "seed")).outcome, Outcome::kOk);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(Run(w.get(), Reserve(fmt::format("r{}", i), "a", 1, 60'000)).outcome,
              Outcome::kCreated);
  }
  w->Stop();
  std::mt19937_64 rng(1);
  env_.Crash(&rng, true);
  w = Open();
  EXPECT_EQ(Run(w.get(), GetSku("a")).sku.reserved, 50);
  EXPECT_EQ(Run(w.get(), Reserve("r7", "a", 1, 60'000)).outcome, Outcome::kReplayed);
}

TEST_F(WriterTest, JournalFailureAnswersUnavailableNeverSuccess) {
  auto w = Open();
  ASSERT_EQ(Run(w.get(), Adjust("a", 10, "seed")).outcome, Outcome::kOk);
  env_.FailNextSyncs(1);
  EXPECT_EQ(Run(w.get(), Reserve("r1", "a", 1, 60'000)).outcome, Outcome::kUnavailable);
  EXPECT_FALSE(w->healthy());
  EXPECT_EQ(Run(w.get(), Reserve("r2", "a", 1, 60'000)).outcome, Outcome::kUnavailable);
  EXPECT_EQ(Run(w.get(), GetSku("a")).outcome, Outcome::kUnavailable);
  w->Stop();
  // After restart the unacknowledged reservation may or may not be there; stock is consistent.
  w = Open();
  OpResult sku = Run(w.get(), GetSku("a"));
  EXPECT_EQ(sku.sku.available + sku.sku.reserved, 10);
}

// Overlapped fdatasyncs (syncs_in_flight): a round whose sync returned first still waits for every
// earlier round's sync before it is answered, so no reply reflects state that is not durable.
// Two reservations on SKU "a" (stock 10) in two rounds: the first round's sync held back by the
// env, the second's returned (the writer runs two syncs in flight).
void WriterTest::StartTwoRoundsFirstSyncHeld(Writer* w, std::future<OpResult>* first,
                                             std::future<OpResult>* second) {
  ASSERT_EQ(Run(w, Adjust("a", 10, "seed")).outcome, Outcome::kOk);
  env_.HoldNextSync();
  *first = Start(w, Reserve("r1", "a", 1, 60'000));
  ASSERT_TRUE(Eventually([&] { return env_.sync_held(); }));
  const uint64_t syncs = env_.syncs();
  *second = Start(w, Reserve("r2", "a", 1, 60'000));
  ASSERT_TRUE(Eventually([&] { return env_.syncs() > syncs; }));
}

TEST_F(WriterTest, OverlappedSyncsAnswerInOrderAfterEveryEarlierSync) {
  auto w = Open(WriterOptions{.syncs_in_flight = 2});
  std::future<OpResult> first, second;
  ASSERT_NO_FATAL_FAILURE(StartTwoRoundsFirstSyncHeld(w.get(), &first, &second));
  // The second round's sync returned while the first one's is held, but it is not answered first.
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  env_.ReleaseHeldSync(/*fail=*/false);
  EXPECT_EQ(first.get().outcome, Outcome::kCreated);
  EXPECT_EQ(second.get().outcome, Outcome::kCreated);
  EXPECT_TRUE(w->healthy());
  EXPECT_EQ(Run(w.get(), GetSku("a")).sku.reserved, 2);
}

// An earlier round's failed sync fails the later rounds too, even when their own syncs succeeded:
// after an fdatasync error nothing unacknowledged is known to be on disk.
TEST_F(WriterTest, OverlappedSyncFailureFailsEveryLaterRound) {
  auto w = Open(WriterOptions{.syncs_in_flight = 2});
  std::future<OpResult> first, second;
  ASSERT_NO_FATAL_FAILURE(StartTwoRoundsFirstSyncHeld(w.get(), &first, &second));
  env_.ReleaseHeldSync(/*fail=*/true);
  EXPECT_EQ(first.get().outcome, Outcome::kUnavailable);
  EXPECT_EQ(second.get().outcome, Outcome::kUnavailable);
  EXPECT_FALSE(w->healthy());
  EXPECT_EQ(Run(w.get(), GetSku("a")).outcome, Outcome::kUnavailable);
}

TEST_F(WriterTest, ExpiryReturnsStockWithoutTraffic) {
  core::Registry registry;
  InventoryMetrics metrics(&registry);
  auto created = Writer::Create(
      &env_,
      JournalOptions{.dir = kDir, .segment_bytes_max = 1 << 20, .prepare_in_background = false},
      EngineLimits{}, WriterOptions{}, &clock_, &metrics);
  ASSERT_TRUE(created.ok());
  auto w = std::move(*created);
  ASSERT_EQ(Run(w.get(), Adjust("a", 5, "seed")).outcome, Outcome::kOk);
  ASSERT_EQ(Run(w.get(), Reserve("r1", "a", 5, 100)).outcome, Outcome::kCreated);
  EXPECT_EQ(metrics.reservations_pending.Value(), 1);
  clock_.AdvanceMs(100);
  // No operation is sent: the writer's own expiry tick (every expiry_interval_ms) must release it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (metrics.reservations_pending.Value() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(metrics.reservations_pending.Value(), 0);
  EXPECT_EQ(Run(w.get(), GetSku("a")).sku.available, 5);
  Operation get;
  get.kind = OpKind::kGetReservation;
  get.reservation_id = "r1";
  EXPECT_EQ(Run(w.get(), get).reservation.state, ReservationState::kExpired);
}

TEST_F(WriterTest, QueueFullIsOverloaded) {
  auto w = Open(WriterOptions{.queue_depth_max = 1});
  // Flood from several threads; some must be refused with kOverloaded, none lost.
  std::atomic<int> ok{0}, overloaded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        OpResult r = Run(w.get(), GetSku("nope"));
        (r.outcome == Outcome::kOverloaded ? overloaded : ok)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok + overloaded, 2000);
}

TEST_F(WriterTest, FailuresModeReportsOnlyFailuresAndAppliesEverything) {
  auto w = Open(WriterOptions{.snapshot_on_stop = false});
  ASSERT_EQ(Run(w.get(), Adjust("a", 3, "seed-a")).outcome, Outcome::kOk);
  ASSERT_EQ(Run(w.get(), Adjust("b", 3, "seed-b")).outcome, Outcome::kOk);
  // The same ops on SKU "a" with every result and on SKU "b" with failures only.
  auto batch = [](const std::string& sku) {
    return std::vector<Operation>{
        Reserve(sku + "-r1", sku, 2, 60'000),  // created
        Reserve(sku + "-r2", sku, 1, 60'000),  // created
        Reserve(sku + "-r3", sku, 1, 60'000),  // insufficient_stock (0 left)
        Cancel(sku + "-r2"),                   // ok: 1 back
        Reserve(sku + "-r1", sku, 2, 60'000),  // replayed: a success
        Reserve(sku + "-r1", sku, 1, 60'000),  // reservation_conflict
        Cancel(sku + "-never"),                // ok: tombstone
    };
  };
  BatchReply all = RunBatch(w.get(), batch("a"), ResultMode::kAll);
  BatchReply failures = RunBatch(w.get(), batch("b"), ResultMode::kFailures);
  ASSERT_EQ(all.results.size(), 7u);
  EXPECT_TRUE(all.failed_index.empty());
  ASSERT_EQ(failures.results.size(), 2u);
  EXPECT_EQ(failures.failed_index, (std::vector<uint32_t>{2, 5}));
  EXPECT_EQ(failures.results[0].outcome, Outcome::kInsufficientStock);
  EXPECT_EQ(failures.results[0].sku.sku, "b");
  EXPECT_EQ(failures.results[0].sku.available, 0);
  EXPECT_EQ(failures.results[1].outcome, Outcome::kReservationConflict);
  for (size_t j = 0; j < 2; ++j) {
    const OpResult& full = all.results[failures.failed_index[j]];
    EXPECT_EQ(full.outcome, failures.results[j].outcome);
    EXPECT_EQ(full.message, failures.results[j].message);
  }
  for (size_t i : {0, 1, 3, 4, 6}) EXPECT_TRUE(IsSuccess(all.results[i].outcome)) << i;
  // Same outcomes for the metrics in both modes, run-length encoded.
  ASSERT_EQ(all.outcomes.size(), failures.outcomes.size());
  for (size_t i = 0; i < all.outcomes.size(); ++i) {
    EXPECT_EQ(all.outcomes[i].kind, failures.outcomes[i].kind);
    EXPECT_EQ(all.outcomes[i].outcome, failures.outcomes[i].outcome);
    EXPECT_EQ(all.outcomes[i].count, failures.outcomes[i].count);
  }
  ASSERT_EQ(all.outcomes.size(), 6u);
  EXPECT_EQ(all.outcomes[0].count, 2u);  // two reserves created
  // Successes are journalled exactly as in the default mode: same state, also after a crash.
  w->Stop();
  std::mt19937_64 rng(3);
  env_.Crash(&rng, true);
  w = Open();
  const OpResult a = Run(w.get(), GetSku("a"));
  const OpResult b = Run(w.get(), GetSku("b"));
  EXPECT_EQ(b.sku.available, a.sku.available);
  EXPECT_EQ(b.sku.reserved, a.sku.reserved);
  EXPECT_EQ(b.sku.version, a.sku.version);
  EXPECT_EQ(b.sku.available, 1);
  EXPECT_EQ(b.sku.reserved, 2);
  EXPECT_EQ(Run(w.get(), Reserve("b-never", "b", 1, 60'000)).outcome,
            Outcome::kReservationCancelled);
}

TEST_F(WriterTest, FailuresModeWholeBatchFailureReportsEveryOp) {
  auto w = Open();
  ASSERT_EQ(Run(w.get(), Adjust("a", 10, "seed")).outcome, Outcome::kOk);
  env_.FailNextSyncs(1);
  BatchReply r = RunBatch(w.get(), {Reserve("r1", "a", 1, 60'000), Reserve("r2", "a", 1, 60'000)},
                          ResultMode::kFailures);
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.failed_index, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(r.results[0].outcome, Outcome::kUnavailable);
  EXPECT_EQ(r.results[1].outcome, Outcome::kUnavailable);
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_EQ(r.outcomes[0].outcome, Outcome::kUnavailable);
  EXPECT_EQ(r.outcomes[0].count, 2u);
}

TEST_F(WriterTest, SnapshotIntervalGrowsWithTheState) {
  // An interval of 1 byte: under a fixed interval every round would write a snapshot.
  auto w = Open(WriterOptions{.snapshot_interval_bytes = 1, .snapshot_on_stop = false});
  ASSERT_EQ(Run(w.get(), Adjust("a", 1'000'000, "seed")).outcome, Outcome::kOk);  // record 1
  std::vector<Operation> big;
  for (int i = 0; i < 2000; ++i) big.push_back(Reserve(fmt::format("big-{}", i), "a", 1, 60'000));
  ASSERT_TRUE(RunBatch(w.get(), big, ResultMode::kFailures).results.empty());  // record 2
  EXPECT_EQ(SnapshotSeqs(), (std::vector<uint64_t>{2}));
  // Far fewer journal bytes than the 2000-reservation snapshot: no new snapshot.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Run(w.get(), Reserve(fmt::format("small-{}", i), "a", 1, 60'000)).outcome,
              Outcome::kCreated);
  }
  EXPECT_EQ(SnapshotSeqs(), (std::vector<uint64_t>{2}));
  // Once the journal has grown by the snapshot's size, the next one is written (record 23).
  std::vector<Operation> more;
  for (int i = 0; i < 4000; ++i) {
    more.push_back(Reserve(fmt::format("more-{}", i), "a", 1, 60'000));
  }
  ASSERT_TRUE(RunBatch(w.get(), more, ResultMode::kFailures).results.empty());
  EXPECT_EQ(SnapshotSeqs(), (std::vector<uint64_t>{23}));
  w->Stop();
  w = Open();
  EXPECT_EQ(Run(w.get(), GetSku("a")).sku.reserved, 6020);
}

}  // namespace
}  // namespace inventory

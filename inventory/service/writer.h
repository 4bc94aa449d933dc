#pragma once
// Writer: the single owner of the Engine and the Journal, with group commit and pipelining.
//
//   network threads --Submit--> [bounded MPSC queue] --> writer thread: apply ops to the Engine,
//       encode the mutating ones --> [sync inbox] --> sync thread: one journal record per round,
//       ONE fdatasync, then Complete() every submission of the round.
//
// Pipelining: while the sync thread waits for fdatasync of round N, the writer thread keeps
// applying the next submissions into round N+1 (the inbox merges them), so the engine never idles
// on the disk. In kAlways mode there are WriterOptions::syncs_in_flight sync threads: one at a
// time takes the inbox and appends it (records stay in order), then fdatasyncs outside the lock,
// overlapping the others' fdatasyncs; rounds are answered strictly in the order they were taken.
// Replies of round N+1 are sent only after its own fsync, and rounds are written in order, so no
// reply ever reflects state that is not durable. Reads (GET) travel the same path for
// the same reason.
//
// Durability modes (WriterOptions::fsync):
//   kAlways   reply after fdatasync (default). Loses nothing that was acknowledged.
//   kPeriodic reply after write(); fdatasync every fsync_interval_ms. Survives a process crash
//             (kill -9); a power loss or kernel crash loses up to fsync_interval_ms of acknowledged
//             ops.
//   kNone     reply after write(); never fdatasync. Survives kill -9; a power loss may lose
//   anything
//             the kernel had not written back and may even corrupt older segments (refused at
//             start).
//
// Failure: a failed journal write or fsync answers every unacknowledged submission with
// kUnavailable (HTTP 503) and stops the writer for good (like PostgreSQL after an fsync error):
// what reached the disk is unknown, so only a restart (recovery from the journal) may continue.
// healthy() turns false.
//
// Snapshots: once enough journal has accumulated (WriterOptions::snapshot_interval_bytes), the
// writer thread streams the engine state to a new snapshot file (Journal::StartSnapshot) in
// kSnapshotChunkBytes pieces, right after applying a round, and seals that round with it; the sync
// thread commits the snapshot (Journal::CommitSnapshot) after the round's record is durable.
//
// Results: a submission in ResultMode::kFailures is applied and journalled exactly like one in
// kAll; only the failed ops leave a result (submission.h).
//
// Expiry runs on the writer thread, which wakes at least every expiry_interval_ms while
// reservations are pending. Expiry is not journalled: it is a function of time, and every
// journalled operation carries the engine time it was applied at, so replay expires exactly the
// same reservations.
//
// Thread safety: Submit() from any thread; Start()/Stop() from one controlling thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "inventory/engine/engine.h"
#include "inventory/journal/journal.h"
#include "inventory/service/inventory_metrics.h"
#include "inventory/service/submission.h"

namespace inventory {

enum class FsyncMode { kAlways, kPeriodic, kNone };
absl::StatusOr<FsyncMode> ParseFsyncMode(std::string_view name);  // "always" | "periodic" | "none"

inline constexpr size_t kWriterQueueDepthMax = 100'000;  // submissions waiting for the writer
inline constexpr size_t kWriterRoundOpsMax = 65'536;     // ops applied per writer round
inline constexpr size_t kSyncInboxOpsMax = 4 * 65'536;   // ops applied but not yet durable
// Journal payload buffers kept for reuse once written, and the largest one kept (bigger ones are
// freed). A fresh multi-MiB buffer per round faults all its pages in again: measured ~4% of the
// writer thread at 250k reservations/s.
inline constexpr size_t kSparePayloadsMax = 4;
inline constexpr size_t kSparePayloadBytesMax = 16u << 20;
// The writer asks the engine to prefetch the table entries of the op this many ahead of the one
// it applies (Engine::Prefetch).
inline constexpr size_t kApplyPrefetchOps = 4;
// A snapshot is streamed to its file in pieces of this size.
inline constexpr size_t kSnapshotChunkBytes = 1u << 20;
inline constexpr int kSyncsInFlightMax = 8;

struct WriterOptions {
  FsyncMode fsync = FsyncMode::kAlways;
  int64_t fsync_interval_ms = 1000;  // kPeriodic
  size_t queue_depth_max = kWriterQueueDepthMax;
  // Journal bytes between snapshots, at least: ~16 MiB is ~250k reservations, which replay in well
  // under a second. A snapshot is also never written before the journal since the previous one has
  // grown to that snapshot's size: a snapshot costs O(state), so a fixed interval would make the
  // snapshot cost per operation grow with the state (at 3M reservations a 16 MiB interval spent
  // more CPU serialising snapshots than applying operations). Restart time stays bounded by
  // O(state): load one snapshot, replay at most as many journal bytes again.
  uint64_t snapshot_interval_bytes = 16ull << 20;
  int64_t expiry_interval_ms = 10;
  bool snapshot_on_stop = true;
  // kAlways: how long the sync thread may hold a round back to let it grow (0: never). It waits
  // only while the round holds fewer than half the submissions it expects soon: those in flight
  // (submitted, not yet answered) plus those it just answered, whose clients are likely to come
  // right back (a closed loop). A lone client (1 in flight) never waits; at 64 closed-loop clients
  // rounds settle near 32 instead of whatever arrived during one fdatasync. Each fdatasync costs
  // the machine far more than an operation (measured on this VM: ~0.2 ms of CPU, virtio kicks and
  // the block completion), so fewer, larger rounds leave more CPU for operations. Default off: with
  // overlapped syncs and SCHED_BATCH it measured no better (docs/benchmarks.md).
  int64_t commit_wait_us = 0;
  // kAlways: fdatasyncs in flight at once (one per sync thread). Round N+1 is written and its
  // fdatasync started while round N's is still running (measured on the dev VM's virtio disk: two
  // concurrent O_DSYNC 4 KiB writes complete 1.65x as many per second as one at a time). Rounds are
  // still appended in order and answered in order, each only after its own fdatasync AND every
  // earlier round's, so no reply reflects state that is not durable. A crash between two such syncs
  // can leave a later round on disk behind a torn earlier one: recovery treats it as the torn tail
  // it is (nothing of it was acknowledged). Rolling to a new segment syncs the old one first, so
  // this never spans two segments.
  int syncs_in_flight = 2;
};

// Recovers the engine from `journal_options.dir` (snapshot + journal) without starting anything.
struct RecoveredState {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Journal> journal;
  RecoveryStats stats;
};
absl::StatusOr<RecoveredState> RecoverState(Env* env, const JournalOptions& journal_options,
                                            const EngineLimits& limits);
// Journal payload of a round: the encoded operations back to back (see op_codec.h).
absl::Status ApplyJournalPayload(std::string_view payload, Engine* engine);

class Writer {
 public:
  // Recovers the state and starts the writer and sync threads. `clock` and `metrics` must outlive
  // the writer; `metrics` may be null.
  static absl::StatusOr<std::unique_ptr<Writer>> Create(Env* env, JournalOptions journal_options,
                                                        EngineLimits limits, WriterOptions options,
                                                        core::Clock* clock,
                                                        InventoryMetrics* metrics);
  ~Writer();  // Stop()s

  // Queues `s`. Complete() is always called exactly once: later on the sync thread, or right here
  // with kOverloaded (queue full) or kUnavailable (stopped or failed) for every op.
  void Submit(std::unique_ptr<Submission> s);

  // Applies what is queued, makes it durable, answers it, writes a final snapshot, joins the
  // threads. Idempotent. Submissions arriving afterwards are answered kUnavailable.
  void Stop();

  bool healthy() const { return !failed_.load(std::memory_order_acquire); }
  const RecoveryStats& recovery_stats() const { return recovery_stats_; }
  size_t queue_depth() const;

 private:
  struct Round {
    std::string payload;  // encoded mutating ops
    std::vector<std::unique_ptr<Submission>> submissions;
    size_t ops = 0;
    // Engine state after this round, already streamed to its file by the writer thread; the sync
    // thread commits it once the round's record is durable. Seals the round.
    std::unique_ptr<PendingSnapshot> snapshot;
  };

  Writer(std::unique_ptr<Engine> engine, std::unique_ptr<Journal> journal, WriterOptions options,
         core::Clock* clock, InventoryMetrics* metrics);
  void WriterLoop();
  void SyncLoop();
  void ApplyRound(std::vector<std::unique_ptr<Submission>>* taken);
  // The state gauges (quantities, pending reservations, SKUs) from the engine. Writer thread.
  void UpdateStateMetrics();
  void HandOff(Round round);
  // The sync thread holding a round back (commit_wanted_) may stop waiting. inbox_mu_ held, inbox
  // not empty.
  bool CommitWaitOverLocked() const;
  // Poisons the journal with a sync failure another thread recorded, if any. append_mu_ held.
  void ApplySyncFailureLocked();
  // Streams the engine state into a new snapshot file; null (logged) when that failed.
  std::unique_ptr<PendingSnapshot> StartSnapshot();
  void FailAll(std::vector<std::unique_ptr<Submission>>* subs, Outcome outcome);
  // Any thread.
  std::string TakePayloadBuffer();
  void RecyclePayloadBuffer(std::string buffer);
  void CompleteAll(std::vector<std::unique_ptr<Submission>>* subs);

  const WriterOptions options_;
  core::Clock* const clock_;
  InventoryMetrics* const metrics_;
  RecoveryStats recovery_stats_;

  // Writer thread only.
  std::unique_ptr<Engine> engine_;
  uint64_t bytes_since_snapshot_ = 0;
  uint64_t last_snapshot_bytes_ = 0;  // size of the newest snapshot (0: none written yet)
  OpResult scratch_result_;           // ResultMode::kFailures: the result of the current op
  std::string snapshot_chunk_;        // reused piece of the snapshot being streamed

  // Sync threads, under append_mu_ (after construction), except Journal::StartSnapshot (writer
  // thread) and the fdatasync of Journal::active_segment() (outside it).
  std::mutex append_mu_;
  std::unique_ptr<Journal> journal_;
  int64_t last_sync_ns_ = 0;
  bool unsynced_ = false;
  uint64_t next_ticket_ = 1;  // rounds taken from the inbox, in append order

  // Rounds are answered in ticket order.
  std::mutex turn_mu_;
  std::condition_variable turn_cv_;
  uint64_t answered_ticket_ = 0;  // guarded by turn_mu_

  // For the commit wait's estimate of what is in flight.
  std::atomic<uint64_t> submitted_{0};    // accepted by Submit
  std::atomic<uint64_t> answered_{0};     // answered by the sync threads
  std::atomic<size_t> last_answered_{0};  // submissions of the last round answered

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Submission>> queue_;  // guarded by queue_mu_
  bool stopping_ = false;                          // guarded by queue_mu_

  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;        // sync thread waits for work
  std::condition_variable inbox_space_cv_;  // writer waits for room
  std::deque<Round> inbox_;                 // guarded by inbox_mu_
  size_t inbox_ops_ = 0;                    // guarded by inbox_mu_
  size_t inbox_submissions_ = 0;            // guarded by inbox_mu_
  // The sync thread is holding a round back until the inbox holds this many submissions (0: not
  // waiting); HandOff wakes it only once that is reached.  Guarded by inbox_mu_.
  size_t commit_wanted_ = 0;
  bool writer_done_ = false;  // guarded by inbox_mu_
  // A failed overlapped fdatasync, not yet applied to the journal: the thread that saw it cannot
  // take append_mu_ (another sync thread may hold it while waiting for work, and that work waits
  // for this thread's answer), so the next thread to append poisons the journal with it. Its own
  // round and every later one fail through failed_ (answers go in ticket order).
  absl::Status sync_failure_;  // guarded by inbox_mu_

  std::mutex spare_mu_;                      // after inbox_mu_ when both are held
  std::vector<std::string> spare_payloads_;  // guarded by spare_mu_; empty, capacity kept

  std::atomic<bool> failed_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::thread writer_thread_;
  std::vector<std::thread> sync_threads_;
};

}  // namespace inventory

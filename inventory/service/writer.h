#pragma once
// Writer: the single owner of the Engine and the Journal, with group commit and pipelining.
//
//   network threads --Submit--> [bounded MPSC queue] --> writer thread: apply ops to the Engine,
//       encode the mutating ones --> [sync inbox] --> sync thread: one journal record per round,
//       ONE fdatasync, then Complete() every submission of the round.
//
// Pipelining: while the sync thread waits for fdatasync of round N, the writer thread keeps
// applying the next submissions into round N+1 (the inbox merges them), so the engine never idles
// on the disk. Replies of round N+1 are sent only after its own fsync, and rounds are written in
// order, so no reply ever reflects state that is not durable. Reads (GET) travel the same path for
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
// Expiry runs on the writer thread, which wakes at least every expiry_interval_ms while
// reservations are pending. Expiry is not journalled: it is a function of time, and every
// journalled operation carries the engine time it was applied at, so replay expires exactly the
// same reservations.
//
// Thread safety: Submit() from any thread; Start()/Stop() from one controlling thread.

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

struct WriterOptions {
  FsyncMode fsync = FsyncMode::kAlways;
  int64_t fsync_interval_ms = 1000;  // kPeriodic
  size_t queue_depth_max = kWriterQueueDepthMax;
  // Journal bytes between snapshots: ~16 MiB is ~400k reservations, which replay in about a second,
  // so a restart after a crash stays well under 3 s.
  uint64_t snapshot_interval_bytes = 16ull << 20;
  int64_t expiry_interval_ms = 10;
  bool snapshot_on_stop = true;
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
    std::optional<std::string> snapshot;  // engine state after this round (seals the round)
  };

  Writer(std::unique_ptr<Engine> engine, std::unique_ptr<Journal> journal, WriterOptions options,
         core::Clock* clock, InventoryMetrics* metrics);
  void WriterLoop();
  void SyncLoop();
  void ApplyRound(std::vector<std::unique_ptr<Submission>>* taken);
  void HandOff(Round round);
  void FailAll(std::vector<std::unique_ptr<Submission>>* subs, Outcome outcome);
  void CompleteAll(std::vector<std::unique_ptr<Submission>>* subs);

  const WriterOptions options_;
  core::Clock* const clock_;
  InventoryMetrics* const metrics_;
  RecoveryStats recovery_stats_;

  // Writer thread only.
  std::unique_ptr<Engine> engine_;
  uint64_t bytes_since_snapshot_ = 0;

  // Sync thread only (after construction).
  std::unique_ptr<Journal> journal_;
  int64_t last_sync_ns_ = 0;
  bool unsynced_ = false;

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Submission>> queue_;  // guarded by queue_mu_
  bool stopping_ = false;                          // guarded by queue_mu_

  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;        // sync thread waits for work
  std::condition_variable inbox_space_cv_;  // writer waits for room
  std::deque<Round> inbox_;                 // guarded by inbox_mu_
  size_t inbox_ops_ = 0;                    // guarded by inbox_mu_
  bool writer_done_ = false;                // guarded by inbox_mu_

  std::atomic<bool> failed_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::thread writer_thread_;
  std::thread sync_thread_;
};

}  // namespace inventory

#include "inventory/service/writer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "core/log/check.h"
#include "core/status/status_macros.h"
#include "inventory/engine/op_codec.h"
#include "inventory/engine/validate.h"

namespace inventory {

absl::StatusOr<FsyncMode> ParseFsyncMode(std::string_view name) {
  if (name == "always") return FsyncMode::kAlways;
  if (name == "periodic") return FsyncMode::kPeriodic;
  if (name == "none") return FsyncMode::kNone;
  return absl::InvalidArgumentError(
      fmt::format("fsync mode '{}': expected one of always, periodic, none", name));
}

absl::Status ApplyJournalPayload(std::string_view payload, Engine* engine) {
  wire::WireReader in(payload);
  Operation op;
  OpResult result;
  while (!in.empty()) {
    int64_t now_ms = 0;
    RETURN_IF_ERROR(DecodeOperation(&in, &op, &now_ms));
    if (auto e = ValidateOperation(op)) {
      return absl::DataLossError(
          fmt::format("journal: invalid operation ({}: {})", e->field, e->message));
    }
    engine->Apply(op, now_ms, &result, ResultDetail::kOutcomeOnly);
  }
  return absl::OkStatus();
}

absl::StatusOr<RecoveredState> RecoverState(Env* env, const JournalOptions& journal_options,
                                            const EngineLimits& limits) {
  RecoveredState state;
  state.engine = std::make_unique<Engine>(limits);
  auto journal = Journal::Open(
      env, journal_options,
      [&](std::string_view snapshot, uint64_t) -> absl::Status {
        ASSIGN_OR_RETURN(state.engine, Engine::Restore(snapshot, limits));
        return absl::OkStatus();
      },
      [&](std::string_view payload, uint64_t seq) -> absl::Status {
        if (auto s = ApplyJournalPayload(payload, state.engine.get()); !s.ok()) {
          return absl::DataLossError(fmt::format("record {}: {}", seq, s.ToString()));
        }
        return absl::OkStatus();
      },
      &state.stats);
  if (!journal.ok()) return journal.status();
  state.journal = std::move(*journal);
  return state;
}

absl::StatusOr<std::unique_ptr<Writer>> Writer::Create(Env* env, JournalOptions journal_options,
                                                       EngineLimits limits, WriterOptions options,
                                                       core::Clock* clock,
                                                       InventoryMetrics* metrics) {
  if (options.queue_depth_max == 0 || options.expiry_interval_ms <= 0 ||
      options.fsync_interval_ms <= 0) {
    return absl::InvalidArgumentError("writer: queue_depth_max, intervals must be > 0");
  }
  if (options.commit_wait_us < 0) {
    return absl::InvalidArgumentError("writer: commit_wait_us must be >= 0");
  }
  if (options.syncs_in_flight < 1 || options.syncs_in_flight > kSyncsInFlightMax) {
    return absl::InvalidArgumentError(
        fmt::format("writer: syncs_in_flight must be in [1, {}]", kSyncsInFlightMax));
  }
  const int64_t start_ns = clock->NowNs();
  ASSIGN_OR_RETURN(RecoveredState state, RecoverState(env, journal_options, limits));
  spdlog::info(
      "recovered {} SKUs, {} reservations ({} pending) in {:.3f} s: snapshot at record {}, "
      "{} records replayed, torn tails truncated: {} ({} bytes)",
      state.engine->sku_count(), state.engine->reservation_count(), state.engine->pending_count(),
      (clock->NowNs() - start_ns) / 1e9, state.stats.snapshot_seq, state.stats.records_replayed,
      state.stats.torn_tails, state.stats.torn_bytes_truncated);
  auto writer = std::unique_ptr<Writer>(
      new Writer(std::move(state.engine), std::move(state.journal), options, clock, metrics));
  writer->recovery_stats_ = state.stats;
  if (metrics) {
    metrics->journal_torn_tails.Inc(static_cast<double>(state.stats.torn_tails));
    metrics->skus.Set(static_cast<double>(writer->engine_->sku_count()));
    metrics->reservations_pending.Set(static_cast<double>(writer->engine_->pending_count()));
  }
  writer->writer_thread_ = std::thread([w = writer.get()] { w->WriterLoop(); });
  const int sync_threads = options.fsync == FsyncMode::kAlways ? options.syncs_in_flight : 1;
  for (int i = 0; i < sync_threads; ++i) {
    writer->sync_threads_.emplace_back([w = writer.get()] { w->SyncLoop(); });
  }
  return writer;
}

Writer::Writer(std::unique_ptr<Engine> engine, std::unique_ptr<Journal> journal,
               WriterOptions options, core::Clock* clock, InventoryMetrics* metrics)
    : options_(options),
      clock_(clock),
      metrics_(metrics),
      engine_(std::move(engine)),
      journal_(std::move(journal)) {
  last_sync_ns_ = clock_->NowNs();
}

Writer::~Writer() { Stop(); }

size_t Writer::queue_depth() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_.size();
}

void Writer::FailAll(std::vector<std::unique_ptr<Submission>>* subs, Outcome outcome) {
  for (auto& s : *subs) {
    // Every op failed, in both result modes (and nothing of it may look applied).
    s->results.clear();
    s->results.resize(s->ops.size());
    s->failed_index.clear();
    s->outcomes.clear();
    for (size_t i = 0; i < s->ops.size(); ++i) {
      s->results[i].kind = s->ops[i].kind;
      s->results[i].outcome = outcome;
      s->results[i].mutated = false;
      if (s->result_mode == ResultMode::kFailures) {
        s->failed_index.push_back(static_cast<uint32_t>(i));
      }
      s->CountOutcome(s->ops[i].kind, outcome);
    }
  }
  CompleteAll(subs);
}

void Writer::CompleteAll(std::vector<std::unique_ptr<Submission>>* subs) {
  const int64_t now_ns = clock_->NowNs();
  for (auto& s : *subs) {
    if (metrics_) {
      const double seconds = static_cast<double>(now_ns - s->start_ns) / 1e9;
      for (const OutcomeRun& run : s->outcomes) {
        for (uint32_t i = 0; i < run.count; ++i) {
          metrics_->ObserveOperation(run.kind, run.outcome, seconds);
        }
      }
    }
    s->Complete();
  }
  subs->clear();
}

void Writer::Submit(std::unique_ptr<Submission> s) {
  s->start_ns = clock_->NowNs();
  Outcome refusal;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_ || failed_.load(std::memory_order_acquire)) {
      refusal = Outcome::kUnavailable;
    } else if (queue_.size() >= options_.queue_depth_max) {
      refusal = Outcome::kOverloaded;
    } else {
      const bool was_empty = queue_.empty();
      queue_.push_back(std::move(s));
      submitted_.fetch_add(1, std::memory_order_relaxed);
      if (was_empty) queue_cv_.notify_one();
      return;
    }
  }
  if (refusal == Outcome::kOverloaded && metrics_) metrics_->queue_rejected.Inc();
  std::vector<std::unique_ptr<Submission>> one;
  one.push_back(std::move(s));
  FailAll(&one, refusal);
}

void Writer::WriterLoop() {
  std::vector<std::unique_ptr<Submission>> taken;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      // Sleep until work arrives, the next deadline passes, or the expiry tick.
      int64_t wait_ms = 1000;
      if (auto deadline = engine_->next_deadline_ms()) {
        wait_ms =
            std::clamp<int64_t>(*deadline - clock_->WallMs() + 1, 0, options_.expiry_interval_ms);
      }
      if (queue_.empty() && !stopping_ && wait_ms > 0) {
        queue_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                           [&] { return !queue_.empty() || stopping_; });
      }
      size_t ops = 0;
      while (!queue_.empty() && ops < kWriterRoundOpsMax) {
        ops += queue_.front()->ops.size();
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (taken.empty() && stopping_) break;
    }
    if (failed_.load(std::memory_order_acquire)) {
      FailAll(&taken, Outcome::kUnavailable);
      continue;
    }
    engine_->AdvanceTime(clock_->WallMs());
    if (taken.empty()) {
      UpdateStateMetrics();  // expiries only
    } else {
      ApplyRound(&taken);
    }
  }
  // Final round: a snapshot so the next start replays nothing.
  if (options_.snapshot_on_stop && !failed_.load() && bytes_since_snapshot_ > 0) {
    Round round;
    round.snapshot = StartSnapshot();
    if (round.snapshot) HandOff(std::move(round));
  }
  std::lock_guard<std::mutex> lock(inbox_mu_);
  writer_done_ = true;
  inbox_cv_.notify_all();
}

std::string Writer::TakePayloadBuffer() {
  std::lock_guard<std::mutex> lock(spare_mu_);
  if (spare_payloads_.empty()) return std::string();
  std::string buffer = std::move(spare_payloads_.back());
  spare_payloads_.pop_back();
  return buffer;
}

void Writer::RecyclePayloadBuffer(std::string buffer) {
  if (buffer.capacity() > kSparePayloadBytesMax) return;
  buffer.clear();
  std::lock_guard<std::mutex> lock(spare_mu_);
  if (spare_payloads_.size() < kSparePayloadsMax) spare_payloads_.push_back(std::move(buffer));
}

void Writer::ApplyRound(std::vector<std::unique_ptr<Submission>>* taken) {
  Round round;
  round.payload = TakePayloadBuffer();
  const int64_t now_ms = engine_->now_ms();  // AdvanceTime ran: the clamped, journalled time
  for (auto& s : *taken) {
    const size_t n = s->ops.size();
    auto prefetch_ahead = [&](size_t i) {
      if (i + kApplyPrefetchOps < n) engine_->Prefetch(s->ops[i + kApplyPrefetchOps]);
    };
    for (size_t i = 0; i < std::min(n, kApplyPrefetchOps); ++i) engine_->Prefetch(s->ops[i]);
    if (s->result_mode == ResultMode::kAll) {
      s->results.resize(n);
      for (size_t i = 0; i < n; ++i) {
        prefetch_ahead(i);
        OpResult& r = s->results[i];
        engine_->Apply(s->ops[i], now_ms, &r);
        if (r.mutated) EncodeOperation(s->ops[i], now_ms, &round.payload);
        s->CountOutcome(r.kind, r.outcome);
      }
    } else {
      for (size_t i = 0; i < n; ++i) {
        prefetch_ahead(i);
        engine_->Apply(s->ops[i], now_ms, &scratch_result_, ResultDetail::kOutcomeOnly);
        if (scratch_result_.mutated) EncodeOperation(s->ops[i], now_ms, &round.payload);
        s->CountOutcome(scratch_result_.kind, scratch_result_.outcome);
        if (!IsSuccess(scratch_result_.outcome)) {
          s->results.push_back(std::move(scratch_result_));
          s->failed_index.push_back(static_cast<uint32_t>(i));
          // A failure fills only the fields its error body needs: start the next from defaults.
          scratch_result_ = OpResult();
        }
      }
    }
    round.ops += n;
    round.submissions.push_back(std::move(s));
  }
  taken->clear();
  bytes_since_snapshot_ += round.payload.size();
  if (bytes_since_snapshot_ >= std::max(options_.snapshot_interval_bytes, last_snapshot_bytes_)) {
    round.snapshot = StartSnapshot();
    // After a failure too: retry after another interval, not on every round.
    bytes_since_snapshot_ = 0;
  }
  // Before the hand-off: a sync thread may answer the round at once, and a client that reads
  // /metrics after its reply must see the state its reply reflects.
  UpdateStateMetrics();
  HandOff(std::move(round));
}

void Writer::UpdateStateMetrics() {
  if (metrics_ == nullptr) return;
  metrics_->UpdateQuantities(engine_->counters());
  metrics_->reservations_pending.Set(static_cast<double>(engine_->pending_count()));
  metrics_->skus.Set(static_cast<double>(engine_->sku_count()));
}

std::unique_ptr<PendingSnapshot> Writer::StartSnapshot() {
  const int64_t t0 = clock_->NowNs();
  auto snapshot = journal_->StartSnapshot();
  absl::Status status = snapshot.status();
  if (status.ok()) {
    PendingSnapshot* file = snapshot->get();
    auto flush = [file](std::string* chunk) {
      absl::Status s = file->Append(*chunk);
      chunk->clear();
      return s;
    };
    snapshot_chunk_.clear();
    status = engine_->Serialize(&snapshot_chunk_, kSnapshotChunkBytes, flush);
    if (status.ok()) status = flush(&snapshot_chunk_);
  }
  if (!status.ok()) {
    // The journal is intact; only restart time suffers.
    spdlog::error("snapshot failed: {}", status.ToString());
    return nullptr;
  }
  last_snapshot_bytes_ = (*snapshot)->bytes();
  spdlog::debug("snapshot of {} bytes streamed in {:.3f} s", last_snapshot_bytes_,
                (clock_->NowNs() - t0) / 1e9);
  return std::move(*snapshot);
}

void Writer::HandOff(Round round) {
  std::unique_lock<std::mutex> lock(inbox_mu_);
  inbox_space_cv_.wait(lock, [&] { return inbox_ops_ < kSyncInboxOpsMax; });
  inbox_ops_ += round.ops;
  inbox_submissions_ += round.submissions.size();
  // Merge into the open round (group commit grows while the disk is busy) unless it is sealed by a
  // snapshot, which must follow exactly the records before it.
  if (!inbox_.empty() && !inbox_.back().snapshot) {
    Round& open = inbox_.back();
    open.payload.append(round.payload);
    RecyclePayloadBuffer(std::move(round.payload));
    for (auto& s : round.submissions) open.submissions.push_back(std::move(s));
    open.ops += round.ops;
    open.snapshot = std::move(round.snapshot);
  } else {
    inbox_.push_back(std::move(round));
  }
  // While a sync thread holds a round back it only wants to hear of the end of its wait.
  if (commit_wanted_ == 0 || CommitWaitOverLocked()) inbox_cv_.notify_one();
}

bool Writer::CommitWaitOverLocked() const {
  // A sealed round cannot grow; a half-full inbox is enough to sync.
  return inbox_submissions_ >= commit_wanted_ || inbox_.back().snapshot ||
         inbox_ops_ >= kSyncInboxOpsMax / 2;
}

void Writer::ApplySyncFailureLocked() {
  absl::Status failure;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    failure = std::exchange(sync_failure_, absl::OkStatus());
  }
  if (!failure.ok() && journal_->failure().ok()) journal_->Poison(std::move(failure)).IgnoreError();
}

void Writer::SyncLoop() {
  std::deque<Round> rounds;
  std::vector<std::unique_ptr<Submission>> done;
  const auto commit_wait = std::chrono::microseconds(options_.commit_wait_us);
  // kAlways: the fdatasync runs outside append_mu_, overlapping the other sync threads'.
  const bool overlap = options_.fsync == FsyncMode::kAlways;
  while (true) {
    uint64_t ticket = 0;
    absl::Status status;
    size_t ops = 0;
    bool appended = false;
    std::shared_ptr<WritableFile> to_sync;
    {
      // One sync thread at a time takes the inbox and appends it, so records go out in order.
      std::lock_guard<std::mutex> append_lock(append_mu_);
      {
        std::unique_lock<std::mutex> lock(inbox_mu_);
        if (inbox_.empty() && !writer_done_) {
          if (unsynced_ && options_.fsync == FsyncMode::kPeriodic) {
            inbox_cv_.wait_for(lock, std::chrono::milliseconds(options_.fsync_interval_ms),
                               [&] { return !inbox_.empty() || writer_done_; });
          } else {
            inbox_cv_.wait(lock, [&] { return !inbox_.empty() || writer_done_; });
          }
        }
        if (inbox_.empty() && writer_done_) break;
        if (overlap && options_.commit_wait_us > 0 && !writer_done_ && !inbox_.empty() &&
            !inbox_.back().snapshot) {
          // In flight: submitted and not answered (this inbox included). Half of that plus the
          // clients just answered is what a balanced pair of rounds would hold.
          const uint64_t in_flight = submitted_.load(std::memory_order_relaxed) -
                                     answered_.load(std::memory_order_relaxed);
          const size_t wanted =
              static_cast<size_t>((in_flight + last_answered_.load(std::memory_order_relaxed)) / 2);
          if (inbox_submissions_ < wanted) {
            commit_wanted_ = wanted;
            inbox_cv_.wait_for(lock, commit_wait,
                               [&] { return writer_done_ || CommitWaitOverLocked(); });
            commit_wanted_ = 0;
          }
        }
        rounds.swap(inbox_);
        inbox_ops_ = 0;
        inbox_submissions_ = 0;
        inbox_space_cv_.notify_one();
      }
      ticket = next_ticket_++;
      ApplySyncFailureLocked();
      status = journal_->failure();
      for (Round& round : rounds) {
        if (status.ok() && !round.payload.empty()) {
          status = journal_->Append(round.payload);
          appended = true;
          unsynced_ = true;
        }
        if (status.ok() && round.snapshot) {
          status = journal_->Sync();
          if (status.ok()) {
            unsynced_ = false;
            const int64_t t0 = clock_->NowNs();
            const uint64_t bytes = round.snapshot->bytes();
            absl::Status s =
                journal_->CommitSnapshot(std::move(round.snapshot), journal_->last_seq());
            if (s.ok()) {
              spdlog::info("snapshot at record {} ({} bytes) committed in {:.3f} s",
                           journal_->last_seq(), bytes, (clock_->NowNs() - t0) / 1e9);
            } else {
              // The journal is intact; only restart time suffers. Poisoned segments show in
              // status.
              spdlog::error("snapshot failed: {}", s.ToString());
              status = journal_->failure();
            }
          }
        }
        ops += round.ops;
        for (auto& s : round.submissions) done.push_back(std::move(s));
        RecyclePayloadBuffer(std::move(round.payload));
      }
      rounds.clear();
      if (status.ok() && unsynced_) {
        if (overlap) {
          to_sync = journal_->active_segment();
          unsynced_ = false;
        } else if (options_.fsync == FsyncMode::kPeriodic &&
                   clock_->NowNs() - last_sync_ns_ >= options_.fsync_interval_ms * 1'000'000) {
          const int64_t t0 = clock_->NowNs();
          status = journal_->Sync();
          last_sync_ns_ = clock_->NowNs();
          if (metrics_) metrics_->journal_fsync_seconds.Observe((last_sync_ns_ - t0) / 1e9);
          unsynced_ = false;
        }
      }
    }
    if (to_sync) {
      const int64_t t0 = clock_->NowNs();
      absl::Status s = to_sync->Sync();
      if (metrics_) metrics_->journal_fsync_seconds.Observe((clock_->NowNs() - t0) / 1e9);
      to_sync.reset();
      if (!s.ok()) {
        status = s;
        std::lock_guard<std::mutex> lock(inbox_mu_);
        if (sync_failure_.ok()) sync_failure_ = std::move(s);
      }
    }
    if (metrics_ && appended) metrics_->journal_batch_size.Observe(static_cast<double>(ops));
    // Answer in ticket order: a round's replies may reflect the rounds appended before it, which
    // are durable only once their own syncs have returned.
    {
      std::unique_lock<std::mutex> turn(turn_mu_);
      turn_cv_.wait(turn, [&] { return answered_ticket_ == ticket - 1; });
    }
    const size_t answered = done.size();
    if (!status.ok() || failed_.load(std::memory_order_acquire)) {
      if (!status.ok() && !failed_.exchange(true)) {
        spdlog::error("journal failed, answering 503 until restart: {}", status.ToString());
        if (metrics_) metrics_->journal_failures.Inc();
      }
      FailAll(&done, Outcome::kUnavailable);
    } else {
      CompleteAll(&done);
    }
    last_answered_.store(answered, std::memory_order_relaxed);
    answered_.fetch_add(answered, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> turn(turn_mu_);
      answered_ticket_ = ticket;
    }
    turn_cv_.notify_all();
  }
  std::lock_guard<std::mutex> append_lock(append_mu_);
  ApplySyncFailureLocked();
  if (unsynced_ && journal_->failure().ok()) {
    if (journal_->Sync().ok()) unsynced_ = false;
  }
}

void Writer::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
    queue_cv_.notify_one();
  }
  if (writer_thread_.joinable()) writer_thread_.join();
  for (std::thread& t : sync_threads_) {
    if (t.joinable()) t.join();
  }
  journal_.reset();
}

}  // namespace inventory

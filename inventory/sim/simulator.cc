#include "inventory/sim/simulator.h"

#include <fmt/format.h>

#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "inventory/engine/engine.h"
#include "inventory/engine/op_codec.h"
#include "inventory/engine/validate.h"
#include "inventory/journal/fault_env.h"
#include "inventory/journal/journal.h"
#include "inventory/service/writer.h"

namespace inventory {

std::string SimStats::ToString() const {
  return fmt::format(
      "steps {}, crashes {}, sync failures {}, snapshots {}, acknowledged ops {}, lost "
      "unacknowledged "
      "ops {}, replays checked {}, expired reservations {}, torn tails {}, zero tails {}",
      steps, crashes, sync_failures, snapshots, acked_ops, lost_unacked_ops, replays_checked,
      expired, torn_tails, zero_tails);
}

namespace {

constexpr char kDir[] = "/sim";
constexpr int64_t kStartMs = 1'700'000'000'000;

struct LogEntry {
  Operation op;
  int64_t now_ms = 0;
  std::string created_id;  // reservation created by this op
};

struct Original {
  Operation request;
  ReservationView reply;
};

class Simulation {
 public:
  Simulation(const SimOptions& options, SimStats* stats)
      : options_(options), stats_(stats), rng_(options.seed) {
    limits_.terminal_retention_ms = 30LL * 24 * 3600 * 1000;  // no eviction: replays stay checkable
  }

  absl::Status Run() {
    if (auto s = Open(); !s.ok()) return s;
    for (uint64_t step = 0; step < options_.steps; ++step) {
      step_ = step;
      now_ms_ += Uniform(0, 20);
      engine_->AdvanceTime(now_ms_);  // the writer's expiry tick
      if (auto s = Step(); !s.ok()) return Violation(s);
      if (Chance(0.15)) {
        if (auto s = Commit(); !s.ok()) return Violation(s);
      }
      if (Chance(options_.snapshot_probability)) {
        if (auto s = Snapshot(); !s.ok()) return Violation(s);
      }
      if (Chance(options_.crash_probability)) {
        if (auto s = CrashAndRecover(); !s.ok()) return Violation(s);
      }
      if (auto s = engine_->CheckInvariants(); !s.ok()) return Violation(s);
      ++stats_->steps;
    }
    if (auto s = Commit(); !s.ok()) return Violation(s);
    if (auto s = CrashAndRecover(); !s.ok()) return Violation(s);
    stats_->acked_ops = acked_;
    stats_->expired = engine_->counters().reservations_expired;
    return absl::OkStatus();
  }

 private:
  absl::Status Violation(const absl::Status& s) {
    return absl::InternalError(
        fmt::format("seed {} step {}: {}", options_.seed, step_, s.ToString()));
  }
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::string Sku() { return fmt::format("s{}", Uniform(0, options_.skus - 1)); }

  absl::Status Open() {
    // Mostly preallocated segments; sometimes append-only ones, so restarts also cross between the
    // two segment formats.
    const JournalOptions options{.dir = kDir,
                                 .segment_bytes_max = 64 << 10,
                                 .preallocate = !Chance(0.15),
                                 .prepare_in_background = false};
    auto state = RecoverState(&env_, options, limits_);
    if (!state.ok()) return state.status();
    engine_ = std::move(state->engine);
    journal_ = std::move(state->journal);
    last_stats_ = state->stats;
    stats_->torn_tails += last_stats_.torn_tails;
    stats_->zero_tails += last_stats_.zero_tail_bytes > 0;
    return absl::OkStatus();
  }

  Operation RandomOp() {
    Operation op;
    const int64_t dice = Uniform(0, 99);
    if (dice < 8 || (dice < 12 && op_ids_.empty())) {
      op.kind = OpKind::kAdjust;
      op.sku = Sku();
      op.delta = Uniform(-10, 40);
      if (op.delta == 0) op.delta = 1;
      op.op_id = fmt::format("op{}", next_op_id_++);
    } else if (dice < 12) {  // op_id replay (same or different body)
      const auto& [op_id, prior] = op_ids_[Uniform(0, op_ids_.size() - 1)];
      op = prior;
      if (Chance(0.3)) op.delta += 1;
      if (op.delta == 0) op.delta = 1;
    } else if (dice < 50 || originals_ids_.empty()) {
      op.kind = OpKind::kReserve;
      op.reservation_id = fmt::format("r{}", next_reservation_++);
      const int items = Chance(0.8) ? 1 : static_cast<int>(Uniform(2, 4));
      for (int i = 0; i < items; ++i) {
        std::string sku = Sku();
        bool dup = false;
        for (const Item& it : op.items) dup |= it.sku == sku;
        if (!dup) op.items.push_back({sku, Uniform(1, 3)});
      }
      op.ttl_ms = Uniform(10, 5000);
      if (Chance(0.3)) op.user_id = fmt::format("u{}", Uniform(0, 9));
    } else if (dice < 60) {  // identical replay: must return the original reply, change nothing
      op = originals_.at(originals_ids_[Uniform(0, originals_ids_.size() - 1)]).request;
    } else if (dice < 64) {  // same id, different body: conflict
      op = originals_.at(originals_ids_[Uniform(0, originals_ids_.size() - 1)]).request;
      op.ttl_ms += 1;
    } else if (dice < 68) {  // reserve an id that may have been cancelled before it was tried
      op.kind = OpKind::kReserve;
      op.reservation_id = fmt::format("t{}", Uniform(0, next_tomb_));
      op.items.push_back({Sku(), 1});
      op.ttl_ms = 1000;
    } else if (dice < 80) {
      op.kind = OpKind::kConfirm;
      op.reservation_id = originals_ids_[Uniform(0, originals_ids_.size() - 1)];
    } else if (dice < 90) {
      op.kind = OpKind::kCancel;
      op.reservation_id = Chance(0.8) ? originals_ids_[Uniform(0, originals_ids_.size() - 1)]
                                      : fmt::format("t{}", next_tomb_++);
    } else if (dice < 95) {
      op.kind = OpKind::kGetSku;
      op.sku = Sku();
    } else {
      op.kind = OpKind::kGetReservation;
      op.reservation_id = fmt::format("r{}", Uniform(0, next_reservation_));
    }
    return op;
  }

  absl::Status Step() {
    Operation op = RandomOp();
    if (auto e = ValidateOperation(op)) {
      return absl::InternalError(
          fmt::format("generated an invalid op: {}: {}", e->field, e->message));
    }
    const bool is_replay = op.kind == OpKind::kReserve && originals_.count(op.reservation_id) > 0;
    const bool check_digest = is_replay && Chance(0.02);
    const uint64_t before = check_digest ? engine_->Digest() : 0;
    OpResult r;
    const int64_t now = engine_->now_ms();
    engine_->Apply(op, now, &r);
    if (r.outcome == Outcome::kTableFull || r.outcome == Outcome::kStockLimit) {
      return absl::InternalError("unexpected table/stock limit");
    }
    if (is_replay) {
      const Original& orig = originals_.at(op.reservation_id);
      const bool identical = orig.request.ttl_ms == op.ttl_ms;
      if (identical) {
        ++stats_->replays_checked;
        if (r.outcome != Outcome::kReplayed || r.mutated ||
            r.reservation.expires_at_ms != orig.reply.expires_at_ms ||
            r.reservation.items.size() != orig.reply.items.size() ||
            r.reservation.state != ReservationState::kPending) {
          return absl::InternalError(fmt::format(
              "replay of {} answered {} (expires {} vs {})", op.reservation_id,
              static_cast<int>(r.outcome), r.reservation.expires_at_ms, orig.reply.expires_at_ms));
        }
        if (check_digest && engine_->Digest() != before) {
          return absl::InternalError(
              fmt::format("replay of {} changed the state", op.reservation_id));
        }
      } else if (r.outcome != Outcome::kReservationConflict) {
        return absl::InternalError(fmt::format("conflicting replay of {} answered {}",
                                               op.reservation_id, static_cast<int>(r.outcome)));
      }
    }
    if (op.kind == OpKind::kConfirm && r.outcome == Outcome::kReservationNotFound) {
      return absl::InternalError(fmt::format("confirm of known {} not found", op.reservation_id));
    }
    if (!r.mutated) return absl::OkStatus();
    LogEntry entry{op, now, ""};
    if (r.outcome == Outcome::kCreated) {
      entry.created_id = op.reservation_id;
      if (op.reservation_id[0] == 'r') {
        originals_[op.reservation_id] = Original{op, r.reservation};
        originals_ids_.push_back(op.reservation_id);
      }
    }
    if (op.kind == OpKind::kAdjust) op_ids_.emplace_back(op.op_id, op);
    EncodeOperation(op, now, &payload_);
    log_.push_back(std::move(entry));
    return absl::OkStatus();
  }

  // Group commit: one record, one sync; on success everything so far is acknowledged.
  absl::Status Commit() {
    if (payload_.empty()) return absl::OkStatus();
    absl::Status s = journal_->Append(payload_);
    if (s.ok()) commit_ends_.push_back(log_.size());
    payload_.clear();
    if (s.ok() && Chance(options_.sync_failure_probability * 7)) {
      env_.FailNextSyncs(1);
      ++stats_->sync_failures;
    }
    if (s.ok()) s = journal_->Sync();
    if (s.ok()) {
      acked_ = log_.size();
      return absl::OkStatus();
    }
    // A failed write or fsync: the process stops; nothing since the last good sync was
    // acknowledged.
    return CrashAndRecover();
  }

  absl::Status Snapshot() {
    if (auto s = Commit(); !s.ok()) return s;
    std::string state;
    engine_->Serialize(&state);
    if (auto s = journal_->WriteSnapshot(state, journal_->last_seq()); !s.ok()) return s;
    ++stats_->snapshots;
    return absl::OkStatus();
  }

  absl::Status CrashAndRecover() {
    ++stats_->crashes;
    journal_.reset();
    engine_.reset();
    payload_.clear();
    env_.Crash(&rng_, Chance(0.5));
    if (auto s = Open(); !s.ok()) return s;
    // The recovered records are a prefix of the appended ones that holds every acknowledged op.
    const uint64_t records = journal_->last_seq();
    if (records > commit_ends_.size()) {
      return absl::InternalError(
          fmt::format("recovered {} records, only {} were appended", records, commit_ends_.size()));
    }
    const size_t kept = records == 0 ? 0 : commit_ends_[records - 1];
    if (kept < acked_) {
      return absl::InternalError(
          fmt::format("lost acknowledged ops: recovered {} of {} acknowledged", kept, acked_));
    }
    stats_->lost_unacked_ops += log_.size() - kept;
    commit_ends_.resize(records);
    for (size_t i = kept; i < log_.size(); ++i) {
      if (!log_[i].created_id.empty()) originals_.erase(log_[i].created_id);
    }
    log_.resize(kept);
    acked_ = kept;
    originals_ids_.clear();
    for (const LogEntry& e : log_) {
      if (!e.created_id.empty() && originals_.count(e.created_id)) {
        originals_ids_.push_back(e.created_id);
      }
    }
    op_ids_.clear();
    for (const LogEntry& e : log_) {
      if (e.op.kind == OpKind::kAdjust) op_ids_.emplace_back(e.op.op_id, e.op);
    }
    // Same state as a fresh engine applying exactly that prefix.
    Engine reference(limits_);
    OpResult r;
    for (const LogEntry& e : log_) reference.Apply(e.op, e.now_ms, &r);
    reference.AdvanceTime(now_ms_);
    engine_->AdvanceTime(now_ms_);
    if (reference.Digest() != engine_->Digest()) {
      return absl::InternalError(
          fmt::format("recovered state differs from the replayed prefix of {} ops (snapshot at {})",
                      kept, last_stats_.snapshot_seq));
    }
    return engine_->CheckInvariants();
  }

  const SimOptions options_;
  SimStats* stats_;
  std::mt19937_64 rng_;
  EngineLimits limits_;
  FaultEnv env_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Journal> journal_;
  RecoveryStats last_stats_;
  uint64_t step_ = 0;
  int64_t now_ms_ = kStartMs;

  std::vector<LogEntry> log_;        // every applied mutating op, in order
  std::vector<size_t> commit_ends_;  // record seq-1 -> log size after that record
  size_t acked_ = 0;                 // log prefix made durable
  std::string payload_;              // encoded ops not yet appended
  std::unordered_map<std::string, Original> originals_;
  std::vector<std::string> originals_ids_;
  std::vector<std::pair<std::string, Operation>> op_ids_;
  uint64_t next_op_id_ = 0;
  uint64_t next_reservation_ = 0;
  uint64_t next_tomb_ = 0;
};

}  // namespace

absl::Status RunSimulation(const SimOptions& options, SimStats* stats) {
  *stats = SimStats{};
  Simulation sim(options, stats);
  return sim.Run();
}

}  // namespace inventory

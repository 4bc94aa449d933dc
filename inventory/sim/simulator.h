#pragma once
// Simulator: a seeded, deterministic stress test of the engine and the journal together (STYLE.md
// rule 12). Each step applies one random operation (reserves, exact replays, conflicting replays,
// confirms, cancels incl. unknown ids, adjusts incl. op_id replays, reads) at a fake time that
// moves forward randomly, so reservations expire. Mutating operations are journalled in group
// commits of random size; a commit makes them "acknowledged". At random points the simulator
// injects fsync failures and crashes (FaultEnv::Crash: torn prefixes, out-of-order sectors, stray
// sectors after zeros, garbage), takes snapshots, and restarts from the journal. Each restart picks
// preallocated (zero-filled, overwritten in place; 85%) or append-only segments, so recovery is
// exercised on both formats and on journals that mix them.
//
// Checked after every step: Engine::CheckInvariants(); replay idempotency (an identical reserve
// returns kReplayed with the original expires_at_ms and items and changes nothing). Checked after
// every restart: the recovered state equals the state of a prefix of the applied operations that
// contains every acknowledged one (digest comparison against a fresh engine replaying that prefix).
//
// The seed fully determines the run: SIM_SEED=<seed> reproduces a failure.

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace inventory {

struct SimOptions {
  uint64_t seed = 1;
  uint64_t steps = 200'000;
  int skus = 16;
  double crash_probability = 1.0 / 4000;
  double sync_failure_probability = 1.0 / 20000;
  double snapshot_probability = 1.0 / 10000;
};

struct SimStats {
  uint64_t steps = 0;
  uint64_t crashes = 0;
  uint64_t sync_failures = 0;
  uint64_t snapshots = 0;
  uint64_t acked_ops = 0;
  uint64_t lost_unacked_ops = 0;
  uint64_t replays_checked = 0;
  uint64_t expired = 0;
  uint64_t torn_tails = 0;  // restarts that found and discarded a torn tail
  uint64_t zero_tails = 0;  // restarts whose last segment ended in preallocated zeros
  std::string ToString() const;
};

// Runs the simulation; Internal error describing the first violation (with the step number).
absl::Status RunSimulation(const SimOptions& options, SimStats* stats);

}  // namespace inventory

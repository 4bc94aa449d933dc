#pragma once
// SequenceTable: the live sequences of one stateful model (kind: sequence), keyed by sequence_id.
// Each entry owns the sequence's recurrent state (the bytes fed to the model's state input on the
// next chunk) and an opaque `pin` (the gRPC layer stores the VersionLease of the model version the
// sequence started on, so every chunk of a sequence runs on that version and state never crosses
// versions).
//
// Lifecycle of a chunk: Acquire() marks the entry busy (one chunk of a sequence in flight at a
// time: chunk n+1 needs the state chunk n produces) and hands out the slot; the caller reads and
// rewrites slot->state while busy, then calls Release(), which stamps the idle clock or frees the
// entry when the chunk ended the sequence (or failed). A sequence idle for longer than its idle
// timeout is freed: lazily when its next chunk arrives (that chunk is refused), and by a sweep of
// the whole table at most every idle_timeout/4 (from any Acquire) or when the table is full, so
// expired state never holds a slot a new sequence needs. Busy entries never expire.
//
// Limits: at most `max_sequences` live entries (the value given by the Acquire that starts one);
// beyond it RESOURCE_EXHAUSTED.
//
// Thread safety: every method may be called from any thread (one mutex; the state bytes are touched
// outside it only by the holder of the busy entry).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock/clock.h"

namespace inference {

struct SequenceSlot {
  std::vector<char> state;    // the state input for the next chunk (zeros after a start)
  std::shared_ptr<void> pin;  // kept alive as long as the sequence lives
};

struct SequenceLimits {
  int64_t idle_timeout_ms = 60'000;
  size_t max_sequences = 1024;
};

class SequenceTable {
 public:
  explicit SequenceTable(core::Clock* clock);

  // `id` is the printable sequence id (used in error messages), unique per sequence.
  // start: creates the sequence (zeroed state of `state_bytes`, `pin` stored) or restarts an idle
  // one with the same id; otherwise the sequence must be live.
  // Errors: INVALID_ARGUMENT unknown id (never started, ended, or expired); FAILED_PRECONDITION a
  // chunk of the sequence is already in flight; RESOURCE_EXHAUSTED max_sequences live.
  absl::StatusOr<std::shared_ptr<SequenceSlot>> Acquire(const std::string& id, bool start,
                                                        const SequenceLimits& limits,
                                                        size_t state_bytes,
                                                        std::shared_ptr<void> pin);
  // Ends the busy period of `id`'s chunk. end: free the sequence (sequence_end, or the chunk
  // failed: its state is no longer trustworthy).
  void Release(const std::string& id, bool end);

  // Frees every idle entry past its timeout; returns how many.
  size_t SweepExpired();
  // Frees everything (shutdown: releases the pins so model versions can drain).
  void Clear();
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<SequenceSlot> slot;
    int64_t last_used_ns = 0;
    int64_t idle_timeout_ns = 0;
    bool busy = false;
  };
  size_t SweepLocked(int64_t now_ns);

  core::Clock* const clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  int64_t last_sweep_ns_ = 0;                       // guarded by mu_
};

}  // namespace inference

#pragma once
// Engine: the reservation state machine. Pure and deterministic: no I/O, no clock reads, no
// randomness. Time is an argument (wall milliseconds, clamped so it never goes backwards), so the
// same sequence of (operation, now_ms) always produces the same state; the journal relies on that
// to rebuild the state by re-applying journalled operations.
//
// Per SKU it holds available / reserved / sold and the invariant, checked by CheckInvariants():
//   available + reserved + sold == sum of accepted adjustments, all >= 0,
//   reserved == sum of the items of PENDING reservations on that SKU.
//
// Reservations: PENDING -> CONFIRMED | CANCELLED | EXPIRED (terminal states are final). The
// reservation id is the idempotency key (identical replay -> kReplayed; different body ->
// kReservationConflict, compared through a 64-bit hash of the canonical request). Cancel of an
// unknown id leaves a tombstone (CANCELLED, no items) so a later reserve with that id is refused.
// Terminal reservations are retained for EngineLimits::terminal_retention_ms (or until the table is
// full), then forgotten: the idempotency window of a reservation id is that retention.
//
// Expiry: PENDING reservations sit in an indexed min-heap keyed by (expires_at_ms, creation
// sequence); every Apply() and AdvanceTime() first expires everything whose deadline is <= now, so
// an operation never sees a reservation past its deadline as PENDING.
//
// Thread safety: none. One thread (the writer) owns an Engine.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inventory/engine/internal/id_table.h"
#include "inventory/engine/limits.h"
#include "inventory/engine/operation.h"

namespace inventory {

// Units moved, by direction, since the engine was built (for inventory_quantity_change_total).
struct QuantityCounters {
  uint64_t added = 0;     // positive adjustments
  uint64_t removed = 0;   // negative adjustments
  uint64_t reserved = 0;  // available -> reserved
  uint64_t sold = 0;      // reserved -> sold (confirm)
  uint64_t released = 0;  // reserved -> available (cancel)
  uint64_t expired = 0;   // reserved -> available (expiry)
  uint64_t reservations_expired = 0;
};

class Engine {
 public:
  explicit Engine(EngineLimits limits = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies `op` at `now_ms`. Precondition: ValidateOperation(op) passed (CHECKed cheaply).
  // `result` is overwritten (with kOutcomeOnly, a success leaves its views as they were);
  // result->mutated tells whether the op must be journalled. `detail` never changes the state.
  void Apply(const Operation& op, int64_t now_ms, OpResult* result,
             ResultDetail detail = ResultDetail::kFull);

  // A hint, no effect on the state: starts fetching into the cache the table entries Apply(op) will
  // look up. The reservation table outgrows the caches at a few hundred thousand reservations, and
  // a writer applying a batch issues this a few ops ahead so the misses overlap.
  void Prefetch(const Operation& op) const;

  // Expires due reservations and forgets terminal ones past retention. Returns reservations
  // expired.
  size_t AdvanceTime(int64_t now_ms);
  // Deadline of the earliest PENDING reservation, if any.
  std::optional<int64_t> next_deadline_ms() const;
  int64_t now_ms() const { return now_ms_; }

  // Full consistency check (O(SKUs + pending reservations)); Internal error naming what broke.
  absl::Status CheckInvariants() const;

  // Snapshot encoding of the complete state (self-describing, versioned). Restore() validates
  // everything it reads (DataLoss on malformed input) and checks the invariants.
  void Serialize(std::string* out) const;
  // The same encoding streamed in pieces, so a snapshot of millions of reservations never sits in
  // memory whole: appends to *chunk and calls flush(chunk) whenever it holds at least chunk_bytes;
  // flush writes the bytes out and clears *chunk. What is left in *chunk at the end is the caller's
  // to write. Returns the first error of flush (the encoding is then incomplete).
  using SnapshotFlush = std::function<absl::Status(std::string* chunk)>;
  absl::Status Serialize(std::string* chunk, size_t chunk_bytes, const SnapshotFlush& flush) const;
  static absl::StatusOr<std::unique_ptr<Engine>> Restore(std::string_view data,
                                                         EngineLimits limits);

  // Order-independent 64-bit digest of the logical state (for the simulator: the state rebuilt from
  // the journal must equal the state of the same operation prefix applied live).
  uint64_t Digest() const;

  size_t sku_count() const { return skus_.size(); }
  size_t pending_count() const { return heap_.size(); }
  size_t reservation_count() const { return reservations_.size(); }
  const QuantityCounters& counters() const { return counters_; }
  const EngineLimits& limits() const { return limits_; }

 private:
  static constexpr uint32_t kNotInHeap = UINT32_MAX;

  struct Sku {
    std::string name;
    int64_t available = 0;
    int64_t reserved = 0;
    int64_t sold = 0;
    int64_t adjusted_total = 0;  // sum of accepted adjustments
    uint64_t version = 0;
  };
  struct ResItem {
    uint32_t sku = 0;  // index into skus_
    int64_t qty = 0;
  };
  struct Reservation {
    uint64_t seq = 0;  // creation order; breaks ties between equal deadlines
    int64_t expires_at_ms = 0;
    int64_t terminal_at_ms = 0;  // when it left PENDING (retention clock)
    uint64_t request_hash = 0;
    uint32_t heap_index = kNotInHeap;
    ReservationState state = ReservationState::kPending;
    bool tombstone = false;
    std::string user_id;
    absl::InlinedVector<ResItem, 1> items;
  };
  // One reservation: a pooled entry (id inline) and a table slot, no malloc (internal/id_table.h).
  using ReservationTable = internal::IdTable<Reservation>;
  using ResEntry = ReservationTable::Entry;
  struct AdjustOp {
    uint32_t sku = 0;
    int64_t delta = 0;
  };

  // `full`: fill the result's view on success too (ResultDetail::kFull).
  void ApplyAdjust(const Operation& op, bool full, OpResult* r);
  void ApplyReserve(const Operation& op, bool full, OpResult* r);
  void ApplyConfirm(const Operation& op, bool full, OpResult* r);
  void ApplyCancel(const Operation& op, bool full, OpResult* r);
  void ApplyGetSku(const Operation& op, bool full, OpResult* r) const;
  void ApplyGetReservation(const Operation& op, bool full, OpResult* r) const;

  void FillSkuView(const Sku& sku, SkuView* view) const;
  void FillReservationView(const ResEntry& entry, ReservationView* view) const;
  void MakeTerminal(ResEntry* entry, ReservationState state);
  // Frees a slot when the table is full by forgetting the oldest terminal reservation.
  bool MakeRoomForReservation();
  void EvictExpiredTerminals();

  // Indexed min-heap of PENDING reservations.
  static bool HeapLess(const ResEntry* a, const ResEntry* b);
  void HeapPush(ResEntry* e);
  void HeapRemove(ResEntry* e);
  void HeapSiftUp(uint32_t i);
  void HeapSiftDown(uint32_t i);
  void HeapSet(uint32_t i, ResEntry* e);

  static uint64_t RequestHash(const Operation& op);
  void SerializeReservation(const ResEntry& e, std::string* out) const;
  // u64 count, then each reservation of `entries` (ResEntry pointers); flushes as Serialize does.
  template <typename Entries>
  absl::Status SerializeReservations(const Entries& entries, std::string* chunk, size_t chunk_bytes,
                                     const SnapshotFlush& flush) const;

  EngineLimits limits_;
  int64_t now_ms_ = 0;
  uint64_t next_seq_ = 1;
  std::vector<Sku> skus_;
  absl::flat_hash_map<std::string, uint32_t> sku_index_;
  ReservationTable reservations_;
  std::vector<ResEntry*> heap_;
  std::deque<ResEntry*> terminal_;  // FIFO by terminal_at_ms
  absl::flat_hash_map<std::string, AdjustOp> adjust_ops_;
  std::deque<std::string> adjust_fifo_;
  QuantityCounters counters_;
};

}  // namespace inventory

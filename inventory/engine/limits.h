#pragma once
// Named limits of the reservation engine (STYLE.md rule 7). Every request field and every in-memory
// table is bounded by one of these; exceeding one is a clear error (400 for a request field, 429
// for a full table), never unbounded growth. Table sizes are defaults of EngineLimits, overridable
// in stockd.yaml.

#include <cstddef>
#include <cstdint>

namespace inventory {

inline constexpr size_t kSkuBytesMax = 128;         // SKU name length, bytes
inline constexpr size_t kIdBytesMax = 128;          // reservation_id, op_id, user_id length, bytes
inline constexpr size_t kReservationItemsMax = 64;  // items per reservation
inline constexpr size_t kBatchOpsMax = 4096;        // operations per POST /v1/batch
inline constexpr int64_t kTtlMsMin = 1;             // reservation TTL range
inline constexpr int64_t kTtlMsMax = 7LL * 24 * 3600 * 1000;
inline constexpr int64_t kQtyMax = 1'000'000'000;             // qty of one item
inline constexpr int64_t kDeltaAbsMax = 1'000'000'000'000LL;  // |delta| of one adjustment
inline constexpr int64_t kStockMax =
    1'000'000'000'000'000LL;  // per-SKU total; keeps sums far from overflow

// Defaults for the in-memory tables (EngineLimits).
inline constexpr size_t kSkusMaxDefault = 1'000'000;
// Pending plus retained terminal reservations (tombstones included). ~150 bytes each.
inline constexpr size_t kReservationsMaxDefault = 10'000'000;
// Terminal reservations (CONFIRMED/CANCELLED/EXPIRED, tombstones) are kept this long so replays,
// GETs and "try after cancel" keep working; older ones are evicted (oldest first), and also earlier
// when the reservation table is full.
inline constexpr int64_t kTerminalRetentionMsDefault = 24LL * 3600 * 1000;
// Adjust op_ids remembered for idempotency (oldest forgotten first).
inline constexpr size_t kAdjustOpsRetainedMaxDefault = 1'000'000;

struct EngineLimits {
  size_t skus_max = kSkusMaxDefault;
  size_t reservations_max = kReservationsMaxDefault;
  int64_t terminal_retention_ms = kTerminalRetentionMsDefault;
  size_t adjust_ops_retained_max = kAdjustOpsRetainedMaxDefault;
};

}  // namespace inventory

#pragma once
// Operation and OpResult: the engine's input and output, independent of the wire protocol (HTTP
// JSON and gRPC both translate into these). An Operation is a plain value that can be moved across
// threads.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace inventory {

enum class OpKind : uint8_t {
  kAdjust = 1,
  kReserve = 2,
  kConfirm = 3,
  kCancel = 4,
  kGetSku = 5,
  kGetReservation = 6,
};
std::string_view OpKindName(OpKind kind);  // "adjust", "reserve", ... (metric labels, batch "op")

struct Item {
  std::string sku;
  int64_t qty = 0;
};
using Items = absl::InlinedVector<Item, 1>;

struct Operation {
  OpKind kind = OpKind::kGetSku;
  std::string sku;             // adjust, get_sku
  int64_t delta = 0;           // adjust
  std::string op_id;           // adjust
  std::string reservation_id;  // reserve, confirm, cancel, get_reservation
  Items items;                 // reserve
  int64_t ttl_ms = 0;          // reserve
  std::string user_id;         // reserve (optional)

  bool mutating() const {
    return kind == OpKind::kAdjust || kind == OpKind::kReserve || kind == OpKind::kConfirm ||
           kind == OpKind::kCancel;
  }
};

enum class ReservationState : uint8_t {
  kPending = 0,
  kConfirmed = 1,
  kCancelled = 2,
  kExpired = 3
};
std::string_view ReservationStateName(ReservationState state);  // "PENDING", ...

// What happened. Each outcome maps to exactly one HTTP status and error code (api/render.h).
enum class Outcome : uint8_t {
  kOk,                    // 200
  kCreated,               // 201 (reserve)
  kReplayed,              // 200 (identical reserve replay; same body as the original)
  kSkuNotFound,           // 404 sku_not_found
  kReservationNotFound,   // 404 reservation_not_found
  kInsufficientStock,     // 409 insufficient_stock (+ sku, available)
  kReservationConflict,   // 409 reservation_conflict
  kReservationExpired,    // 409 reservation_expired
  kReservationCancelled,  // 409 reservation_cancelled
  kReservationConfirmed,  // 409 reservation_confirmed
  kOpConflict,            // 409 op_conflict (same adjust op_id, different body)
  kStockLimit,            // 409 stock_limit (the SKU's total would exceed kStockMax)
  kTableFull,             // 429 resource_exhausted (SKU or reservation table at its limit)
  kUnavailable,           // 503 unavailable (journal cannot be written; writer stopped)
  kOverloaded,            // 429 resource_exhausted (the writer's queue is full: back off)
};

// The operation did what it asked (its HTTP status is 2xx).
inline bool IsSuccess(Outcome outcome) {
  return outcome == Outcome::kOk || outcome == Outcome::kCreated || outcome == Outcome::kReplayed;
}

struct SkuView {
  std::string sku;
  int64_t available = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
  uint64_t version = 0;
};

struct ReservationView {
  std::string reservation_id;
  ReservationState state = ReservationState::kPending;
  int64_t expires_at_ms = 0;
  Items items;
  std::string user_id;
};

// How much of an OpResult Engine::Apply fills when the operation succeeds (kOk, kCreated,
// kReplayed). A failure is always filled completely (its error body needs the SKU or reservation).
enum class ResultDetail : uint8_t {
  kFull,         // the SKU or reservation view too (REST bodies, gRPC messages)
  kOutcomeOnly,  // kind, outcome and mutated only: for callers that report failures only (no
                 // per-op copies of ids and SKU names)
};

struct OpResult {
  OpKind kind = OpKind::kGetSku;
  Outcome outcome = Outcome::kOk;
  bool mutated = false;  // the state changed: the operation must be journalled
  SkuView sku;  // adjust/get_sku; for kInsufficientStock and kSkuNotFound: sku (+available)
  ReservationView reservation;  // reserve/confirm/cancel/get_reservation
  std::string message;          // human-readable detail for errors
};

}  // namespace inventory

#include "inventory/engine/op_codec.h"

#include "inventory/engine/limits.h"

namespace inventory {

void EncodeOperation(const Operation& op, int64_t now_ms, std::string* out) {
  wire::PutU8(out, static_cast<uint8_t>(op.kind));
  wire::PutI64(out, now_ms);
  switch (op.kind) {
    case OpKind::kAdjust:
      wire::PutString(out, op.sku);
      wire::PutI64(out, op.delta);
      wire::PutString(out, op.op_id);
      break;
    case OpKind::kReserve:
      wire::PutString(out, op.reservation_id);
      wire::PutI64(out, op.ttl_ms);
      wire::PutString(out, op.user_id);
      wire::PutU32(out, static_cast<uint32_t>(op.items.size()));
      for (const Item& item : op.items) {
        wire::PutString(out, item.sku);
        wire::PutI64(out, item.qty);
      }
      break;
    case OpKind::kConfirm:
    case OpKind::kCancel:
      wire::PutString(out, op.reservation_id);
      break;
    case OpKind::kGetSku:
    case OpKind::kGetReservation:
      break;
  }
}

absl::Status DecodeOperation(wire::WireReader* in, Operation* op, int64_t* now_ms) {
  auto bad = [] { return absl::DataLossError("journal: malformed operation"); };
  uint8_t kind = 0;
  if (!in->GetU8(&kind) || !in->GetI64(now_ms)) return bad();
  op->kind = static_cast<OpKind>(kind);
  switch (op->kind) {
    case OpKind::kAdjust:
      if (!in->GetString(&op->sku) || !in->GetI64(&op->delta) || !in->GetString(&op->op_id)) {
        return bad();
      }
      return absl::OkStatus();
    case OpKind::kReserve: {
      uint32_t n = 0;
      if (!in->GetString(&op->reservation_id) || !in->GetI64(&op->ttl_ms) ||
          !in->GetString(&op->user_id) || !in->GetU32(&n) || n > kReservationItemsMax) {
        return bad();
      }
      op->items.resize(n);
      for (Item& item : op->items) {
        if (!in->GetString(&item.sku) || !in->GetI64(&item.qty)) return bad();
      }
      return absl::OkStatus();
    }
    case OpKind::kConfirm:
    case OpKind::kCancel:
      if (!in->GetString(&op->reservation_id)) return bad();
      return absl::OkStatus();
    default:
      return bad();
  }
}

}  // namespace inventory

#include "inventory/engine/op_codec.h"

#include "inventory/engine/limits.h"

namespace inventory {

void EncodeOperation(const Operation& op, int64_t now_ms, std::string* out) {
  using wire::StringBytes;
  constexpr size_t kHead = 1 + 8;  // kind, now_ms
  switch (op.kind) {
    case OpKind::kAdjust: {
      const size_t n = kHead + StringBytes(op.sku) + 8 + StringBytes(op.op_id);
      char* p = wire::Extend(out, n);
      p = wire::StoreU8(p, static_cast<uint8_t>(op.kind));
      p = wire::StoreI64(p, now_ms);
      p = wire::StoreString(p, op.sku);
      p = wire::StoreI64(p, op.delta);
      wire::StoreString(p, op.op_id);
      return;
    }
    case OpKind::kReserve: {
      size_t n = kHead + StringBytes(op.reservation_id) + 8 + StringBytes(op.user_id) + 4;
      for (const Item& item : op.items) n += StringBytes(item.sku) + 8;
      char* p = wire::Extend(out, n);
      p = wire::StoreU8(p, static_cast<uint8_t>(op.kind));
      p = wire::StoreI64(p, now_ms);
      p = wire::StoreString(p, op.reservation_id);
      p = wire::StoreI64(p, op.ttl_ms);
      p = wire::StoreString(p, op.user_id);
      p = wire::StoreU32(p, static_cast<uint32_t>(op.items.size()));
      for (const Item& item : op.items) {
        p = wire::StoreString(p, item.sku);
        p = wire::StoreI64(p, item.qty);
      }
      return;
    }
    case OpKind::kConfirm:
    case OpKind::kCancel: {
      char* p = wire::Extend(out, kHead + StringBytes(op.reservation_id));
      p = wire::StoreU8(p, static_cast<uint8_t>(op.kind));
      p = wire::StoreI64(p, now_ms);
      wire::StoreString(p, op.reservation_id);
      return;
    }
    case OpKind::kGetSku:
    case OpKind::kGetReservation: {
      char* p = wire::Extend(out, kHead);
      p = wire::StoreU8(p, static_cast<uint8_t>(op.kind));
      wire::StoreI64(p, now_ms);
      return;
    }
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

#pragma once
// Binary encoding of a mutating Operation and the engine time it was applied at: the payload of the
// journal. Re-applying the decoded (operation, now_ms) pairs in order rebuilds the engine state.
//
// Layout (little-endian): u8 kind, i64 now_ms, then per kind
//   adjust:  str sku, i64 delta, str op_id
//   reserve: str reservation_id, i64 ttl_ms, str user_id, u32 n, n x (str sku, i64 qty)
//   confirm/cancel: str reservation_id
// where str is u16 length + bytes.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "inventory/engine/operation.h"
#include "inventory/engine/wire.h"

namespace inventory {

void EncodeOperation(const Operation& op, int64_t now_ms, std::string* out);
// Reads one operation from `in`. DataLoss when malformed (including a non-mutating kind).
absl::Status DecodeOperation(wire::WireReader* in, Operation* op, int64_t* now_ms);

}  // namespace inventory

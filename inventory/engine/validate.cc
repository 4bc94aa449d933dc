#include "inventory/engine/validate.h"

#include <fmt/format.h>

#include "inventory/engine/limits.h"

namespace inventory {
namespace {

constexpr bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '@' || c == '+' || c == '~' || c == '=';
}

// Problem with `id`, or nullptr. Field names are built only on failure (this runs per request).
const char* IdProblem(std::string_view id, size_t bytes_max) {
  if (id.empty()) return "must not be empty";
  if (id.size() > bytes_max) return "too long";
  for (char c : id) {
    if (!IdChar(c)) return "may contain only [A-Za-z0-9] and -_.:@+~=";
  }
  return nullptr;
}

std::optional<FieldError> CheckId(std::string_view id, size_t bytes_max, std::string_view field) {
  const char* problem = IdProblem(id, bytes_max);
  if (problem == nullptr) return std::nullopt;
  if (id.size() > bytes_max) {
    return FieldError{std::string(field), fmt::format("longer than {} bytes", bytes_max)};
  }
  return FieldError{std::string(field), problem};
}

}  // namespace

bool IsValidIdentifier(std::string_view id, size_t bytes_max) {
  if (id.empty() || id.size() > bytes_max) return false;
  for (char c : id) {
    if (!IdChar(c)) return false;
  }
  return true;
}

std::optional<FieldError> ValidateOperation(const Operation& op) {
  switch (op.kind) {
    case OpKind::kAdjust:
      if (auto e = CheckId(op.sku, kSkuBytesMax, "sku")) return e;
      if (op.delta == 0) return FieldError{"delta", "must not be 0"};
      if (op.delta > kDeltaAbsMax || op.delta < -kDeltaAbsMax) {
        return FieldError{"delta", fmt::format("magnitude above {}", kDeltaAbsMax)};
      }
      return CheckId(op.op_id, kIdBytesMax, "op_id");
    case OpKind::kGetSku:
      return CheckId(op.sku, kSkuBytesMax, "sku");
    case OpKind::kReserve: {
      if (auto e = CheckId(op.reservation_id, kIdBytesMax, "reservation_id")) return e;
      if (op.items.empty()) return FieldError{"items", "must hold at least one item"};
      if (op.items.size() > kReservationItemsMax) {
        return FieldError{"items", fmt::format("more than {} items", kReservationItemsMax)};
      }
      for (size_t i = 0; i < op.items.size(); ++i) {
        const Item& item = op.items[i];
        if (IdProblem(item.sku, kSkuBytesMax) != nullptr) {
          return CheckId(item.sku, kSkuBytesMax, fmt::format("items[{}].sku", i));
        }
        if (item.qty <= 0) return FieldError{fmt::format("items[{}].qty", i), "must be > 0"};
        if (item.qty > kQtyMax) {
          return FieldError{fmt::format("items[{}].qty", i), fmt::format("above {}", kQtyMax)};
        }
        for (size_t j = 0; j < i; ++j) {
          if (op.items[j].sku == item.sku) {
            return FieldError{fmt::format("items[{}].sku", i),
                              fmt::format("duplicate of items[{}].sku", j)};
          }
        }
      }
      if (op.ttl_ms < kTtlMsMin || op.ttl_ms > kTtlMsMax) {
        return FieldError{"ttl_ms", fmt::format("must be in [{}, {}]", kTtlMsMin, kTtlMsMax)};
      }
      if (!op.user_id.empty()) return CheckId(op.user_id, kIdBytesMax, "user_id");
      return std::nullopt;
    }
    case OpKind::kConfirm:
    case OpKind::kCancel:
    case OpKind::kGetReservation:
      return CheckId(op.reservation_id, kIdBytesMax, "reservation_id");
  }
  return FieldError{"op", "unknown operation"};
}

}  // namespace inventory

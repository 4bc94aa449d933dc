#pragma once
// Field validation of an Operation, shared by every protocol (HTTP JSON, gRPC) so they refuse
// exactly the same inputs with the same field names. Field paths use the JSON spelling
// ("items[0].qty").
//
// Identifiers (sku, reservation_id, op_id, user_id): 1..kSkuBytesMax / kIdBytesMax bytes of
// [A-Za-z0-9] and "-_.:@+~=" (no '/', '%', '?', '#' or quotes: ids appear in URL paths and logs).

#include <optional>
#include <string>
#include <string_view>

#include "inventory/engine/operation.h"

namespace inventory {

struct FieldError {
  std::string field;
  std::string message;
};

bool IsValidIdentifier(std::string_view id, size_t bytes_max);

// nullopt when `op` is valid. `user_id` may be empty (it is optional); the other ids may not.
std::optional<FieldError> ValidateOperation(const Operation& op);

}  // namespace inventory

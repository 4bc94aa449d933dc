#pragma once
// JSON request bodies -> Operations, with simdjson On-Demand directly over the request buffer (no
// copy: the server pads bodies, see core/http/json.h). Every field is type-checked and then the
// Operation is validated (engine/validate.h), so a refusal names the offending field as a JSON
// path, e.g. "items[0].qty" or, inside a batch, "ops[3].items[0].qty". Unknown and duplicate fields
// are refused too (a typo must not silently become a default).
//
// Bodies:
//   adjust   {"delta": int, "op_id": string}                         (+ "sku" in a batch op)
//   reserve  {"reservation_id": string, "items": [{"sku": string, "qty": int}], "ttl_ms": int,
//             "user_id": string (optional)}
//   batch    {"ops": [op, ...], "results": "all"|"failures" (optional, default "all")},
//             op = {"op": "reserve"|"adjust"|"confirm"|"cancel"|"get_sku"|"get_reservation",
//             ...fields of that operation...}, 1..kBatchOpsMax ops. With "failures" (ResultMode::
//             kFailures) the reply lists only failed ops, so a read (get_sku, get_reservation),
//             whose result would be dropped, is refused (field "ops[i].op").
//
// Thread safety: each thread uses its own simdjson parser (thread_local); callable from any thread.

#include <optional>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "inventory/engine/operation.h"
#include "inventory/engine/validate.h"
#include "inventory/service/submission.h"

namespace inventory {

// `body` must be followed by at least simdjson::SIMDJSON_PADDING readable bytes.
std::optional<FieldError> ParseAdjust(std::string_view body, size_t padded_size,
                                      std::string_view sku, Operation* op);
std::optional<FieldError> ParseReserve(std::string_view body, size_t padded_size, Operation* op);
std::optional<FieldError> ParseBatch(std::string_view body, size_t padded_size,
                                     absl::InlinedVector<Operation, 1>* ops,
                                     ResultMode* result_mode);

}  // namespace inventory

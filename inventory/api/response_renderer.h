#pragma once
// OpResult -> HTTP status and JSON body, built by hand into one std::string (hot path: no DOM).
//
//   SKU          {"sku","available","reserved","sold","version"}
//   reservation  {"reservation_id","state","expires_at_ms","items":[{"sku","qty"}][,"user_id"]}
//   error        {"error":"<code>","message":"..."[,"sku","available"][,"reservation_id"]}
//   batch        {"results":[{"status":<http status>,"body":<one of the above>}, ...]}
//   batch, "results":"failures"
//                {"failures":[{"index":<op index>,"status":<http status>,"body":<error>}, ...]}
//                (only the failed ops, in op order; [] when every op succeeded)
//
// Status per outcome: created 201; ok/replayed 200; *_not_found 404; insufficient_stock,
// reservation_conflict/expired/cancelled/confirmed, op_conflict, stock_limit 409;
// resource_exhausted (table or queue full) 429; unavailable (journal) 503.

#include <string>

#include "absl/types/span.h"
#include "core/http/response.h"
#include "inventory/engine/operation.h"
#include "inventory/engine/validate.h"

namespace inventory {

int HttpStatusOf(const OpResult& result);
// Appends the JSON body of `result` (without the batch wrapper).
void AppendResultJson(const OpResult& result, std::string* out);

core::http::Response RenderResult(const OpResult& result);
core::http::Response RenderBatch(absl::Span<const OpResult> results);
// `failures[j]` is the result of op `index[j]` (ResultMode::kFailures).
core::http::Response RenderBatchFailures(absl::Span<const OpResult> failures,
                                         absl::Span<const uint32_t> index);
// 400 {"error":"invalid_argument","field":...,"message":...}
core::http::Response RenderFieldError(const FieldError& error);

}  // namespace inventory

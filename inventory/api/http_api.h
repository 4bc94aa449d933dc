#pragma once
// The REST API of stockd (issue 3), on core::http::Router:
//
//   POST /v1/skus/{sku}/adjust              {"delta","op_id"}            -> 200 SKU
//   GET  /v1/skus/{sku}                                                  -> 200 SKU | 404
//   POST /v1/reservations                   {"reservation_id","items","ttl_ms","user_id"?}
//                                                                        -> 201 | 200 (replay) |
//                                                                        409
//   GET  /v1/reservations/{id}                                           -> 200 | 404
//   POST /v1/reservations/{id}/confirm                                   -> 200 | 404 | 409
//   POST /v1/reservations/{id}/cancel                                    -> 200 | 409
//   POST /v1/batch                          {"ops":[...]}                -> 200 {"results":[...]}
//   POST /v1/batch                          {"ops":[...],"results":"failures"}
//                                                                        -> 200 {"failures":[...]}
//
// Handlers run on the server's I/O threads: they parse and validate (400 naming the field, nothing
// queued), then hand a Submission to the Writer; the reply is sent from the writer's sync thread
// once the batch is durable (Responder::Send is thread-safe). A malformed op anywhere in a batch
// refuses the whole batch with 400 (field "ops[i]...."), so nothing of it is applied.
// "results":"failures" (opt-in, like TigerBeetle's create_transfers) applies and journals every op
// exactly as the default does, but the reply lists only the ops that failed, each with its index
// in "ops"; a 2xx op leaves nothing in the reply (a replayed reserve counts as a success). Reads
// are refused in that mode (their result would be dropped). The wire formats are in
// response_renderer.h.
//
// Thread safety: Register() at start-up; handlers are safe on any I/O thread.

#include "core/http/router.h"
#include "inventory/service/writer.h"

namespace inventory {

class HttpApi {
 public:
  explicit HttpApi(Writer* writer) : writer_(writer) {}
  void Register(core::http::Router& router);

 private:
  Writer* writer_;
};

}  // namespace inventory

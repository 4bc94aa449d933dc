#pragma once
// JSON helpers for handlers: error bodies in the one shape every endpoint uses, string escaping for
// hand-built hot-path bodies, and a zero-copy simdjson view of a request body.
//
// Error body shape: {"error":"<code>","message":"<text>"[,"field":"<json path>"]}
//   code: a stable snake_case identifier clients switch on (invalid_argument, not_found, ...)
//   field: the offending input field, e.g. "items[0].qty", when there is one.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/http/request.h"
#include "core/http/response.h"
#include "simdjson.h"

namespace core::http {

static_assert(kBodyPaddingBytes >= simdjson::SIMDJSON_PADDING);

// Appends `s` to `out` as a JSON string literal (with quotes).
void AppendJsonString(std::string* out, std::string_view s);
std::string JsonString(std::string_view s);

std::string JsonErrorBody(std::string_view error, std::string_view message,
                          std::string_view field = {});
Response JsonError(int status, std::string_view error, std::string_view message,
                   std::string_view field = {});

// Maps an absl::Status to the HTTP status a client should see (InvalidArgument->400, NotFound->404,
// AlreadyExists/FailedPrecondition/Aborted->409, ResourceExhausted->429, Unavailable->503,
// DeadlineExceeded->504, Unauthenticated->401, PermissionDenied->403, else 500).
int HttpStatusFromStatus(const absl::Status& status);
// "invalid_argument", "not_found", ... (absl code name in snake case).
std::string_view ErrorCodeName(absl::StatusCode code);
Response ResponseFromStatus(const absl::Status& status, std::string_view field = {});

// A simdjson view of the request body without copying it (the server guarantees the padding).
inline simdjson::padded_string_view PaddedBody(const Request& req) {
  return simdjson::padded_string_view(req.body.data(), req.body.size(),
                                      req.body.size() + req.body_padding_bytes());
}

}  // namespace core::http

#pragma once
// Small pieces the gateway's REST, gRPC and streaming front ends share.

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>

#include "core/http/json.h"
#include "core/http/response.h"

namespace inference::gateway {

// The JSON error answer of every gateway REST endpoint: {"error","code"[,"field"]}.
inline core::http::Response JsonError(int status, std::string_view code, std::string_view message,
                                      std::string_view field = {}) {
  std::string body = "{\"error\":";
  core::http::AppendJsonString(&body, message);
  body.append(",\"code\":");
  core::http::AppendJsonString(&body, code);
  if (!field.empty()) {
    body.append(",\"field\":");
    core::http::AppendJsonString(&body, field);
  }
  body.push_back('}');
  return core::http::Response::Json(status, std::move(body));
}

// A client metadata value of a gRPC call, or "" when absent.
inline std::string_view ClientMetadata(const grpc::CallbackServerContext* ctx,
                                       std::string_view key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return {};
  return {it->second.data(), it->second.size()};
}

}  // namespace inference::gateway

#pragma once
// Helpers shared by the gRPC and SSE halves of StreamProxy (not a public interface).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/routing/routing_watcher.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace inference::gateway::stream_internal {

// The version a new request or sequence goes to: `pinned` when given (NotFound when no ready
// worker serves it), else the routing split sticky on `user_id`; "" lets the worker choose.
absl::StatusOr<std::string> ResolveVersion(EndpointSet* endpoints, RoutingWatcher* routing,
                                           std::string_view model, std::string_view pinned,
                                           std::string_view user_id);

// The gRPC status of an error response text "CODE: message", for counting; UNKNOWN otherwise.
grpc::StatusCode CodeOf(std::string_view error_message);

// Whether a finished upstream stream counts as the endpoint's failure.
bool StreamEndpointFault(const grpc::Status& status);

}  // namespace inference::gateway::stream_internal

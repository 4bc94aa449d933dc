#pragma once
// RestProxy: the gateway's KServe v2 REST front end (same paths as the worker).
//
//   POST /v2/models/{m}[/versions/{v}]/infer   routed, QoS-admitted, load-balanced, retried once
//   POST /v2/models/{m}[/versions/{v}]/generate_stream   SSE (streaming/stream_proxy.h)
//   GET  /v2/models/{m}[/versions/{v}][/ready]  forwarded to one ready worker
//   GET|POST /v2/repository/index               forwarded to one ready worker
//   POST /v2/repository/models/{m}/load|unload  admin key; sent to every worker
//   GET|POST /v2/gateway/routing                admin key; read / replace the routing (YAML body)
//   GET  /v2, /v2/health/live, /v2/health/ready the gateway's own (ready: >= 1 ready worker)
//
// Request headers:  Authorization: Bearer <key>; X-Model-Version (pin); X-User-Id (sticky split);
//                   X-QoS-Level gold|silver|bronze; X-Request-Timeout-Ms (deadline); traceparent.
// Sent to the worker: the KServe "priority" (from the QoS level) and "timeout" (remaining deadline,
// us) request parameters appended to the JSON body, the X-Request-Timeout-Ms and traceparent
// headers. Answer headers: X-Model-Version (the version that served), traceparent.
//
// A request that fails before reaching the model (connect refused, pool full, worker not ready,
// worker queue full) is retried once on another endpoint; a timeout or a 500 is not retried.
//
// Thread safety: handlers run on the HTTP server's I/O threads; completion on the upstream pool's
// threads, handed back through the Responder. All pointers must outlive the proxy.

#include <atomic>
#include <cstdint>
#include <string>

#include "core/clock/clock.h"
#include "core/http/router.h"
#include "inference/gateway/auth/api_key_auth.h"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/gateway_metrics.h"
#include "inference/gateway/qos/qos_admission.h"
#include "inference/gateway/routing/routing_watcher.h"
#include "inference/gateway/upstream/upstream_pool.h"

namespace inference::gateway {

inline constexpr int64_t kRequestTimeoutMsMax = 10 * 60 * 1000;

struct RestProxyOptions {
  int64_t request_timeout_ms_default = 30'000;
  bool access_log = false;  // one info line per request (trace id, model, version, status)
};

class StreamProxy;

class RestProxy {
 public:
  // `streams` serves generate_stream (the routes are not registered when null).
  RestProxy(RestProxyOptions options, EndpointSet* endpoints, UpstreamPool* pool,
            RoutingWatcher* routing, ApiKeyAuth* auth, QosAdmission* qos, GatewayMetrics* metrics,
            core::Clock* clock, StreamProxy* streams = nullptr);
  void Register(core::http::Router* router);

  // The member ,"parameters":{"priority":P,"timeout":T} (timeout omitted when <= 0; no comma for an
  // empty object) to add to the top-level JSON object in `body`: written to *member, and the
  // position to insert it at (the closing brace) returned. Later keys win in the worker's decoder,
  // so the gateway's priority overrides a client's. npos (*member untouched) when `body` is not a
  // JSON object.
  static size_t ParametersMember(std::string_view body, int priority, int64_t timeout_us,
                                 std::string* member);

 private:
  struct InferCall;
  void Infer(core::http::Request& req, core::http::Responder responder);
  void Attempt(std::shared_ptr<InferCall> call, const Endpoint* exclude);
  void Finish(const std::shared_ptr<InferCall>& call, core::http::Response response,
              std::string_view outcome);
  void Forward(core::http::Request& req, core::http::Responder responder);
  void FanOut(core::http::Request& req, core::http::Responder responder);
  // Sends the answer for a failed auth check; returns true when the request may go on.
  bool CheckAuth(core::http::Request& req, core::http::Responder& responder, bool admin);

  const RestProxyOptions options_;
  EndpointSet* const endpoints_;
  UpstreamPool* const pool_;
  RoutingWatcher* const routing_;
  ApiKeyAuth* const auth_;
  QosAdmission* const qos_;
  GatewayMetrics* const metrics_;
  core::Clock* const clock_;
  StreamProxy* const streams_;
};

}  // namespace inference::gateway

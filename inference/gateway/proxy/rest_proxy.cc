#include "inference/gateway/proxy/rest_proxy.h"

#include <charconv>
#include <iterator>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "core/http/json.h"
#include "core/log/request_id.h"
#include "fmt/format.h"
#include "inference/gateway/proxy/proxy_util.h"
#include "inference/gateway/proxy/trace_context.h"
#include "inference/gateway/streaming/stream_proxy.h"
#include "inference/gateway/upstream/stats_poller.h"
#include "spdlog/spdlog.h"

namespace inference::gateway {

using core::http::Request;
using core::http::Responder;
using core::http::Response;

namespace {

uint64_t ThreadRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

std::string RetryAfterSeconds(int64_t ms) {
  return std::to_string(std::max<int64_t>(1, (ms + 999) / 1000));
}

std::string_view ContentTypeFor(std::string_view upstream) {
  if (upstream.starts_with("text/plain; version=0.0.4")) return core::http::kContentTypePrometheus;
  if (upstream.starts_with("text/plain")) return core::http::kContentTypeText;
  return core::http::kContentTypeJson;
}

void AppendRequestHead(std::string* out, std::string_view method, std::string_view target,
                       size_t body_bytes) {
  out->append(method).push_back(' ');
  out->append(target);
  out->append(" HTTP/1.1\r\nHost: worker\r\n");
  if (body_bytes > 0 || method == "POST") {
    out->append(
        fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body_bytes));
  }
}

}  // namespace

struct RestProxy::InferCall {
  Responder responder;
  QosAdmission::Ticket ticket;
  std::string model;
  std::string version;  // "" when the worker picks
  QosLevel qos = QosLevel::kSilver;
  TraceContext trace;
  std::string request;  // complete upstream request, kept for the retry
  int64_t start_ns = 0;
  int64_t deadline_ns = 0;
  int attempts = 0;
};

RestProxy::RestProxy(RestProxyOptions options, EndpointSet* endpoints, UpstreamPool* pool,
                     RoutingWatcher* routing, ApiKeyAuth* auth, QosAdmission* qos,
                     GatewayMetrics* metrics, core::Clock* clock, StreamProxy* streams)
    : options_(options),
      endpoints_(endpoints),
      pool_(pool),
      routing_(routing),
      auth_(auth),
      qos_(qos),
      metrics_(metrics),
      clock_(clock),
      streams_(streams) {}

size_t RestProxy::ParametersMember(std::string_view body, int priority, int64_t timeout_us,
                                   std::string* member) {
  const size_t end = body.find_last_not_of(" \t\r\n");
  const size_t begin = body.find_first_not_of(" \t\r\n");
  if (end == std::string_view::npos || body[end] != '}' || body[begin] != '{') {
    return std::string_view::npos;
  }
  const size_t before = body.find_last_not_of(" \t\r\n", end - 1);
  const bool empty_object = before == begin;
  member->clear();
  if (!empty_object) member->push_back(',');
  fmt::format_to(std::back_inserter(*member), "\"parameters\":{{\"priority\":{}", priority);
  if (timeout_us > 0) fmt::format_to(std::back_inserter(*member), ",\"timeout\":{}", timeout_us);
  member->push_back('}');
  return end;
}

bool RestProxy::CheckAuth(Request& req, Responder& responder, bool admin) {
  AuthResult a = auth_->Authenticate(req.header("Authorization"));
  // A known key without admin rights gets 403 on admin endpoints even when over its rate.
  if (admin && (a.status.ok() || a.key_name != nullptr)) {
    if (absl::Status s = auth_->RequireAdmin(a); !s.ok()) a.status = s;
  }
  if (a.status.ok()) return true;
  const std::string message(a.status.message());
  switch (a.status.code()) {
    case absl::StatusCode::kResourceExhausted:
      metrics_->rate_limited().Inc();
      responder.Send(
          std::move(JsonError(429, "rate_limited", message)
                        .WithHeader("Retry-After", RetryAfterSeconds(a.retry_after_ms))));
      return false;
    case absl::StatusCode::kPermissionDenied:
      responder.Send(JsonError(403, "permission_denied", message));
      return false;
    default:
      responder.Send(std::move(
          JsonError(401, "unauthenticated", message).WithHeader("WWW-Authenticate", "Bearer")));
      return false;
  }
}

void RestProxy::Register(core::http::Router* router) {
  auto infer = [this](Request& req, Responder r) { Infer(req, std::move(r)); };
  router->Post("/v2/models/{model}/infer", infer);
  router->Post("/v2/models/{model}/versions/{version}/infer", infer);
  if (streams_ != nullptr) {
    auto generate = [this](Request& req, Responder r) {
      if (CheckAuth(req, r, false)) streams_->GenerateSse(req, std::move(r));
    };
    router->Post("/v2/models/{model}/generate_stream", generate);
    router->Post("/v2/models/{model}/versions/{version}/generate_stream", generate);
  }
  auto forward = [this](Request& req, Responder r) {
    if (CheckAuth(req, r, false)) Forward(req, std::move(r));
  };
  router->Get("/v2/models/{model}", forward);
  router->Get("/v2/models/{model}/ready", forward);
  router->Get("/v2/models/{model}/versions/{version}", forward);
  router->Get("/v2/models/{model}/versions/{version}/ready", forward);
  router->Get("/v2/repository/index", forward);
  router->Post("/v2/repository/index", forward);
  auto fan_out = [this](Request& req, Responder r) {
    if (CheckAuth(req, r, true)) FanOut(req, std::move(r));
  };
  router->Post("/v2/repository/models/{model}/load", fan_out);
  router->Post("/v2/repository/models/{model}/unload", fan_out);
  router->Get("/v2/gateway/routing", [this](Request& req, Responder r) {
    if (!CheckAuth(req, r, true)) return;
    r.Send(Response::Json(200, routing_->current()->ToJson()));
  });
  router->Post("/v2/gateway/routing", [this](Request& req, Responder r) {
    if (!CheckAuth(req, r, true)) return;
    auto table = RoutingTable::Parse(req.body, "request body");
    if (!table.ok()) {
      r.Send(JsonError(400, "invalid_argument", std::string(table.status().message())));
      return;
    }
    routing_->Apply(*std::move(table));
    r.Send(Response::Json(200, routing_->current()->ToJson()));
  });
  router->Get("/v2", [](Request&, Responder r) {
    r.Send(Response::Json(200, R"({"name":"infer-gateway","version":"0.1.0","extensions":[]})"));
  });
  router->Get("/v2/health/live",
              [](Request&, Responder r) { r.Send(Response::Json(200, R"({"live":true})")); });
  router->Get("/v2/health/ready", [this](Request&, Responder r) {
    const bool ready = endpoints_->ReadyCount() > 0;
    r.Send(Response::Json(ready ? 200 : 503, ready ? R"({"ready":true})" : R"({"ready":false})"));
  });
}

void RestProxy::Infer(Request& req, Responder responder) {
  auto call = std::make_shared<InferCall>();
  call->start_ns = clock_->NowNs();
  call->trace = TraceContext::FromHeader(req.header("traceparent"));
  core::log::RequestIdScope scope(call->trace.trace_id);
  call->model = std::string(req.param("model"));
  if (!CheckAuth(req, responder, false)) {
    metrics_->CountRequest(call->model, "", QosLevel::kSilver, "refused_auth");
    return;
  }
  absl::StatusOr<QosLevel> qos = ParseQos(req.header("X-QoS-Level"));
  if (!qos.ok()) {
    responder.Send(JsonError(400, "invalid_argument", std::string(qos.status().message())));
    return;
  }
  call->qos = *qos;
  // Version: the path or X-Model-Version pins; otherwise the routing split.
  std::string_view pinned = req.param("version");
  if (pinned.empty()) pinned = req.header("X-Model-Version");
  if (!pinned.empty()) {
    if (!endpoints_->AnyHasVersion(call->model, pinned)) {
      metrics_->CountRequest(call->model, "", call->qos, "not_found");
      responder.Send(JsonError(404, "not_found",
                               fmt::format("model '{}' version '{}' is unknown or not ready on any "
                                           "worker",
                                           call->model, pinned)));
      return;
    }
    call->version = std::string(pinned);
  } else {
    const std::shared_ptr<const RoutingTable> table = routing_->current();
    if (auto v = table->Resolve(call->model, req.header("X-User-Id"), ThreadRandom())) {
      call->version = std::string(*v);
    }
  }
  absl::StatusOr<QosAdmission::Ticket> ticket = qos_->Admit(call->qos, endpoints_->ReadyCount());
  if (!ticket.ok()) {
    metrics_->Shed(call->qos).Inc();
    metrics_->CountRequest(call->model, call->version, call->qos, "shed");
    responder.Send(
        std::move(JsonError(503, "unavailable", std::string(ticket.status().message()))
                      .WithHeader("Retry-After", std::to_string(qos_->retry_after_s()))));
    return;
  }
  call->ticket = *std::move(ticket);
  int64_t timeout_ms = options_.request_timeout_ms_default;
  if (std::string_view t = req.header("X-Request-Timeout-Ms"); !t.empty()) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), timeout_ms);
    if (ec != std::errc() || p != t.data() + t.size() || timeout_ms < 1 ||
        timeout_ms > kRequestTimeoutMsMax) {
      responder.Send(
          JsonError(400, "invalid_argument",
                    fmt::format("X-Request-Timeout-Ms: expected [1, {}]", kRequestTimeoutMsMax)));
      return;
    }
  }
  call->deadline_ns = call->start_ns + timeout_ms * 1'000'000;
  // The worker's request in one buffer: head, then the client's body with "parameters" spliced in
  // before its closing brace (a body that is no JSON object goes as it is: the worker answers 400).
  const std::string_view body = req.body;
  std::string params;  // stays empty for a body that is no JSON object
  size_t at = ParametersMember(body, WorkerPriority(call->qos), timeout_ms * 1000, &params);
  if (at == std::string_view::npos) at = body.size();
  const std::string target = call->version.empty() ? fmt::format("/v2/models/{}/infer", call->model)
                                                   : fmt::format("/v2/models/{}/versions/{}/infer",
                                                                 call->model, call->version);
  call->request.reserve(body.size() + params.size() + 256);
  AppendRequestHead(&call->request, "POST", target, body.size() + params.size());
  fmt::format_to(std::back_inserter(call->request),
                 "X-Request-Timeout-Ms: {}\r\ntraceparent: {}\r\n\r\n", timeout_ms,
                 call->trace.Header());
  call->request.append(body.substr(0, at));
  call->request.append(params);
  call->request.append(body.substr(at));
  call->responder = std::move(responder);
  Attempt(std::move(call), nullptr);
}

void RestProxy::Attempt(std::shared_ptr<InferCall> call, const Endpoint* exclude) {
  const int64_t now_ns = clock_->NowNs();
  if (now_ns >= call->deadline_ns) {
    Finish(call, JsonError(504, "deadline_exceeded", "request deadline passed"), "timeout");
    return;
  }
  absl::StatusOr<EndpointPtr> picked =
      endpoints_->PickForVersion(call->model, call->version, exclude);
  if (!picked.ok()) {
    Finish(call,
           JsonError(503, "unavailable", std::string(picked.status().message()))
               .WithHeader("Retry-After", "1"),
           "unavailable");
    return;
  }
  EndpointPtr e = *std::move(picked);
  ++call->attempts;
  e->inflight.fetch_add(1, std::memory_order_relaxed);
  e->requests.fetch_add(1, std::memory_order_relaxed);
  const int64_t remaining_ms = std::max<int64_t>(1, (call->deadline_ns - now_ns) / 1'000'000);
  // The pool hands the bytes back in the response (UpstreamResponse::request) for a retry.
  pool_->Send(
      TransportOf(*e)->target, std::move(call->request), remaining_ms,
      [this, call, e, sent_ns = now_ns](UpstreamResponse&& r) mutable {
        e->inflight.fetch_sub(1, std::memory_order_relaxed);
        call->request = std::move(r.request);
        const double latency_us = static_cast<double>(clock_->NowNs() - sent_ns) / 1000;
        const bool may_retry = call->attempts == 1;
        if (!r.status.ok()) {
          endpoints_->RecordResult(*e, false, latency_us);
          if (!r.reached_worker && may_retry) {
            metrics_->retries().Inc();
            Attempt(std::move(call), e.get());
            return;
          }
          const bool timeout = r.status.code() == absl::StatusCode::kDeadlineExceeded;
          Finish(call,
                 JsonError(timeout ? 504 : 502, timeout ? "deadline_exceeded" : "bad_gateway",
                           std::string(r.status.message())),
                 timeout ? "timeout" : "upstream_error");
          return;
        }
        metrics_->UpstreamLatency(e->name()).Observe(latency_us / 1e6);
        // 503 (not ready, unloading) and 429 (queue full) mean the model never saw it.
        const bool not_run = r.http_status == 503 || r.http_status == 429;
        endpoints_->RecordResult(*e, r.http_status < 500 || r.http_status == 503, latency_us);
        if (not_run && may_retry && endpoints_->ReadyCount() > 1) {
          metrics_->retries().Inc();
          Attempt(std::move(call), e.get());
          return;
        }
        const int status = r.http_status;
        std::string_view outcome = status < 300   ? "ok"
                                   : status < 500 ? "client_error"
                                                  : "server_error";
        Response resp;
        resp.status = status;
        resp.body = std::move(r.body);
        resp.content_type = ContentTypeFor(r.content_type);
        if (!r.retry_after.empty()) resp.WithHeader("Retry-After", r.retry_after);
        Finish(call, std::move(resp), outcome);
      });
}

void RestProxy::Finish(const std::shared_ptr<InferCall>& call, Response response,
                       std::string_view outcome) {
  call->ticket.Release();
  metrics_->CountRequest(call->model, call->version, call->qos, outcome);
  if (!call->version.empty()) response.WithHeader("X-Model-Version", call->version);
  response.WithHeader("traceparent", call->trace.Header());
  if (options_.access_log || response.status >= 500) {
    core::log::RequestIdScope scope(call->trace.trace_id);
    const double ms = static_cast<double>(clock_->NowNs() - call->start_ns) / 1e6;
    if (response.status >= 500) {
      spdlog::warn("infer {} v{} qos={} -> {} ({:.2f} ms, {} attempts)", call->model, call->version,
                   QosName(call->qos), response.status, ms, call->attempts);
    } else {
      spdlog::info("infer {} v{} qos={} -> {} ({:.2f} ms)", call->model, call->version,
                   QosName(call->qos), response.status, ms);
    }
  }
  call->responder.Send(std::move(response));
}

void RestProxy::Forward(Request& req, Responder responder) {
  absl::StatusOr<EndpointPtr> picked = endpoints_->Pick();
  if (!picked.ok()) {
    responder.Send(std::move(JsonError(503, "unavailable", std::string(picked.status().message()))
                                 .WithHeader("Retry-After", "1")));
    return;
  }
  EndpointPtr e = *std::move(picked);
  std::string request;
  AppendRequestHead(&request, req.method_name, req.target, req.body.size());
  request.append("\r\n");
  request.append(req.body);
  auto shared = std::make_shared<Responder>(std::move(responder));
  pool_->Send(TransportOf(*e)->target, std::move(request), options_.request_timeout_ms_default,
              [this, e, shared](UpstreamResponse&& r) {
                endpoints_->RecordResult(*e, r.status.ok() && r.http_status < 500, 0);
                if (!r.status.ok()) {
                  shared->Send(JsonError(502, "bad_gateway", std::string(r.status.message())));
                  return;
                }
                Response resp;
                resp.status = r.http_status;
                resp.body = std::move(r.body);
                resp.content_type = ContentTypeFor(r.content_type);
                shared->Send(std::move(resp));
              });
}

void RestProxy::FanOut(Request& req, Responder responder) {
  // Every worker gets the load/unload, so they keep serving the same versions.
  const auto list = endpoints_->snapshot();
  struct State {
    explicit State(Responder r) : responder(std::move(r)) {}
    Responder responder;
    std::mutex mu;
    size_t pending = 0;
    Response first_error;
    bool failed = false;
  };
  auto state = std::make_shared<State>(std::move(responder));
  std::vector<EndpointPtr> targets;
  for (const auto& e : *list) {
    if (!e->draining.load()) targets.push_back(e);
  }
  if (targets.empty()) {
    state->responder.Send(JsonError(503, "unavailable", "no worker endpoint"));
    return;
  }
  state->pending = targets.size();
  std::string request;
  AppendRequestHead(&request, req.method_name, req.target, req.body.size());
  request.append("\r\n");
  request.append(req.body);
  for (const auto& e : targets) {
    pool_->Send(TransportOf(*e)->target, request, options_.request_timeout_ms_default,
                [state, e](UpstreamResponse&& r) {
                  std::lock_guard<std::mutex> lock(state->mu);
                  if (!state->failed && (!r.status.ok() || r.http_status != 200)) {
                    state->failed = true;
                    state->first_error =
                        r.status.ok() ? Response::Json(r.http_status, std::move(r.body))
                                      : JsonError(502, "bad_gateway",
                                                  fmt::format("{}: {}", e->name(),
                                                              std::string(r.status.message())));
                  }
                  if (--state->pending > 0) return;
                  state->responder.Send(state->failed ? std::move(state->first_error)
                                                      : Response::Json(200, "{}"));
                });
  }
}

}  // namespace inference::gateway

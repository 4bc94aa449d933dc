#include "inference/gateway/proxy/grpc_proxy.h"

#include <array>
#include <chrono>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "core/log/request_id.h"
#include "fmt/format.h"
#include "inference/gateway/proxy/infer_request_wire.h"
#include "inference/gateway/proxy/proxy_util.h"
#include "inference/gateway/proxy/trace_context.h"
#include "inference/gateway/streaming/stream_proxy.h"
#include "inference/gateway/upstream/grpc_upstream.h"
#include "inference/gateway/upstream/stats_poller.h"
#include "spdlog/spdlog.h"

namespace inference::gateway {
namespace {

constexpr char kModelInferMethod[] = "/inference.GRPCInferenceService/ModelInfer";
constexpr char kServerName[] = "infer-gateway";
constexpr char kServerVersion[] = "0.1.0";

uint64_t ThreadRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The worker's own UNAVAILABLE answers for a request it did not run (inference/repository,
// inference/batcher): no ready version, unloading, shutting down.
bool WorkerDidNotRun(const grpc::Status& s) {
  const std::string& m = s.error_message();
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         (Contains(m, "has no ready version") || Contains(m, "is unloading") ||
          Contains(m, "shutting down"));
}

bool ConnectFailed(const grpc::Status& s) {
  const std::string& m = s.error_message();
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         (Contains(m, "failed to connect") || Contains(m, "Connection refused") ||
          Contains(m, "No such file or directory"));
}

// Whether the endpoint (not the request) is at fault: counts against its breaker.
bool EndpointFault(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return !WorkerDidNotRun(s);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    default:
      return false;
  }
}

std::string_view OutcomeOf(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return "ok";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "timeout";
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::CANCELLED:
      return "client_error";
    case grpc::StatusCode::UNAVAILABLE:
      return "upstream_error";
    default:
      return "server_error";
  }
}

std::chrono::system_clock::time_point DeadlineIn(int64_t ns) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::nanoseconds(std::max<int64_t>(ns, 1)));
}

// A client whose deadline passes cancels its call (RST_STREAM) one transit time before the
// gateway's copy of that deadline (set from `grpc-timeout` on arrival) expires. A cancellation
// this close to the deadline is counted as the deadline.
constexpr int64_t kDeadlineSlackNs = 20'000'000;

// Remaining time of the client's deadline, capped by `default_ms`.
int64_t RemainingNs(const grpc::CallbackServerContext* ctx, int64_t default_ms) {
  const int64_t default_ns = default_ms * 1'000'000;
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return default_ns;
  const int64_t left = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           deadline - std::chrono::system_clock::now())
                           .count();
  return std::min(left, default_ns);
}

}  // namespace

struct GrpcProxy::InferCall {
  grpc::CallbackServerContext* ctx = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
  grpc::ByteBuffer* response = nullptr;  // the client's answer; valid until Finish
  grpc::ByteBuffer request;              // the client's bytes (shared slices)
  QosAdmission::Ticket ticket;
  std::string model;
  std::string version;  // "" when the worker picks
  QosLevel qos = QosLevel::kSilver;
  TraceContext trace;
  int64_t start_ns = 0;
  int64_t deadline_ns = 0;
  int attempts = 0;
  // One upstream context per attempt; kept until the call ends (never destroyed inside its own
  // completion).
  std::array<std::unique_ptr<grpc::ClientContext>, 2> upstream_ctx;
  grpc::ByteBuffer upstream_request;
  grpc::ByteBuffer upstream_response;
};

GrpcProxy::GrpcProxy(GrpcProxyOptions options, EndpointSet* endpoints, RoutingWatcher* routing,
                     ApiKeyAuth* auth, QosAdmission* qos, GatewayMetrics* metrics,
                     core::Clock* clock, StreamProxy* streams)
    : options_(options),
      endpoints_(endpoints),
      routing_(routing),
      auth_(auth),
      qos_(qos),
      metrics_(metrics),
      clock_(clock),
      streams_(streams) {}

bool GrpcProxy::TryEnter(grpc::CallbackServerContext* ctx, grpc::Status* refused) {
  if (inflight_.fetch_add(1, std::memory_order_relaxed) < options_.inflight_max) return true;
  inflight_.fetch_sub(1, std::memory_order_relaxed);
  ctx->AddTrailingMetadata("retry-after", std::to_string(qos_->retry_after_s()));
  *refused = grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      fmt::format("grpc_inflight_max: {} calls already in flight", options_.inflight_max));
  return false;
}

bool GrpcProxy::FailedBeforeModel(const grpc::Status& s) {
  return ConnectFailed(s) || WorkerDidNotRun(s) ||
         s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

grpc::Status GrpcProxy::CheckAuth(grpc::CallbackServerContext* ctx, bool admin) {
  AuthResult a = auth_->Authenticate(ClientMetadata(ctx, "authorization"));
  // A known key without admin rights gets PERMISSION_DENIED on admin RPCs even when over its rate.
  if (admin && (a.status.ok() || a.key_name != nullptr)) {
    if (absl::Status s = auth_->RequireAdmin(a); !s.ok()) a.status = s;
  }
  if (a.status.ok()) return grpc::Status::OK;
  const std::string message(a.status.message());
  switch (a.status.code()) {
    case absl::StatusCode::kResourceExhausted: {
      metrics_->rate_limited().Inc();
      const int64_t seconds = std::max<int64_t>(1, (a.retry_after_ms + 999) / 1000);
      ctx->AddTrailingMetadata("retry-after", std::to_string(seconds));
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          fmt::format("metadata 'authorization': {}; retry after {} ms", message,
                                      a.retry_after_ms));
    }
    case absl::StatusCode::kPermissionDenied:
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          fmt::format("metadata 'authorization': {}", message));
    default:
      return grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          fmt::format("metadata 'authorization': {} (expected 'Bearer <key>')", message));
  }
}

grpc::ServerUnaryReactor* GrpcProxy::ServerLive(grpc::CallbackServerContext* ctx,
                                                const ServerLiveRequest*,
                                                ServerLiveResponse* resp) {
  resp->set_live(true);
  return FinishNow(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcProxy::ServerReady(grpc::CallbackServerContext* ctx,
                                                 const ServerReadyRequest*,
                                                 ServerReadyResponse* resp) {
  resp->set_ready(endpoints_->ReadyCount() > 0);
  return FinishNow(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* GrpcProxy::ServerMetadata(grpc::CallbackServerContext* ctx,
                                                    const ServerMetadataRequest*,
                                                    ServerMetadataResponse* resp) {
  resp->set_name(kServerName);
  resp->set_version(kServerVersion);
  resp->add_extensions("model_repository");
  return FinishNow(ctx, grpc::Status::OK);
}

template <typename Req, typename Resp, typename Invoke>
grpc::ServerUnaryReactor* GrpcProxy::Forward(grpc::CallbackServerContext* ctx, const Req* req,
                                             Resp* resp, bool admin, Invoke invoke) {
  if (grpc::Status s = CheckAuth(ctx, admin); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<EndpointPtr> picked = endpoints_->Pick();
  if (!picked.ok()) {
    return FinishNow(
        ctx, grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(picked.status().message())));
  }
  EndpointPtr e = *std::move(picked);
  GrpcUpstream* upstream = TransportOf(*e)->grpc.get();
  if (upstream == nullptr) {
    endpoints_->RecordResult(*e, true, 0);  // resolves a half-open probe; not the endpoint's fault
    return FinishNow(ctx, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                       fmt::format("endpoint {} has no gRPC address", e->name())));
  }
  if (grpc::Status refused; !TryEnter(ctx, &refused)) {
    endpoints_->RecordResult(*e, true, 0);
    return FinishNow(ctx, refused);
  }
  std::shared_ptr<grpc::ClientContext> client(
      grpc::ClientContext::FromCallbackServerContext(*ctx).release());
  client->set_deadline(DeadlineIn(RemainingNs(ctx, options_.request_timeout_ms_default)));
  if (std::string_view t = ClientMetadata(ctx, "traceparent"); IsValidTraceparent(t)) {
    client->AddMetadata("traceparent", std::string(t));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const int64_t sent_ns = clock_->NowNs();
  invoke(*upstream, client.get(), req, resp, [this, reactor, client, e, sent_ns](grpc::Status s) {
    endpoints_->RecordResult(*e, !EndpointFault(s),
                             static_cast<double>(clock_->NowNs() - sent_ns) / 1000);
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    reactor->Finish(s);
  });
  return reactor;
}

template <typename Req, typename Resp, typename Invoke>
grpc::ServerUnaryReactor* GrpcProxy::FanOut(grpc::CallbackServerContext* ctx, const Req* req,
                                            Invoke invoke) {
  if (grpc::Status s = CheckAuth(ctx, true); !s.ok()) return FinishNow(ctx, s);
  // Every worker gets the load/unload, so they keep serving the same versions.
  std::vector<EndpointPtr> targets;
  for (const auto& e : *endpoints_->snapshot()) {
    if (!e->draining.load() && TransportOf(*e)->grpc != nullptr) targets.push_back(e);
  }
  if (targets.empty()) {
    return FinishNow(ctx, grpc::Status(grpc::StatusCode::UNAVAILABLE, "no worker endpoint"));
  }
  if (grpc::Status refused; !TryEnter(ctx, &refused)) return FinishNow(ctx, refused);
  struct State {
    grpc::ServerUnaryReactor* reactor;
    Req request;
    std::mutex mu;
    size_t pending = 0;
    grpc::Status first_error;
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<Resp> responses;
  };
  auto state = std::make_shared<State>();
  state->reactor = ctx->DefaultReactor();
  state->request = *req;
  state->pending = targets.size();
  state->responses.resize(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(DeadlineIn(RemainingNs(ctx, options_.request_timeout_ms_default)));
    state->contexts.push_back(std::move(c));
  }
  grpc::ServerUnaryReactor* reactor = state->reactor;
  for (size_t i = 0; i < targets.size(); ++i) {
    const EndpointPtr& e = targets[i];
    invoke(*TransportOf(*e)->grpc, state->contexts[i].get(), &state->request, &state->responses[i],
           [this, state, name = e->name()](grpc::Status s) {
             std::lock_guard<std::mutex> lock(state->mu);
             if (!s.ok() && state->first_error.ok()) {
               state->first_error =
                   grpc::Status(s.error_code(), fmt::format("{}: {}", name, s.error_message()));
             }
             if (--state->pending > 0) return;
             inflight_.fetch_sub(1, std::memory_order_relaxed);
             state->reactor->Finish(state->first_error);
           });
  }
  return reactor;
}

grpc::ServerUnaryReactor* GrpcProxy::ModelReady(grpc::CallbackServerContext* ctx,
                                                const ModelReadyRequest* req,
                                                ModelReadyResponse* resp) {
  return Forward(ctx, req, resp, false,
                 [](GrpcUpstream& u, grpc::ClientContext* c, const ModelReadyRequest* rq,
                    ModelReadyResponse* rs, std::function<void(grpc::Status)> done) {
                   u.stub->async()->ModelReady(c, rq, rs, std::move(done));
                 });
}

grpc::ServerUnaryReactor* GrpcProxy::ModelMetadata(grpc::CallbackServerContext* ctx,
                                                   const ModelMetadataRequest* req,
                                                   ModelMetadataResponse* resp) {
  return Forward(ctx, req, resp, false,
                 [](GrpcUpstream& u, grpc::ClientContext* c, const ModelMetadataRequest* rq,
                    ModelMetadataResponse* rs, std::function<void(grpc::Status)> done) {
                   u.stub->async()->ModelMetadata(c, rq, rs, std::move(done));
                 });
}

grpc::ServerUnaryReactor* GrpcProxy::RepositoryIndex(grpc::CallbackServerContext* ctx,
                                                     const RepositoryIndexRequest* req,
                                                     RepositoryIndexResponse* resp) {
  return Forward(ctx, req, resp, true,
                 [](GrpcUpstream& u, grpc::ClientContext* c, const RepositoryIndexRequest* rq,
                    RepositoryIndexResponse* rs, std::function<void(grpc::Status)> done) {
                   u.stub->async()->RepositoryIndex(c, rq, rs, std::move(done));
                 });
}

grpc::ServerUnaryReactor* GrpcProxy::RepositoryModelLoad(grpc::CallbackServerContext* ctx,
                                                         const RepositoryModelLoadRequest* req,
                                                         RepositoryModelLoadResponse*) {
  return FanOut<RepositoryModelLoadRequest, RepositoryModelLoadResponse>(
      ctx, req,
      [](GrpcUpstream& u, grpc::ClientContext* c, const RepositoryModelLoadRequest* rq,
         RepositoryModelLoadResponse* rs, std::function<void(grpc::Status)> done) {
        u.stub->async()->RepositoryModelLoad(c, rq, rs, std::move(done));
      });
}

grpc::ServerUnaryReactor* GrpcProxy::RepositoryModelUnload(grpc::CallbackServerContext* ctx,
                                                           const RepositoryModelUnloadRequest* req,
                                                           RepositoryModelUnloadResponse*) {
  return FanOut<RepositoryModelUnloadRequest, RepositoryModelUnloadResponse>(
      ctx, req,
      [](GrpcUpstream& u, grpc::ClientContext* c, const RepositoryModelUnloadRequest* rq,
         RepositoryModelUnloadResponse* rs, std::function<void(grpc::Status)> done) {
        u.stub->async()->RepositoryModelUnload(c, rq, rs, std::move(done));
      });
}

namespace {

// Ends a stream at once with `status` (auth or argument errors before any message).
class RefusedStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GrpcProxy::ModelStreamInfer(
    grpc::CallbackServerContext* ctx) {
  if (streams_ == nullptr) {
    return new RefusedStream(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "ModelStreamInfer is not enabled"));
  }
  if (grpc::Status s = CheckAuth(ctx, false); !s.ok()) return new RefusedStream(s);
  absl::StatusOr<QosLevel> qos = ParseQos(ClientMetadata(ctx, "x-qos-level"));
  if (!qos.ok()) {
    return new RefusedStream(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        fmt::format("metadata 'x-qos-level': {}", std::string(qos.status().message()))));
  }
  return streams_->NewGrpcStream(ctx, *qos);
}

grpc::ServerUnaryReactor* GrpcProxy::ModelInfer(grpc::CallbackServerContext* ctx,
                                                const grpc::ByteBuffer* req,
                                                grpc::ByteBuffer* resp) {
  auto call = std::make_shared<InferCall>();
  call->start_ns = clock_->NowNs();
  call->trace = TraceContext::FromHeader(ClientMetadata(ctx, "traceparent"));
  core::log::RequestIdScope scope(call->trace.trace_id);
  absl::StatusOr<InferRequestHead> head = ScanInferRequest(*req);
  if (!head.ok()) {
    return FinishNow(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       std::string(head.status().message())));
  }
  call->model = std::move(head->model_name);
  if (grpc::Status s = CheckAuth(ctx, false); !s.ok()) {
    metrics_->CountRequest(call->model, "", QosLevel::kSilver, "refused_auth");
    return FinishNow(ctx, s);
  }
  absl::StatusOr<QosLevel> qos = ParseQos(ClientMetadata(ctx, "x-qos-level"));
  if (!qos.ok()) {
    return FinishNow(ctx, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       fmt::format("metadata 'x-qos-level': {}",
                                                   std::string(qos.status().message()))));
  }
  call->qos = *qos;
  // Version: the message's model_version or x-model-version pins; otherwise the routing split.
  std::string_view pinned = head->model_version;
  if (pinned.empty()) pinned = ClientMetadata(ctx, "x-model-version");
  if (!pinned.empty()) {
    if (!endpoints_->AnyHasVersion(call->model, pinned)) {
      metrics_->CountRequest(call->model, "", call->qos, "not_found");
      return FinishNow(ctx, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                         fmt::format("model '{}' version '{}' (model_version / "
                                                     "x-model-version) is unknown or not ready "
                                                     "on any worker",
                                                     call->model, pinned)));
    }
    call->version = std::string(pinned);
  } else {
    const std::shared_ptr<const RoutingTable> table = routing_->current();
    if (auto v = table->Resolve(call->model, ClientMetadata(ctx, "x-user-id"), ThreadRandom())) {
      call->version = std::string(*v);
    }
  }
  if (grpc::Status refused; !TryEnter(ctx, &refused)) {
    metrics_->CountRequest(call->model, call->version, call->qos, "shed");
    return FinishNow(ctx, refused);
  }
  absl::StatusOr<QosAdmission::Ticket> ticket = qos_->Admit(call->qos, endpoints_->ReadyCount());
  if (!ticket.ok()) {
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    metrics_->Shed(call->qos).Inc();
    metrics_->CountRequest(call->model, call->version, call->qos, "shed");
    ctx->AddTrailingMetadata("retry-after", std::to_string(qos_->retry_after_s()));
    return FinishNow(
        ctx, grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(ticket.status().message())));
  }
  call->ticket = *std::move(ticket);
  call->deadline_ns = call->start_ns + RemainingNs(ctx, options_.request_timeout_ms_default);
  call->ctx = ctx;
  call->reactor = ctx->DefaultReactor();
  call->response = resp;
  call->request = *req;
  grpc::ServerUnaryReactor* reactor = call->reactor;
  Attempt(std::move(call), nullptr);
  return reactor;
}

void GrpcProxy::Attempt(std::shared_ptr<InferCall> call, const Endpoint* exclude) {
  const int64_t now_ns = clock_->NowNs();
  if (now_ns >= call->deadline_ns) {
    Finish(call, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "request deadline passed"),
           "timeout");
    return;
  }
  absl::StatusOr<EndpointPtr> picked =
      endpoints_->PickForVersion(call->model, call->version, exclude);
  if (!picked.ok()) {
    call->ctx->AddTrailingMetadata("retry-after", "1");
    Finish(call,
           grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(picked.status().message())),
           "unavailable");
    return;
  }
  EndpointPtr e = *std::move(picked);
  GrpcUpstream* upstream = TransportOf(*e)->grpc.get();
  if (upstream == nullptr) {  // prevented at start-up (every endpoint needs a gRPC target)
    endpoints_->RecordResult(*e, true, 0);
    Finish(call,
           grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        fmt::format("endpoint {} has no gRPC address", e->name())),
           "unavailable");
    return;
  }
  const size_t attempt = static_cast<size_t>(call->attempts++);
  e->inflight.fetch_add(1, std::memory_order_relaxed);
  e->requests.fetch_add(1, std::memory_order_relaxed);
  const int64_t remaining_ns = call->deadline_ns - now_ns;
  call->upstream_request =
      WithSuffix(call->request,
                 InferRequestSuffix(call->version, WorkerPriority(call->qos), remaining_ns / 1000));
  call->upstream_response.Clear();
  auto& client = call->upstream_ctx[attempt];
  // Propagates cancellation (and the client's deadline) from the downstream call.
  client = grpc::ClientContext::FromCallbackServerContext(*call->ctx);
  client->set_deadline(DeadlineIn(remaining_ns));
  client->AddMetadata("traceparent", call->trace.Header());
  upstream->generic->UnaryCall(
      client.get(), kModelInferMethod, grpc::StubOptions(), &call->upstream_request,
      &call->upstream_response, [this, call, e, sent_ns = now_ns](grpc::Status s) mutable {
        e->inflight.fetch_sub(1, std::memory_order_relaxed);
        const double latency_us = static_cast<double>(clock_->NowNs() - sent_ns) / 1000;
        endpoints_->RecordResult(*e, !EndpointFault(s), latency_us);
        if (s.ok()) {
          metrics_->UpstreamLatency(e->name()).Observe(latency_us / 1e6);
          call->response->Swap(&call->upstream_response);
          Finish(call, s, "ok");
          return;
        }
        if (clock_->NowNs() + kDeadlineSlackNs >= call->deadline_ns &&
            (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
             s.error_code() == grpc::StatusCode::CANCELLED)) {
          // The deadline passed upstream, or the client's own deadline passed and its
          // cancellation (propagated to the upstream call) arrived just before the gateway's copy
          // of that deadline: both are the deadline, not a client's choice to cancel.
          Finish(call,
                 grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              fmt::format("deadline passed while {} had the request", e->name())),
                 "timeout");
          return;
        }
        const bool may_retry = call->attempts == 1 && !call->ctx->IsCancelled();
        if (may_retry && FailedBeforeModel(s) &&
            (ConnectFailed(s) || endpoints_->ReadyCount() > 1)) {
          metrics_->retries().Inc();
          Attempt(std::move(call), e.get());
          return;
        }
        Finish(call, s, OutcomeOf(s));
      });
}

void GrpcProxy::Finish(const std::shared_ptr<InferCall>& call, const grpc::Status& status,
                       std::string_view outcome) {
  call->ticket.Release();
  inflight_.fetch_sub(1, std::memory_order_relaxed);
  metrics_->CountRequest(call->model, call->version, call->qos, outcome);
  if (!call->version.empty()) call->ctx->AddInitialMetadata("x-model-version", call->version);
  call->ctx->AddInitialMetadata("traceparent", call->trace.Header());
  const bool server_side = OutcomeOf(status) == "server_error" ||
                           OutcomeOf(status) == "upstream_error" ||
                           status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  if (options_.access_log || server_side) {
    core::log::RequestIdScope scope(call->trace.trace_id);
    const double ms = static_cast<double>(clock_->NowNs() - call->start_ns) / 1e6;
    if (server_side) {
      spdlog::warn("grpc infer {} v{} qos={} -> {} {} ({:.2f} ms, {} attempts)", call->model,
                   call->version, QosName(call->qos), static_cast<int>(status.error_code()),
                   status.error_message(), ms, call->attempts);
    } else {
      spdlog::info("grpc infer {} v{} qos={} -> {} ({:.2f} ms)", call->model, call->version,
                   QosName(call->qos), static_cast<int>(status.error_code()), ms);
    }
  }
  call->reactor->Finish(status);
}

}  // namespace inference::gateway

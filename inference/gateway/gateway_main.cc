// infer-gateway: the front door of the inference cluster (KServe v2 REST, proxy/rest_proxy.h, and
// gRPC, proxy/grpc_proxy.h).
//
//   infer-gateway --config gateway.yaml [--http-port 8080] [--grpc-port 8081] [--ready-file PATH]
//                 [--tls-cert cert.pem --tls-key key.pem]
//                 [--worker unix:/path | --worker host:port ...]      static workers, or
//                 [--worker-binary PATH --repo DIR --workers N]       supervised workers
//                 [--routing routing.yaml]
//
// Configuration (YAML, every key optional; flags win):
//   host: 0.0.0.0
//   http_port: 8080
//   grpc_port: -1              # KServe gRPC listener: -1 off (default), 0 any free port
//   grpc_inflight_max: 4096    # forwarded gRPC calls in flight, then RESOURCE_EXHAUSTED
//   tls: {cert_file: cert.pem, key_file: key.pem}   # both listeners serve TLS when set
//   io_threads: 1              # downstream HTTP I/O threads
//   upstream_threads: 1        # upstream connection pool I/O threads
//   body_bytes_max: 4194304
//   header_bytes_max: 16384
//   request_timeout_ms: 30000  # default deadline (X-Request-Timeout-Ms overrides)
//   access_log: false
//   routing_file: routing.yaml
//   stats_interval_ms: 100
//   workers:
//     static: [unix:/run/w0.sock, 127.0.0.1:8000]   # when set, nothing is spawned
//     static_grpc: [unix:/run/w0.grpc.sock, 127.0.0.1:8001]  # their gRPC targets, same order
//                                                            # (streaming needs them)
//                                                            # (required when grpc_port >= 0)
//     binary: /usr/local/bin/infer-worker
//     repo: models/repo
//     runtime_dir: /tmp/infer-gateway
//     min: 2
//     max: 4
//     initial: 2
//     http_threads: 1
//     scale_interval_ms: 1000
//     scale_up_pressure: 8
//     scale_down_pressure: 1
//     scale_up_latency_us: 0
//   upstream:
//     connections_per_endpoint_max: 512
//   breaker: {window_ms: 10000, min_requests: 20, error_rate: 0.5, consecutive_failures: 5,
//             open_ms: 5000}
//   ejection: {consecutive_failures: 5, ejection_ms: 2000, share_max: 0.5}
//   qos: {inflight_per_endpoint_max: 64, bronze_shed_at: 0.6, silver_shed_at: 0.85,
//         retry_after_s: 1}
//   auth:
//     keys: [{name: alice, sha256: <hex>, rate_per_s: 100, burst: 200, admin: false}]
//   streaming:                 # ModelStreamInfer and generate_stream (streaming/stream_proxy.h)
//     window: 16               # responses queued per client stream
//     upstream_write_queue: 4  # requests queued per worker stream
//     stall_ms: 2000           # SSE: no token this long -> keep-alive fallback
//     keepalive_ms: 500        # SSE: keep-alive period
//     fallback_max_ms: 10000   # SSE: then an error event
//     sse_timeout_ms: 600000   # SSE: deadline of one generation
//     sse_pause_bytes: 65536   # SSE: stop reading the worker beyond this many unsent bytes
//     sse_upstream_idle_ms: 30000  # SSE: close an idle reusable upstream call after this long
//     sse_upstream: h2         # SSE: worker calls over nghttp2 (h2) or gRPC C++ (grpc)
//     sse_upstream_idle_max: 256   # SSE: idle upstream calls kept (0: one call per generation)
//     sequences_max: 65536     # live sequences tracked for sticky routing
//     sequence_idle_ms: 60000  # forgotten after this long without a chunk
//
// The ready file gets {"http_port", "grpc_port" (-1 when off), "pid", "runtime_dir"} once the
// listeners are bound.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "core/clock/clock.h"
#include "core/config/config.h"
#include "core/health/health.h"
#include "core/http/router.h"
#include "core/http/server.h"
#include "core/process/scheduler.h"
#include "core/process/server_init.h"
#include "core/process/signals.h"
#include "core/status/status_macros.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "inference/gateway/auth/api_key_auth.h"
#include "inference/gateway/endpoints/endpoint_set.h"
#include "inference/gateway/proxy/gateway_metrics.h"
#include "inference/gateway/proxy/grpc_proxy.h"
#include "inference/gateway/proxy/rest_proxy.h"
#include "inference/gateway/qos/qos_admission.h"
#include "inference/gateway/routing/routing_watcher.h"
#include "inference/gateway/streaming/stream_proxy.h"
#include "inference/gateway/supervisor/worker_supervisor.h"
#include "inference/gateway/tls/tls_files.h"
#include "inference/gateway/upstream/grpc_upstream.h"
#include "inference/gateway/upstream/h2_stream_client.h"
#include "inference/gateway/upstream/stats_poller.h"
#include "inference/gateway/upstream/upstream_pool.h"
#include "spdlog/spdlog.h"

namespace inference::gateway {
namespace {

struct GatewayConfig {
  std::string host = "0.0.0.0";
  int http_port = 8080;
  int grpc_port = -1;  // -1: off
  int grpc_inflight_max = kGrpcInflightMaxDefault;
  std::string tls_cert_file;
  std::string tls_key_file;
  int io_threads = 1;
  int upstream_threads = 1;
  int64_t body_bytes_max = 4 << 20;
  int64_t header_bytes_max = 16 << 10;
  int64_t request_timeout_ms = 30'000;
  bool access_log = false;
  std::string routing_file;
  int stats_interval_ms = 100;
  std::vector<std::string> static_workers;
  std::vector<std::string> static_workers_grpc;
  SupervisorOptions supervisor;
  int connections_per_endpoint_max = 512;
  EndpointSet::Options endpoints;
  QosAdmission::Options qos;
  std::vector<ApiKeyConfig> keys;
  StreamingOptions streaming;
};

absl::Status LoadConfig(const std::string& path, GatewayConfig* c) {
  ASSIGN_OR_RETURN(core::ConfigNode root, core::LoadYamlFile(path));
  ASSIGN_OR_RETURN(c->host, root.GetString("host", c->host));
  ASSIGN_OR_RETURN(c->http_port, root.Get<int>("http_port", c->http_port));
  ASSIGN_OR_RETURN(c->grpc_port, root.GetInt("grpc_port", c->grpc_port, -1, 65535));
  ASSIGN_OR_RETURN(c->grpc_inflight_max, root.GetInt("grpc_inflight_max", c->grpc_inflight_max, 1,
                                                     kGrpcInflightMaxLimit));
  ASSIGN_OR_RETURN(core::ConfigNode tls, root.Child("tls"));
  ASSIGN_OR_RETURN(c->tls_cert_file, tls.GetString("cert_file", c->tls_cert_file));
  ASSIGN_OR_RETURN(c->tls_key_file, tls.GetString("key_file", c->tls_key_file));
  ASSIGN_OR_RETURN(c->io_threads, root.Get<int>("io_threads", c->io_threads));
  ASSIGN_OR_RETURN(c->upstream_threads, root.Get<int>("upstream_threads", c->upstream_threads));
  ASSIGN_OR_RETURN(c->body_bytes_max, root.GetInt("body_bytes_max", c->body_bytes_max, 1, 1 << 30));
  ASSIGN_OR_RETURN(c->header_bytes_max,
                   root.GetInt("header_bytes_max", c->header_bytes_max, 1024, 1 << 20));
  ASSIGN_OR_RETURN(c->request_timeout_ms, root.GetInt("request_timeout_ms", c->request_timeout_ms,
                                                      1, kRequestTimeoutMsMax));
  ASSIGN_OR_RETURN(c->access_log, root.GetBool("access_log", c->access_log));
  ASSIGN_OR_RETURN(c->routing_file, root.GetString("routing_file", c->routing_file));
  ASSIGN_OR_RETURN(c->stats_interval_ms, root.Get<int>("stats_interval_ms", c->stats_interval_ms));

  ASSIGN_OR_RETURN(core::ConfigNode w, root.Child("workers"));
  SupervisorOptions& s = c->supervisor;
  ASSIGN_OR_RETURN(c->static_workers, w.GetStringList("static", c->static_workers));
  ASSIGN_OR_RETURN(c->static_workers_grpc, w.GetStringList("static_grpc", c->static_workers_grpc));
  ASSIGN_OR_RETURN(s.worker_binary, w.GetString("binary", s.worker_binary));
  ASSIGN_OR_RETURN(s.repo, w.GetString("repo", s.repo));
  ASSIGN_OR_RETURN(s.runtime_dir, w.GetString("runtime_dir", s.runtime_dir));
  ASSIGN_OR_RETURN(s.workers_min, w.Get<int>("min", s.workers_min));
  ASSIGN_OR_RETURN(s.workers_max, w.Get<int>("max", s.workers_max));
  ASSIGN_OR_RETURN(s.workers_initial, w.Get<int>("initial", s.workers_initial));
  ASSIGN_OR_RETURN(s.worker_http_threads, w.Get<int>("http_threads", s.worker_http_threads));
  ASSIGN_OR_RETURN(s.worker_args, w.GetStringList("args", s.worker_args));
  ASSIGN_OR_RETURN(s.scale_interval_ms, w.Get<int>("scale_interval_ms", s.scale_interval_ms));
  ASSIGN_OR_RETURN(s.scale_up_pressure, w.GetDouble("scale_up_pressure", s.scale_up_pressure, 0));
  ASSIGN_OR_RETURN(s.scale_down_pressure,
                   w.GetDouble("scale_down_pressure", s.scale_down_pressure, 0));
  ASSIGN_OR_RETURN(s.scale_up_latency_us,
                   w.GetDouble("scale_up_latency_us", s.scale_up_latency_us, 0));
  ASSIGN_OR_RETURN(s.scale_up_after, w.Get<int>("scale_up_after", s.scale_up_after));
  ASSIGN_OR_RETURN(s.scale_down_after, w.Get<int>("scale_down_after", s.scale_down_after));
  if (s.scale_down_pressure >= s.scale_up_pressure) {
    return w.Error("scale_down_pressure", "must be below scale_up_pressure (hysteresis)");
  }

  ASSIGN_OR_RETURN(core::ConfigNode u, root.Child("upstream"));
  ASSIGN_OR_RETURN(c->connections_per_endpoint_max,
                   u.Get<int>("connections_per_endpoint_max", c->connections_per_endpoint_max));

  ASSIGN_OR_RETURN(core::ConfigNode b, root.Child("breaker"));
  core::CircuitBreaker::Options& bo = c->endpoints.breaker;
  ASSIGN_OR_RETURN(bo.window_ms, b.GetInt("window_ms", bo.window_ms, 1));
  ASSIGN_OR_RETURN(bo.min_requests_in_window,
                   b.GetInt("min_requests", bo.min_requests_in_window, 1));
  ASSIGN_OR_RETURN(bo.error_rate_open_threshold,
                   b.GetDouble("error_rate", bo.error_rate_open_threshold, 0, 1));
  ASSIGN_OR_RETURN(bo.consecutive_failures_open,
                   b.Get<int>("consecutive_failures", bo.consecutive_failures_open));
  ASSIGN_OR_RETURN(bo.open_duration_ms, b.GetInt("open_ms", bo.open_duration_ms, 1));

  ASSIGN_OR_RETURN(core::ConfigNode e, root.Child("ejection"));
  ASSIGN_OR_RETURN(c->endpoints.eject_consecutive_failures,
                   e.Get<int>("consecutive_failures", c->endpoints.eject_consecutive_failures));
  ASSIGN_OR_RETURN(c->endpoints.ejection_ms, e.GetInt("ejection_ms", c->endpoints.ejection_ms, 1));
  ASSIGN_OR_RETURN(c->endpoints.ejection_share_max,
                   e.GetDouble("share_max", c->endpoints.ejection_share_max, 0, 1));

  ASSIGN_OR_RETURN(core::ConfigNode q, root.Child("qos"));
  ASSIGN_OR_RETURN(c->qos.inflight_per_endpoint_max,
                   q.Get<int>("inflight_per_endpoint_max", c->qos.inflight_per_endpoint_max));
  ASSIGN_OR_RETURN(c->qos.bronze_shed_at, q.GetDouble("bronze_shed_at", c->qos.bronze_shed_at));
  ASSIGN_OR_RETURN(c->qos.silver_shed_at, q.GetDouble("silver_shed_at", c->qos.silver_shed_at));
  ASSIGN_OR_RETURN(c->qos.retry_after_s, q.Get<int>("retry_after_s", c->qos.retry_after_s));

  ASSIGN_OR_RETURN(core::ConfigNode a, root.Child("auth"));
  ASSIGN_OR_RETURN(std::vector<core::ConfigNode> keys, a.ChildList("keys"));
  for (const core::ConfigNode& k : keys) {
    ApiKeyConfig key;
    ASSIGN_OR_RETURN(key.name, k.GetRequiredString("name"));
    ASSIGN_OR_RETURN(key.sha256_hex, k.GetRequiredString("sha256"));
    ASSIGN_OR_RETURN(key.rate_per_s, k.GetDouble("rate_per_s", key.rate_per_s));
    ASSIGN_OR_RETURN(key.burst, k.GetDouble("burst", key.burst));
    ASSIGN_OR_RETURN(key.admin, k.GetBool("admin", key.admin));
    c->keys.push_back(std::move(key));
  }

  ASSIGN_OR_RETURN(core::ConfigNode st, root.Child("streaming"));
  StreamingOptions& so = c->streaming;
  ASSIGN_OR_RETURN(int64_t window, st.GetInt("window", static_cast<int64_t>(so.window), 1, 4096));
  so.window = static_cast<size_t>(window);
  ASSIGN_OR_RETURN(
      int64_t write_queue,
      st.GetInt("upstream_write_queue", static_cast<int64_t>(so.upstream_write_queue), 1, 4096));
  so.upstream_write_queue = static_cast<size_t>(write_queue);
  ASSIGN_OR_RETURN(so.stall_ms, st.GetInt("stall_ms", so.stall_ms, 1, kRequestTimeoutMsMax));
  ASSIGN_OR_RETURN(so.keepalive_ms,
                   st.GetInt("keepalive_ms", so.keepalive_ms, 1, kRequestTimeoutMsMax));
  ASSIGN_OR_RETURN(so.fallback_max_ms,
                   st.GetInt("fallback_max_ms", so.fallback_max_ms, 1, kRequestTimeoutMsMax));
  ASSIGN_OR_RETURN(so.sse_timeout_ms,
                   st.GetInt("sse_timeout_ms", so.sse_timeout_ms, 1, kRequestTimeoutMsMax));
  ASSIGN_OR_RETURN(
      int64_t pause,
      st.GetInt("sse_pause_bytes", static_cast<int64_t>(so.sse_pause_bytes), 1024, 64 << 20));
  so.sse_pause_bytes = static_cast<size_t>(pause);
  ASSIGN_OR_RETURN(so.sse_upstream_idle_ms,
                   st.GetInt("sse_upstream_idle_ms", so.sse_upstream_idle_ms, 1, 24 * 3600 * 1000));
  ASSIGN_OR_RETURN(
      int64_t idle_max,
      st.GetInt("sse_upstream_idle_max", static_cast<int64_t>(so.sse_upstream_idle_max), 0, 65536));
  so.sse_upstream_idle_max = static_cast<size_t>(idle_max);
  ASSIGN_OR_RETURN(so.sse_upstream, st.GetString("sse_upstream", so.sse_upstream));
  ASSIGN_OR_RETURN(
      int64_t sequences,
      st.GetInt("sequences_max", static_cast<int64_t>(so.sequences.entries_max), 16, 1 << 24));
  so.sequences.entries_max = static_cast<size_t>(sequences);
  ASSIGN_OR_RETURN(so.sequences.idle_ms,
                   st.GetInt("sequence_idle_ms", so.sequences.idle_ms, 1, 24 * 3600 * 1000));
  if (absl::Status valid = so.Validate(); !valid.ok()) return valid;
  return root.CheckNoUnknownKeys();
}

int Fail(const absl::Status& s) {
  spdlog::critical("infer-gateway: {}", std::string(s.message()));
  return 1;
}

int Run(int argc, char** argv) {
  if (int rc = core::InitServerProcess(); rc != 0) return rc;
  core::BlockTerminationSignals();
  GatewayConfig c;
  std::string config_path, ready_file;
  int http_port = -1, workers = -1;
  std::optional<int> grpc_port;
  std::string worker_binary, repo, routing, tls_cert, tls_key;
  std::vector<std::string> static_workers, static_workers_grpc;
  CLI::App app{
      "infer-gateway: KServe v2 gateway with canary routing, load-aware balancing and QoS"};
  app.add_option("--config", config_path, "gateway YAML (see the header of gateway_main.cc)");
  app.add_option("--http-port", http_port, "HTTP port (0: any free port)");
  app.add_option("--grpc-port", grpc_port, "KServe gRPC port (-1: off, 0: any free port)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: both listeners serve TLS");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_option("--ready-file", ready_file,
                 "write {\"http_port\",\"grpc_port\"} here once listening");
  app.add_option("--worker", static_workers, "static worker endpoint (repeatable)");
  app.add_option("--worker-grpc", static_workers_grpc,
                 "gRPC target of the static worker at the same position (repeatable)");
  app.add_option("--worker-binary", worker_binary, "infer-worker to spawn");
  app.add_option("--repo", repo, "model repository for spawned workers");
  app.add_option("--workers", workers, "number of spawned workers (min = initial = max)");
  app.add_option("--routing", routing, "routing YAML (watched)");
  std::string scheduler;
  core::AddSchedulerOption(app, &scheduler);
  CLI11_PARSE(app, argc, argv);
  if (int rc = core::ApplySchedulerOptionOrExitCode(app, scheduler); rc != 0) return rc;

  if (!config_path.empty()) {
    if (absl::Status s = LoadConfig(config_path, &c); !s.ok()) return Fail(s);
  }
  if (http_port >= 0) c.http_port = http_port;
  if (grpc_port.has_value()) c.grpc_port = *grpc_port;
  if (!tls_cert.empty()) c.tls_cert_file = tls_cert;
  if (!tls_key.empty()) c.tls_key_file = tls_key;
  if (!static_workers.empty()) c.static_workers = static_workers;
  if (!static_workers_grpc.empty()) c.static_workers_grpc = static_workers_grpc;
  if (!worker_binary.empty()) c.supervisor.worker_binary = worker_binary;
  if (!repo.empty()) c.supervisor.repo = repo;
  if (!routing.empty()) c.routing_file = routing;
  if (workers > 0) {
    c.supervisor.workers_min = c.supervisor.workers_max = c.supervisor.workers_initial = workers;
  }
  const bool own_runtime_dir = c.supervisor.runtime_dir.empty();
  if (own_runtime_dir) {
    c.supervisor.runtime_dir = fmt::format("/tmp/infer-gateway-{}", ::getpid());
  }
  if (absl::Status s = QosAdmission::Validate(c.qos); !s.ok()) return Fail(s);
  if (c.grpc_port < -1 || c.grpc_port > 65535) {
    return Fail(absl::InvalidArgumentError(fmt::format(
        "grpc_port: expected -1 (off), 0 (any free port) or a port, got {}", c.grpc_port)));
  }
  const bool grpc_on = c.grpc_port >= 0;
  if (!c.static_workers_grpc.empty() && c.static_workers_grpc.size() != c.static_workers.size()) {
    return Fail(absl::InvalidArgumentError(
        fmt::format("workers.static_grpc: {} targets for {} static workers (same order expected)",
                    c.static_workers_grpc.size(), c.static_workers.size())));
  }
  if (grpc_on && !c.static_workers.empty() && c.static_workers_grpc.empty()) {
    return Fail(absl::InvalidArgumentError(
        "workers.static_grpc: required with grpc_port >= 0 and static workers (the gRPC "
        "front end forwards to each worker's gRPC listener)"));
  }
  std::optional<TlsFiles> tls;
  if (!c.tls_cert_file.empty() || !c.tls_key_file.empty()) {
    auto files = LoadTlsFiles(c.tls_cert_file, c.tls_key_file);
    if (!files.ok()) return Fail(files.status());
    tls = *std::move(files);
  }

  core::Clock* clock = core::Clock::Real();
  GatewayMetrics metrics;
  auto routing_watcher = RoutingWatcher::Create(
      {.path = c.routing_file,
       .on_reload = [&metrics](bool ok, const std::string&) { metrics.RoutingReload(ok).Inc(); }});
  if (!routing_watcher.ok()) return Fail(routing_watcher.status());
  auto auth = ApiKeyAuth::Create(c.keys, clock);
  if (!auth.ok()) return Fail(auth.status());
  c.endpoints.breaker.on_transition = [&metrics](core::CircuitBreaker::State from,
                                                 core::CircuitBreaker::State to) {
    metrics.breaker_transitions().Inc();
  };
  auto endpoints = EndpointSet::Create(c.endpoints, clock, std::random_device{}());
  if (!endpoints.ok()) return Fail(endpoints.status());
  auto pool = UpstreamPool::Create({.threads = c.upstream_threads,
                                    .connections_per_target_max = c.connections_per_endpoint_max});
  if (!pool.ok()) return Fail(pool.status());
  QosAdmission qos(c.qos);

  auto attach = [&](const std::string& name, const UpstreamAddress& http,
                    const std::string& grpc) -> EndpointPtr {
    auto transport = std::make_shared<EndpointTransport>();
    transport->target = (*pool)->NewTarget(http);
    // Also without the gRPC front end: SSE generate_stream reaches workers over gRPC streams.
    if (!grpc.empty()) transport->grpc = GrpcUpstream::Create(grpc);
    if (!grpc.empty() && c.streaming.sse_upstream == "h2") {
      // A gRPC target that is not host:port or unix:/path (a resolver URI) stays on gRPC C++.
      if (absl::StatusOr<UpstreamAddress> a = UpstreamAddress::Parse(grpc); a.ok()) {
        transport->h2 = H2StreamClient::Create({.address = *a});
      }
    }
    auto e = (*endpoints)->Add(name, http, grpc, transport);
    if (!e.ok()) {
      transport->target->CloseIdle();
      spdlog::error("endpoint {}: {}", name, std::string(e.status().message()));
      return nullptr;
    }
    spdlog::info("endpoint {} added ({})", name, http.ToString());
    return *e;
  };
  auto detach = [&](const std::string& name) {
    for (const auto& e : *(*endpoints)->snapshot()) {
      if (e->name() == name) TransportOf(*e)->target->CloseIdle();
    }
    (*endpoints)->Remove(name);
    spdlog::info("endpoint {} removed", name);
  };

  std::unique_ptr<WorkerSupervisor> supervisor;
  if (!c.static_workers.empty()) {
    for (size_t i = 0; i < c.static_workers.size(); ++i) {
      const std::string& w = c.static_workers[i];
      auto address = UpstreamAddress::Parse(w);
      if (!address.ok()) return Fail(address.status());
      const std::string grpc_target =
          c.static_workers_grpc.empty() ? std::string() : c.static_workers_grpc[i];
      if (attach(w, *address, grpc_target) == nullptr) return Fail(absl::InvalidArgumentError(w));
    }
  } else {
    auto s = WorkerSupervisor::Create(c.supervisor, attach, detach, clock);
    if (!s.ok()) return Fail(s.status());
    supervisor = *std::move(s);
    supervisor->Start();
  }
  metrics.registry().AddCallbackGauge("gateway_inflight_requests",
                                      "Requests in flight through the gateway.",
                                      [&qos] { return static_cast<double>(qos.inflight()); });

  StatsPoller poller(endpoints->get(), pool->get(), &metrics, c.stats_interval_ms);
  poller.Start();

  StreamProxy streams(c.streaming, endpoints->get(), routing_watcher->get(), &metrics, clock);
  streams.Start();

  core::http::Router router;
  RestProxy proxy({.request_timeout_ms_default = c.request_timeout_ms, .access_log = c.access_log},
                  endpoints->get(), pool->get(), routing_watcher->get(), auth->get(), &qos,
                  &metrics, clock, &streams);
  proxy.Register(&router);
  core::RegisterMetricsRoute(router, &metrics.registry());
  router.Get("/healthz", [](core::http::Request&, core::http::Responder r) {
    r.Send(core::http::Response::Json(200, R"({"status":"ok"})"));
  });

  core::http::ServerOptions so;
  so.host = c.host;
  so.port = static_cast<uint16_t>(c.http_port);
  so.io_threads = c.io_threads;
  so.body_bytes_max = static_cast<size_t>(c.body_bytes_max);
  so.header_bytes_max = static_cast<size_t>(c.header_bytes_max);
  if (tls) {  // checked above (LoadTlsFiles); the server loads them again into its context
    so.tls_cert_file = c.tls_cert_file;
    so.tls_key_file = c.tls_key_file;
  }
  auto server = core::http::HttpServer::Create(so, &router);
  if (!server.ok()) return Fail(server.status());
  if (absl::Status s = (*server)->Start(); !s.ok()) return Fail(s);

  GrpcProxy grpc_proxy({.request_timeout_ms_default = c.request_timeout_ms,
                        .inflight_max = c.grpc_inflight_max,
                        .access_log = c.access_log},
                       endpoints->get(), routing_watcher->get(), auth->get(), &qos, &metrics, clock,
                       &streams);
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_bound_port = -1;
  if (grpc_on) {
    metrics.registry().AddCallbackGauge(
        "gateway_grpc_inflight_calls", "Forwarded gRPC calls in flight through the gateway.",
        [&grpc_proxy] { return static_cast<double>(grpc_proxy.inflight()); });
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (tls) {
      grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back({tls->key_pem, tls->cert_pem});
      credentials = grpc::SslServerCredentials(ssl);
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort(fmt::format("{}:{}", c.host, c.grpc_port), credentials,
                             &grpc_bound_port);
    builder.SetMaxReceiveMessageSize(static_cast<int>(c.body_bytes_max));
    builder.SetMaxSendMessageSize(kGrpcMessageBytesMax);
    builder.RegisterService(&grpc_proxy);
    grpc_server = builder.BuildAndStart();
    if (grpc_server == nullptr || grpc_bound_port <= 0) {
      return Fail(absl::UnavailableError(
          fmt::format("grpc_port: cannot listen on {}:{}", c.host, c.grpc_port)));
    }
  }
  spdlog::info("infer-gateway: HTTP port {}, gRPC port {}{}, {} workers", (*server)->port(),
               grpc_bound_port, tls ? " (TLS)" : "",
               c.static_workers.empty() ? fmt::format("{} supervised", c.supervisor.workers_initial)
                                        : fmt::format("{} static", c.static_workers.size()));
  if (!ready_file.empty()) {
    nlohmann::json ready = {{"http_port", (*server)->port()},
                            {"grpc_port", grpc_bound_port},
                            {"pid", static_cast<int>(::getpid())},
                            {"runtime_dir", c.supervisor.runtime_dir}};
    if (absl::Status s = core::testing::WriteReadyFile(ready_file, ready); !s.ok()) return Fail(s);
  }

  const int sig = core::WaitForTerminationSignal();
  spdlog::info("infer-gateway: signal {}, shutting down", sig);
  if (grpc_server) {
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }
  streams.Stop();
  (*server)->Shutdown();
  poller.Stop();
  if (supervisor) supervisor->Stop();
  if (supervisor && own_runtime_dir) {  // the default directory is ours alone: leave nothing behind
    std::error_code ec;
    std::filesystem::remove_all(c.supervisor.runtime_dir, ec);
  }
  return 0;
}

}  // namespace
}  // namespace inference::gateway

int main(int argc, char** argv) { return inference::gateway::Run(argc, argv); }

// infer-worker: serves the models of a repository over KServe v2 REST and gRPC.
//
//   infer-worker --repo models/repo [--http-port 8000] [--grpc-port 8001] [--unix-socket PATH]
//                [--grpc-unix-socket PATH] [--ready-file PATH] [--config worker.yaml]
//
// A Unix socket replaces its TCP listener; for gRPC, --grpc-port given as well keeps both.
// Port 0 picks a free port; --ready-file gets {"http_port", "grpc_port", "pid"} once everything
// listens. SIGTERM/SIGINT: stop accepting, finish in-flight requests, unload the models, exit 0.
//
// --config (YAML, every key optional): http_threads, host, rescan_interval_ms, drain_timeout_ms,
// body_bytes_max. Flags given on the command line win over the file.

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "core/clock/clock.h"
#include "core/health/health.h"
#include "core/http/router.h"
#include "core/http/server.h"
#include "core/metrics/process_metrics.h"
#include "core/metrics/registry.h"
#include "core/process/scheduler.h"
#include "core/process/server_init.h"
#include "core/process/signals.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "inference/backend/onnx/onnx_backend.h"
#include "inference/backend/torchscript/torchscript_backend.h"
#include "inference/kserve/grpc_service.h"
#include "inference/kserve/rest_service.h"
#include "inference/metrics/model_metrics.h"
#include "inference/repository/model_manager.h"
#include "inference/repository/repository_watcher.h"
#include "spdlog/spdlog.h"
#include "yaml-cpp/yaml.h"

namespace {

constexpr int kGrpcMessageBytesMax = 64 << 20;

struct WorkerFlags {
  std::string repo;
  int http_port = 8000;
  int grpc_port = 8001;
  std::string unix_socket;
  std::string grpc_unix_socket;
  std::string ready_file;
  std::string config;
  std::string host = "0.0.0.0";
  int http_threads = 0;  // 0: hardware concurrency
  int rescan_interval_ms = 10000;
  int drain_timeout_ms = 30000;
  size_t body_bytes_max = 16 << 20;
};

int Fail(const std::string& what) {
  spdlog::critical("infer-worker: {}", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (int rc = core::InitServerProcess(); rc != 0) return rc;
  core::BlockTerminationSignals();
  WorkerFlags f;
  CLI::App app{
      "infer-worker: KServe v2 inference worker (REST + gRPC) over a verified model repository"};
  app.add_option("--repo", f.repo, "model repository root")->required();
  auto* http_opt = app.add_option("--http-port", f.http_port, "HTTP port (0: any free port)");
  auto* grpc_opt =
      app.add_option("--grpc-port", f.grpc_port, "gRPC port (0: any free port; -1: off)");
  app.add_option("--unix-socket", f.unix_socket, "serve HTTP on this Unix socket instead of TCP");
  app.add_option(
      "--grpc-unix-socket", f.grpc_unix_socket,
      "serve gRPC on this Unix socket (instead of TCP, unless --grpc-port is also given: "
      "then on both, e.g. a gateway on this host and remote clients)");
  app.add_option("--ready-file", f.ready_file,
                 "write {\"http_port\",\"grpc_port\"} here when listening");
  app.add_option("--config", f.config,
                 "optional worker YAML (http_threads, host, rescan_interval_ms, ...)");
  auto* threads_opt =
      app.add_option("--http-threads", f.http_threads, "HTTP I/O threads (0: one per core)");
  auto* rescan_opt = app.add_option("--rescan-interval-ms", f.rescan_interval_ms,
                                    "periodic repository rescan (safety net for inotify)");
  auto* host_opt = app.add_option("--host", f.host, "TCP address to bind");
  std::string scheduler;
  core::AddSchedulerOption(app, &scheduler);
  CLI11_PARSE(app, argc, argv);
  bool grpc_port_given = grpc_opt->count() > 0;
  if (int rc = core::ApplySchedulerOptionOrExitCode(app, scheduler); rc != 0) return rc;

  if (!f.config.empty()) {
    try {
      YAML::Node y = YAML::LoadFile(f.config);
      if (y["http_threads"] && threads_opt->count() == 0)
        f.http_threads = y["http_threads"].as<int>();
      if (y["host"] && host_opt->count() == 0) f.host = y["host"].as<std::string>();
      if (y["rescan_interval_ms"] && rescan_opt->count() == 0) {
        f.rescan_interval_ms = y["rescan_interval_ms"].as<int>();
      }
      if (y["drain_timeout_ms"]) f.drain_timeout_ms = y["drain_timeout_ms"].as<int>();
      if (y["body_bytes_max"]) f.body_bytes_max = y["body_bytes_max"].as<size_t>();
      if (y["http_port"] && http_opt->count() == 0) f.http_port = y["http_port"].as<int>();
      if (y["grpc_port"] && grpc_opt->count() == 0) {
        f.grpc_port = y["grpc_port"].as<int>();
        grpc_port_given = true;
      }
    } catch (const YAML::Exception& e) {
      return Fail(fmt::format("--config {}: {}", f.config, e.what()));
    }
  }
  if (f.http_threads <= 0)
    f.http_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  core::Registry registry;
  core::RegisterProcessMetrics(registry);
  inference::WorkerMetrics metrics(&registry);
  inference::ModelManagerOptions mo;
  mo.repo = f.repo;
  mo.metrics = &metrics;
  mo.drain_timeout_ms = f.drain_timeout_ms;
  mo.backends["torchscript"] = inference::CreateTorchScriptBackend;
  mo.backends["onnx"] = inference::CreateOnnxBackend;
  auto manager = inference::ModelManager::Create(std::move(mo));
  if (!manager.ok()) return Fail(std::string(manager.status().message()));
  (*manager)->Start();

  auto watcher = inference::RepositoryWatcher::Create(
      {f.repo, f.rescan_interval_ms, [m = manager->get()] { m->RequestRescan(); }});
  if (!watcher.ok()) return Fail(std::string(watcher.status().message()));

  core::http::Router router;
  inference::KServeRestService rest(manager->get(), &metrics, core::Clock::Real());
  rest.Register(&router);
  core::RegisterMetricsRoute(router, &registry);
  // /healthz and /readyz for orchestrators (the KServe /v2/health/* routes say the same).
  core::Health health;
  health.AddCheck("models", [m = manager->get()] {
    return m->ready() ? absl::OkStatus() : absl::UnavailableError("repository not scanned yet");
  });
  health.SetReady(true);
  core::RegisterHealthRoutes(router, &health);
  core::http::ServerOptions so;
  so.host = f.host;
  so.port = static_cast<uint16_t>(f.http_port);
  so.unix_socket_path = f.unix_socket;
  so.io_threads = f.http_threads;
  so.body_bytes_max = f.body_bytes_max;
  auto http = core::http::HttpServer::Create(so, &router);
  if (!http.ok()) return Fail(std::string(http.status().message()));
  if (absl::Status s = (*http)->Start(); !s.ok()) return Fail(std::string(s.message()));

  inference::GrpcInferenceService grpc_service(manager->get(), core::Clock::Real());
  inference::GrpcLoadReportService load_report(&metrics);
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = -1;
  // TCP unless a Unix socket replaces it; both when the port is given as well.
  const bool grpc_tcp = f.grpc_port >= 0 && (f.grpc_unix_socket.empty() || grpc_port_given);
  if (grpc_tcp || !f.grpc_unix_socket.empty()) {
    grpc::ServerBuilder builder;
    if (!f.grpc_unix_socket.empty()) {
      builder.AddListeningPort("unix:" + f.grpc_unix_socket, grpc::InsecureServerCredentials());
    }
    if (grpc_tcp) {
      builder.AddListeningPort(fmt::format("{}:{}", f.host, f.grpc_port),
                               grpc::InsecureServerCredentials(), &grpc_port);
    }
    builder.SetMaxReceiveMessageSize(kGrpcMessageBytesMax);
    builder.SetMaxSendMessageSize(kGrpcMessageBytesMax);
    builder.RegisterService(&grpc_service);
    builder.RegisterService(&load_report);
    grpc_server = builder.BuildAndStart();
    if (!grpc_server) return Fail("gRPC server failed to start (port in use?)");
  }

  spdlog::info("infer-worker: repository {}, HTTP {}, gRPC {}", f.repo,
               f.unix_socket.empty() ? fmt::format("port {}", (*http)->port()) : f.unix_socket,
               f.grpc_unix_socket.empty() ? fmt::format("port {}", grpc_port)
               : grpc_tcp ? fmt::format("{} and port {}", f.grpc_unix_socket, grpc_port)
                          : f.grpc_unix_socket);
  if (!f.ready_file.empty()) {
    nlohmann::json ready = {{"http_port", (*http)->port()},
                            {"grpc_port", grpc_port},
                            {"pid", static_cast<int>(::getpid())}};
    if (!f.unix_socket.empty()) ready["unix_socket"] = f.unix_socket;
    if (!f.grpc_unix_socket.empty()) ready["grpc_unix_socket"] = f.grpc_unix_socket;
    if (absl::Status s = core::testing::WriteReadyFile(f.ready_file, ready); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }

  const int sig = core::WaitForTerminationSignal();
  spdlog::info("infer-worker: signal {}, shutting down", sig);
  (*http)->Shutdown();
  if (grpc_server)
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // Live sequences pin their model version; free them so the versions drain at once.
  grpc_service.ReleaseSequences();
  watcher->reset();
  (*manager)->Stop();
  spdlog::info("infer-worker: stopped");
  return 0;
}

// http_bench_server: the core HTTP server answering GET / with a fixed 32-byte JSON body, the same
// body bench/http_vs_nginx.sh has nginx return; also POST /echo, /healthz, /readyz and /metrics, so the
// integration test in tests/core/ can exercise the limits of the real binary.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "core/health/health.h"
#include "core/http/server.h"
#include "core/metrics/process_metrics.h"
#include "core/testing/process.h"
#include "core/process/signals.h"

int main(int argc, char** argv) {
  core::BlockTerminationSignals();
  CLI::App app{"Core HTTP server serving a fixed 32-byte JSON body (benchmark peer of nginx)"};
  core::http::ServerOptions options;
  options.host = "127.0.0.1";
  app.add_option("--host", options.host, "Listen address")->capture_default_str();
  app.add_option("--port", options.port, "Listen port (0: any)")->capture_default_str();
  app.add_option("--io-threads", options.io_threads, "I/O threads")->capture_default_str();
  app.add_option("--body-bytes-max", options.body_bytes_max, "Request body limit (413 above)")
      ->capture_default_str();
  app.add_option("--header-bytes-max", options.header_bytes_max, "Request header limit (431 above)")
      ->capture_default_str();
  app.add_option("--read-timeout-ms", options.read_timeout_ms,
                 "Time allowed to receive a started request (408 after)")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", options.idle_timeout_ms, "Keep-alive idle timeout")
      ->capture_default_str();
  std::string ready_file;
  app.add_option("--ready-file", ready_file, "Write {\"http_port\":N} here once listening");
  CLI11_PARSE(app, argc, argv);

  static const std::string kBody = R"({"status":"ok","service":"core"})";
  static_assert(sizeof(R"({"status":"ok","service":"core"})") - 1 == 32);
  core::http::Router router;
  router.Get("/", [](core::http::Request&, core::http::Responder rsp) {
    rsp.Send(core::http::Response::Json(200, kBody));
  });
  router.Post("/echo", [](core::http::Request& req, core::http::Responder rsp) {
    rsp.Send(core::http::Response::Json(200, std::string(req.body)));
  });
  core::Health health;
  core::Registry registry;
  core::RegisterProcessMetrics(registry);
  core::RegisterHealthRoutes(router, &health);
  core::RegisterMetricsRoute(router, &registry);
  auto server = core::http::HttpServer::Create(options, &router);
  if (!server.ok()) {
    std::fprintf(stderr, "http_bench_server: %s\n", server.status().ToString().c_str());
    return 2;
  }
  if (auto s = (*server)->Start(); !s.ok()) {
    std::fprintf(stderr, "http_bench_server: %s\n", s.ToString().c_str());
    return 1;
  }
  health.SetReady(true);
  if (!ready_file.empty()) {
    if (auto s = core::testing::WriteReadyFile(ready_file, {{"http_port", (*server)->port()}});
        !s.ok()) {
      std::fprintf(stderr, "http_bench_server: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("listening on %s:%u\n", options.host.c_str(), (*server)->port());
  std::fflush(stdout);
  core::WaitForTerminationSignal();
  (*server)->Shutdown();
  return 0;
}

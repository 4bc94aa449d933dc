// http_bench_server: the core HTTP server answering every GET / with a fixed 32-byte JSON body, the
// same body bench/http_vs_nginx.sh has nginx return. Used only for the side-by-side benchmark.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "core/http/server.h"
#include "core/process/signals.h"

int main(int argc, char** argv) {
  core::BlockTerminationSignals();
  CLI::App app{"Core HTTP server serving a fixed 32-byte JSON body (benchmark peer of nginx)"};
  core::http::ServerOptions options;
  options.host = "127.0.0.1";
  app.add_option("--host", options.host, "Listen address")->capture_default_str();
  app.add_option("--port", options.port, "Listen port (0: any)")->capture_default_str();
  app.add_option("--io-threads", options.io_threads, "I/O threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  static const std::string kBody = R"({"status":"ok","service":"core"})";
  static_assert(sizeof(R"({"status":"ok","service":"core"})") - 1 == 32);
  core::http::Router router;
  router.Get("/", [](core::http::Request&, core::http::Responder rsp) {
    rsp.Send(core::http::Response::Json(200, kBody));
  });
  auto server = core::http::HttpServer::Create(options, &router);
  if (!server.ok()) {
    std::fprintf(stderr, "http_bench_server: %s\n", server.status().ToString().c_str());
    return 2;
  }
  if (auto s = (*server)->Start(); !s.ok()) {
    std::fprintf(stderr, "http_bench_server: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("listening on %s:%u\n", options.host.c_str(), (*server)->port());
  std::fflush(stdout);
  core::WaitForTerminationSignal();
  (*server)->Shutdown();
  return 0;
}

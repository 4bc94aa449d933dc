// stockd: the inventory reservation service (issue 3). One writer thread applies operations to the
// in-memory engine in batches, journals them with one fdatasync per batch, and only then answers.
//
//   stockd --data-dir ./data/stockd --http-port 8080 --grpc-port 9090 [--config stockd.yaml]
//
// SIGTERM/SIGINT: stop accepting, answer what is in flight, flush the journal, write a snapshot,
// exit 0.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "core/clock/clock.h"
#include "core/health/health.h"
#include "core/http/server.h"
#include "core/log/log.h"
#include "core/metrics/process_metrics.h"
#include "core/metrics/registry.h"
#include "core/process/scheduler.h"
#include "core/process/server_init.h"
#include "core/process/signals.h"
#include "core/testing/process.h"
#include "inventory/api/http_api.h"
#include "inventory/grpc/grpc_service.h"
#include "inventory/service/inventory_metrics.h"
#include "inventory/service/writer.h"
#include "inventory/stockd_config.h"

namespace {

// glibc malloc tuning, applied before any thread starts. Request buffers churn through malloc on
// the I/O, writer and sync threads, and the engine's tables grow on the writer thread. In a
// thread's own arena glibc grows the heap one page per mprotect() call; the main arena grows by
// sbrk() in steps of M_TOP_PAD and keeps that much at the top when memory is freed, instead of
// returning it and faulting it in again. Measured with bench/inventory (HTTP batch of 1024, hot
// SKU, 2-core VM), stockd CPU per reservation: 2.9 -> 2.3 us before the engine's node pool, 1.7-2.1
// -> 1.6-1.7 us with it (docs/benchmarks.md). The arena's lock is shared by all threads; tcache
// serves the small, frequent allocations without it.
constexpr int kMallocArenasMax = 1;
constexpr int kMallocTopPadBytes = 256 << 20;

int Fail(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "stockd: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_ARENA_MAX, kMallocArenasMax);
  mallopt(M_TOP_PAD, kMallocTopPadBytes);
  if (int rc = core::InitServerProcess(); rc != 0) return rc;
  core::BlockTerminationSignals();

  CLI::App app{"stockd: inventory reservation service (never oversells; durable group commit)"};
  std::string config_path, data_dir, ready_file, fsync;
  int http_port = 8080, grpc_port = 9090;
  app.add_option("--config", config_path, "YAML configuration file (see inventory/stockd.yaml)")
      ->check(CLI::ExistingFile);
  app.add_option("--data-dir", data_dir, "Journal and snapshot directory (default ./data/stockd)");
  app.add_option("--http-port", http_port, "HTTP port, 0 for any free port (default 8080)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--grpc-port", grpc_port, "gRPC port, 0 for any free port (default 9090)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--fsync", fsync, "Journal durability: always | periodic | none (default always)")
      ->check(CLI::IsMember({"always", "periodic", "none"}));
  app.add_option("--ready-file", ready_file,
                 "Write {\"http_port\",\"grpc_port\",\"pid\"} here once listening");
  std::string scheduler;
  core::AddSchedulerOption(app, &scheduler);
  CLI11_PARSE(app, argc, argv);
  if (int rc = core::ApplySchedulerOptionOrExitCode(app, scheduler); rc != 0) return rc;

  inventory::StockdConfig config;
  if (!config_path.empty()) {
    if (auto s = inventory::LoadStockdConfig(config_path, &config); !s.ok()) {
      return Fail("config", s);
    }
  }
  if (app.count("--data-dir")) config.journal.dir = data_dir;
  if (app.count("--http-port")) config.http_port = http_port;
  if (app.count("--grpc-port")) config.grpc_port = grpc_port;
  if (app.count("--fsync")) config.writer.fsync = *inventory::ParseFsyncMode(fsync);

  if (auto s = core::log::Init({.level = config.log_level, .json = config.log_json}); !s.ok()) {
    return Fail("log", s);
  }

  core::Registry registry;
  core::RegisterProcessMetrics(registry);
  inventory::InventoryMetrics metrics(&registry);

  auto writer = inventory::Writer::Create(inventory::Env::Posix(), config.journal, config.limits,
                                          config.writer, core::Clock::Real(), &metrics);
  if (!writer.ok()) return Fail("journal " + config.journal.dir, writer.status());

  core::Health health;
  health.AddCheck("journal", [w = writer->get()] {
    return w->healthy() ? absl::OkStatus()
                        : absl::UnavailableError("journal write failed; restart stockd");
  });
  core::http::Router router;
  inventory::HttpApi api(writer->get());
  api.Register(router);
  core::RegisterHealthRoutes(router, &health);
  router.Get("/metrics", [&registry](core::http::Request&, core::http::Responder responder) {
    core::http::Response r = core::http::Response::Text(200, registry.ExposeText());
    r.content_type = core::http::kContentTypePrometheus;
    responder.Send(std::move(r));
  });

  core::http::ServerOptions http_options;
  http_options.host = config.http_host;
  http_options.port = static_cast<uint16_t>(config.http_port);
  http_options.io_threads = config.http_io_threads;
  auto http = core::http::HttpServer::Create(http_options, &router);
  if (!http.ok()) return Fail("http", http.status());
  if (auto s = (*http)->Start(); !s.ok()) return Fail("http", s);

  auto grpc = inventory::GrpcServer::Start(config.grpc_host, config.grpc_port, writer->get());
  if (!grpc.ok()) return Fail("grpc", grpc.status());

  health.SetReady(true);
  spdlog::info("stockd listening: http {} grpc {}, journal {} (fsync {})", (*http)->port(),
               (*grpc)->port(), config.journal.dir,
               config.writer.fsync == inventory::FsyncMode::kAlways     ? "always"
               : config.writer.fsync == inventory::FsyncMode::kPeriodic ? "periodic"
                                                                        : "none");
  if (!ready_file.empty()) {
    nlohmann::json ready = {{"http_port", (*http)->port()},
                            {"grpc_port", (*grpc)->port()},
                            {"pid", static_cast<int>(::getpid())}};
    if (auto s = core::testing::WriteReadyFile(ready_file, ready); !s.ok()) {
      return Fail("ready file", s);
    }
  }

  const int sig = core::WaitForTerminationSignal();
  spdlog::info("signal {}: shutting down", sig);
  health.SetReady(false);
  (*http)->Shutdown();
  (*grpc)->Shutdown();
  (*writer)->Stop();
  spdlog::info("stockd stopped cleanly");
  return 0;
}

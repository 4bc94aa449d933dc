// inventory_load: one closed-loop load generator for the inventory benchmark that speaks each
// system's own protocol (stockd HTTP, Redis RESP + Lua, PostgreSQL libpq). Seeds stock, runs,
// verifies nothing was oversold and prints one line:
//   <name> ops/s=... p50_us=... p99_us=... errors=... oversold=... [details]
// ops/s counts reservations (a batch or pipeline request carries --batch of them).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "bench/inventory/targets.h"

#ifndef INVENTORY_BENCH_DIR
#define INVENTORY_BENCH_DIR "bench/inventory"
#endif

int main(int argc, char** argv) {
  CLI::App app{"Closed-loop reservation load against stockd, Redis + Lua or PostgreSQL"};
  std::string target;
  std::string workload_name = "hot";
  std::string name;
  inventory_bench::TargetOptions options;
  options.lua_path = INVENTORY_BENCH_DIR "/reserve.lua";
  options.schema_path = INVENTORY_BENCH_DIR "/schema.sql";
  inventory_bench::Workload w;
  uint64_t skus = 100000;
  int64_t stock = -1;
  double duration_s = 5, warmup_s = 1;
  int batch = 64;
  app.add_option("--target", target, "System and protocol")
      ->required()
      ->check(CLI::IsMember({"stockd-http", "stockd-batch", "stockd-batch-compact",
                             "stockd-grpc-batch", "stockd-grpc-batch-compact", "redis-lua",
                             "redis-lua-pipelined", "postgres"}));
  app.add_option("--workload", workload_name, "hot: one SKU; uniform: --skus SKUs, uniform")
      ->check(CLI::IsMember({"hot", "uniform"}))
      ->capture_default_str();
  app.add_option("--skus", skus, "SKU count for --workload uniform")->capture_default_str();
  app.add_option("--stock", stock,
                 "Initial units per SKU (default 10^9 hot, 10^6 uniform: ample, so the run "
                 "measures reservations, not rejections)");
  app.add_option("--qty", w.qty, "Units per reservation")->capture_default_str();
  app.add_option("--ttl-ms", w.ttl_ms, "Reservation TTL (outlives the run)")->capture_default_str();
  app.add_option("--batch", batch,
                 "Reservations per request for stockd-(grpc-)batch(-compact) / redis pipelined")
      ->capture_default_str();
  app.add_option("--host", options.host, "Server IP")->capture_default_str();
  app.add_option("--port", options.port, "Server port (stockd HTTP or Redis)");
  app.add_option("--grpc-port", options.grpc_port, "stockd gRPC port (stockd-grpc-batch)");
  app.add_option("--pg", options.pg_conninfo, "libpq conninfo for --target postgres");
  app.add_option("--lua", options.lua_path, "Redis reservation script")->capture_default_str();
  app.add_option("--schema", options.schema_path, "PostgreSQL schema")->capture_default_str();
  app.add_option("--connections", options.load.connections, "Concurrent connections")
      ->capture_default_str();
  app.add_option("--threads", options.load.threads, "Client io threads")->capture_default_str();
  app.add_option("--duration-s", duration_s, "Measured window")->capture_default_str();
  app.add_option("--warmup-s", warmup_s, "Warm-up before the window")->capture_default_str();
  app.add_option("--name", name, "Label of the output line (default: target-workload)");
  app.add_option("--run-tag", w.run_tag, "Prefix of reservation ids")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  using inventory_bench::WorkloadKind;
  w.kind = workload_name == "hot" ? WorkloadKind::kHot : WorkloadKind::kUniform;
  w.sku_count = w.kind == WorkloadKind::kHot ? 1 : skus;
  w.stock_per_sku = stock >= 0 ? stock : (w.kind == WorkloadKind::kHot ? 1000000000 : 1000000);
  w.batch = batch;
  options.load.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(duration_s));
  options.load.warmup =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(warmup_s));
  if (name.empty()) name = fmt::format("{}-{}", target, workload_name);
  if (w.sku_count == 0 || batch <= 0 || w.qty <= 0) {
    std::fprintf(stderr, "--skus, --batch and --qty must be positive\n");
    return 2;
  }
  if (target != "postgres" && options.port == 0) {
    std::fprintf(stderr, "--port is required for %s\n", target.c_str());
    return 2;
  }

  absl::StatusOr<inventory_bench::TargetResult> r;
  using inventory_bench::StockdRequest;
  if (target == "stockd-grpc-batch" || target == "stockd-grpc-batch-compact") {
    r = inventory_bench::RunStockdGrpcBatch(options, w, target == "stockd-grpc-batch-compact");
  } else if (target == "stockd-http") {
    r = inventory_bench::RunStockd(options, w, StockdRequest::kSingle);
  } else if (target == "stockd-batch" || target == "stockd-batch-compact") {
    r = inventory_bench::RunStockd(
        options, w,
        target == "stockd-batch" ? StockdRequest::kBatch : StockdRequest::kBatchCompact);
  } else if (target == "redis-lua" || target == "redis-lua-pipelined") {
    r = inventory_bench::RunRedisLua(options, w, target == "redis-lua-pipelined");
  } else {
    r = inventory_bench::RunPostgres(options, w);
  }
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), r.status().ToString().c_str());
    return 1;
  }
  const auto& v = r->verify;
  const bool batched = target.starts_with("stockd-batch") ||
                       target.starts_with("stockd-grpc-batch") || target == "redis-lua-pipelined";
  std::printf(
      "%s oversold=%lld rejected=%llu stock=%s reservations=%llu req/s=%.0f batch=%d "
      "skus_checked=%llu skus_inconsistent=%llu\n",
      loadgen::FormatSummary(name, r->load).c_str(), static_cast<long long>(v.oversold_units),
      static_cast<unsigned long long>(r->load.ops.rejected),
      r->load.ops.rejected == 0 ? "ample" : "ran-out(run measures rejections)",
      static_cast<unsigned long long>(r->load.ops.ok), r->load.requests_per_second(),
      batched ? w.batch : 1, static_cast<unsigned long long>(v.skus_checked),
      static_cast<unsigned long long>(v.skus_inconsistent));
  std::fflush(stdout);
  return v.oversold_units == 0 && v.skus_inconsistent == 0 ? 0 : 3;
}

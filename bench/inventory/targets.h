// One function per system under test. Each seeds the workload's stock through the system's own
// protocol, runs the closed loop, then reads the final state back and verifies it.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bench/inventory/workload.h"
#include "bench/loadgen/closed_loop.h"

namespace inventory_bench {

struct TargetOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  uint16_t grpc_port = 0;   // stockd gRPC (stockd-grpc-batch)
  std::string pg_conninfo;  // PostgreSQL only
  std::string lua_path;     // Redis only: the reservation script
  std::string schema_path;  // PostgreSQL only: DDL run before seeding
  loadgen::LoadOptions load;
};

struct TargetResult {
  loadgen::LoadResult load;
  Verification verify;
};

enum class StockdRequest {
  kSingle,        // POST /v1/reservations, one reservation per request
  kBatch,         // POST /v1/batch, Workload::batch reserve ops, one result per op
  kBatchCompact,  // the same with "results":"failures": the reply lists only failed ops
};

// stockd over HTTP. Expects a stockd with none of the workload's SKUs yet (fresh data dir).
absl::StatusOr<TargetResult> RunStockd(const TargetOptions& options, const Workload& workload,
                                       StockdRequest request);
// stockd over gRPC: Workload::batch reserve ops per Batch call (seeding and the read-back go
// through HTTP on `port`); `compact`: BATCH_RESULTS_FAILURES.
absl::StatusOr<TargetResult> RunStockdGrpcBatch(const TargetOptions& options, const Workload& w,
                                                bool compact);
// Redis with the Lua script (EVALSHA), one call per request or Workload::batch calls pipelined.
// Flushes the Redis database first.
absl::StatusOr<TargetResult> RunRedisLua(const TargetOptions& options, const Workload& workload,
                                         bool pipelined);
// PostgreSQL: BEGIN; UPDATE stock ... AND available >= $1; INSERT INTO reservations; COMMIT.
// Recreates the schema first.
absl::StatusOr<TargetResult> RunPostgres(const TargetOptions& options, const Workload& workload);

}  // namespace inventory_bench

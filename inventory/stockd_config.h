#pragma once
// stockd's configuration: defaults, then the YAML file (--config), then command-line flags.
//
//   http:    {host: 0.0.0.0, port: 8080, io_threads: 1}
//   grpc:    {host: 0.0.0.0, port: 9090}
//   journal: {dir: ./data/stockd, fsync: always|periodic|none, fsync_interval_ms: 1000,
//             commit_wait_us: 0, syncs_in_flight: 2, segment_bytes_max: 33554432, snapshot_interval_bytes: 16777216}
//   limits:  {skus_max, reservations_max, terminal_retention_ms, adjust_ops_retained_max,
//             queue_depth_max}
//   log:     {level: info, json: false}
//
// Every value is range-checked and unknown keys are refused; messages name the file, the dotted key
// and the problem (core/config).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "inventory/engine/limits.h"
#include "inventory/journal/journal.h"
#include "inventory/service/writer.h"

namespace inventory {

struct StockdConfig {
  std::string http_host = "0.0.0.0";
  int http_port = 8080;
  int http_io_threads = 1;
  std::string grpc_host = "0.0.0.0";
  int grpc_port = 9090;
  JournalOptions journal{.dir = "./data/stockd"};
  WriterOptions writer;
  EngineLimits limits;
  std::string log_level = "info";
  bool log_json = false;
};

// Reads `path` over the defaults in `config`.
absl::Status LoadStockdConfig(const std::string& path, StockdConfig* config);

}  // namespace inventory

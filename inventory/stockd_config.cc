#include "inventory/stockd_config.h"

#include "core/config/config.h"
#include "core/status/status_macros.h"

namespace inventory {

absl::Status LoadStockdConfig(const std::string& path, StockdConfig* c) {
  ASSIGN_OR_RETURN(core::ConfigNode root, core::LoadYamlFile(path));

  ASSIGN_OR_RETURN(core::ConfigNode http, root.Child("http"));
  ASSIGN_OR_RETURN(c->http_host, http.GetString("host", c->http_host));
  ASSIGN_OR_RETURN(int64_t http_port, http.GetInt("port", c->http_port, 0, 65535));
  c->http_port = static_cast<int>(http_port);
  ASSIGN_OR_RETURN(int64_t io_threads, http.GetInt("io_threads", c->http_io_threads, 1, 64));
  c->http_io_threads = static_cast<int>(io_threads);

  ASSIGN_OR_RETURN(core::ConfigNode grpc, root.Child("grpc"));
  ASSIGN_OR_RETURN(c->grpc_host, grpc.GetString("host", c->grpc_host));
  ASSIGN_OR_RETURN(int64_t grpc_port, grpc.GetInt("port", c->grpc_port, 0, 65535));
  c->grpc_port = static_cast<int>(grpc_port);

  ASSIGN_OR_RETURN(core::ConfigNode journal, root.Child("journal"));
  ASSIGN_OR_RETURN(c->journal.dir, journal.GetString("dir", c->journal.dir));
  if (c->journal.dir.empty()) return journal.Error("dir", "must not be empty");
  static constexpr std::string_view kModes[] = {"always", "periodic", "none"};
  ASSIGN_OR_RETURN(std::string fsync, journal.GetEnum("fsync", "always", kModes));
  ASSIGN_OR_RETURN(c->writer.fsync, ParseFsyncMode(fsync));
  ASSIGN_OR_RETURN(c->writer.fsync_interval_ms,
                   journal.GetInt("fsync_interval_ms", c->writer.fsync_interval_ms, 1, 60'000));
  ASSIGN_OR_RETURN(c->writer.commit_wait_us,
                   journal.GetInt("commit_wait_us", c->writer.commit_wait_us, 0, 100'000));
  ASSIGN_OR_RETURN(int64_t syncs_in_flight,
                   journal.GetInt("syncs_in_flight", c->writer.syncs_in_flight, 1,
                                  kSyncsInFlightMax));
  c->writer.syncs_in_flight = static_cast<int>(syncs_in_flight);
  ASSIGN_OR_RETURN(
      int64_t segment_bytes,
      journal.GetInt("segment_bytes_max", static_cast<int64_t>(c->journal.segment_bytes_max),
                     1 << 20, int64_t{16} << 30));
  c->journal.segment_bytes_max = static_cast<uint64_t>(segment_bytes);
  ASSIGN_OR_RETURN(int64_t snapshot_bytes,
                   journal.GetInt("snapshot_interval_bytes",
                                  static_cast<int64_t>(c->writer.snapshot_interval_bytes), 1 << 20,
                                  int64_t{64} << 30));
  c->writer.snapshot_interval_bytes = static_cast<uint64_t>(snapshot_bytes);

  ASSIGN_OR_RETURN(core::ConfigNode limits, root.Child("limits"));
  ASSIGN_OR_RETURN(
      int64_t skus_max,
      limits.GetInt("skus_max", static_cast<int64_t>(c->limits.skus_max), 1, 100'000'000));
  c->limits.skus_max = static_cast<size_t>(skus_max);
  ASSIGN_OR_RETURN(
      int64_t reservations_max,
      limits.GetInt("reservations_max", static_cast<int64_t>(c->limits.reservations_max), 1,
                    1'000'000'000));
  c->limits.reservations_max = static_cast<size_t>(reservations_max);
  ASSIGN_OR_RETURN(c->limits.terminal_retention_ms,
                   limits.GetInt("terminal_retention_ms", c->limits.terminal_retention_ms, 0,
                                 int64_t{30} * 24 * 3600 * 1000));
  ASSIGN_OR_RETURN(
      int64_t adjust_ops,
      limits.GetInt("adjust_ops_retained_max",
                    static_cast<int64_t>(c->limits.adjust_ops_retained_max), 1, 100'000'000));
  c->limits.adjust_ops_retained_max = static_cast<size_t>(adjust_ops);
  ASSIGN_OR_RETURN(int64_t queue_depth,
                   limits.GetInt("queue_depth_max", static_cast<int64_t>(c->writer.queue_depth_max),
                                 1, 10'000'000));
  c->writer.queue_depth_max = static_cast<size_t>(queue_depth);

  ASSIGN_OR_RETURN(core::ConfigNode log, root.Child("log"));
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
  ASSIGN_OR_RETURN(c->log_level, log.GetEnum("level", c->log_level, kLevels));
  ASSIGN_OR_RETURN(c->log_json, log.GetBool("json", c->log_json));

  return root.CheckNoUnknownKeys();
}

}  // namespace inventory

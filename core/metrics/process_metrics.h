#pragma once
// The standard process_* metrics (the names the Prometheus client libraries use), read from the
// kernel at scrape time:
//
//   process_cpu_seconds_total       counter  user + system CPU time (getrusage)
//   process_resident_memory_bytes   gauge    resident set size (/proc/self/statm)
//   process_virtual_memory_bytes    gauge    virtual memory size (/proc/self/statm)
//   process_open_fds                gauge    entries in /proc/self/fd
//   process_max_fds                 gauge    RLIMIT_NOFILE soft limit
//   process_start_time_seconds      gauge    start time since the Unix epoch (/proc/self/stat,
//   /proc/stat)
//
// A value that cannot be read (no /proc, e.g. in a minimal container) is exposed as NaN rather than
// failing the scrape.
//
// Thread safety: call once at start-up; the callbacks are safe on any scraping thread.

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "core/metrics/registry.h"

namespace core {

void RegisterProcessMetrics(Registry& registry);

namespace process_metrics_internal {

// Parsers for the /proc formats, separate so tests can feed fixed text.
// /proc/self/statm: "size resident shared text lib data dt" in pages. Returns {size, resident}.
std::optional<std::pair<uint64_t, uint64_t>> ParseStatmPages(std::string_view statm);
// /proc/self/stat field 22 (starttime, clock ticks after boot). The command name (field 2) may
// contain spaces and parentheses, so fields are counted after the last ')'.
std::optional<uint64_t> ParseStatStartTimeTicks(std::string_view stat);
// The "btime <seconds>" line of /proc/stat.
std::optional<uint64_t> ParseBootTimeSeconds(std::string_view proc_stat);

}  // namespace process_metrics_internal
}  // namespace core

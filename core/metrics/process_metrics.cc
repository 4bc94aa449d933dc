#include "core/metrics/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

namespace core {
namespace process_metrics_internal {
namespace {

std::string_view SkipSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  return s;
}

// Parses an unsigned decimal at the start of `*s` (after spaces) and advances past it.
std::optional<uint64_t> ConsumeUint(std::string_view* s) {
  *s = SkipSpaces(*s);
  uint64_t value = 0;
  const auto result = std::from_chars(s->data(), s->data() + s->size(), value);
  if (result.ec != std::errc() || result.ptr == s->data()) return std::nullopt;
  s->remove_prefix(static_cast<size_t>(result.ptr - s->data()));
  return value;
}

}  // namespace

std::optional<std::pair<uint64_t, uint64_t>> ParseStatmPages(std::string_view statm) {
  const std::optional<uint64_t> size = ConsumeUint(&statm);
  const std::optional<uint64_t> resident = ConsumeUint(&statm);
  if (!size || !resident) return std::nullopt;
  return std::make_pair(*size, *resident);
}

std::optional<uint64_t> ParseStatStartTimeTicks(std::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  // After ')' come field 3 (state) .. field 22 (starttime): skip 19 fields.
  constexpr int kFieldsBeforeStartTime = 19;
  for (int i = 0; i < kFieldsBeforeStartTime; ++i) {
    rest = SkipSpaces(rest);
    const size_t end = rest.find(' ');
    if (end == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(end);
  }
  return ConsumeUint(&rest);
}

std::optional<uint64_t> ParseBootTimeSeconds(std::string_view proc_stat) {
  constexpr std::string_view kKey = "btime ";
  while (!proc_stat.empty()) {  // One line per iteration; the input is bounded by the reader.
    const size_t end = proc_stat.find('\n');
    std::string_view line = proc_stat.substr(0, end);
    if (line.substr(0, kKey.size()) == kKey) {
      line.remove_prefix(kKey.size());
      return ConsumeUint(&line);
    }
    if (end == std::string_view::npos) break;
    proc_stat.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace process_metrics_internal

namespace {

using process_metrics_internal::ParseBootTimeSeconds;
using process_metrics_internal::ParseStatmPages;
using process_metrics_internal::ParseStatStartTimeTicks;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// /proc/stat grows with the CPU count (a line per CPU); 1 MiB covers thousands of CPUs.
constexpr size_t kProcFileBytesMax = 1 << 20;

// Reads a small /proc file with plain syscalls (no iostreams, no exceptions).
std::optional<std::string> ReadProcFile(const char* path) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buffer[4096];
  while (content.size() < kProcFileBytesMax) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return content;
}

double CpuSeconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return kNaN;
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double StatmBytes(bool resident) {
  const std::optional<std::string> statm = ReadProcFile("/proc/self/statm");
  if (!statm) return kNaN;
  const auto pages = ParseStatmPages(*statm);
  const long page_bytes = sysconf(_SC_PAGESIZE);
  if (!pages || page_bytes <= 0) return kNaN;
  return static_cast<double>(resident ? pages->second : pages->first) *
         static_cast<double>(page_bytes);
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return kNaN;
  // Bounded by the process's own descriptor limit.
  uint64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return static_cast<double>(count - 1);  // Not counting the descriptor opendir() holds.
}

double MaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return kNaN;
  return limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                         : static_cast<double>(limit.rlim_cur);
}

double StartTimeSeconds() {
  const std::optional<std::string> stat = ReadProcFile("/proc/self/stat");
  const std::optional<std::string> proc_stat = ReadProcFile("/proc/stat");
  if (!stat || !proc_stat) return kNaN;
  const std::optional<uint64_t> ticks = ParseStatStartTimeTicks(*stat);
  const std::optional<uint64_t> boot_s = ParseBootTimeSeconds(*proc_stat);
  const long ticks_per_s = sysconf(_SC_CLK_TCK);
  if (!ticks || !boot_s || ticks_per_s <= 0) return kNaN;
  return static_cast<double>(*boot_s) +
         static_cast<double>(*ticks) / static_cast<double>(ticks_per_s);
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  registry.AddCallbackCounter("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.", CpuSeconds);
  registry.AddCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                            [] { return StatmBytes(/*resident=*/true); });
  registry.AddCallbackGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                            [] { return StatmBytes(/*resident=*/false); });
  registry.AddCallbackGauge("process_open_fds", "Number of open file descriptors.", OpenFds);
  registry.AddCallbackGauge("process_max_fds", "Maximum number of open file descriptors.", MaxFds);
  // Constant for the life of the process: read once here, not at every scrape.
  const double start_time_s = StartTimeSeconds();
  registry.AddCallbackGauge("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            [start_time_s] { return start_time_s; });
}

}  // namespace core

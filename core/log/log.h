#pragma once
// Logging over spdlog: one call at start-up configures the process-wide default logger, then code
// logs with the plain spdlog API (`spdlog::info("reserved {} items", n)`).
//
//   RETURN_IF_ERROR(core::log::Init({.level = config_level, .json = true}));
//
// Every line carries the current request id when one is set on the logging thread (see
// request_id.h): text lines get `[rid=...]` before the message, JSON lines a "rid" field.
//
// The loggers are synchronous on purpose: the request id is thread-local and is read while the line
// is formatted, which for a synchronous logger happens on the thread that logs. (An async logger
// would format on its worker thread and lose the id.)
//
// Thread safety: Init() and SetLevel() are meant for start-up (or an operator's reconfiguration)
// and may race only with logging, which spdlog tolerates; do not call Init() from two threads at
// once. The formatters returned by NewFormatter() are used by spdlog under the sink's mutex.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spdlog/common.h"
#include "spdlog/formatter.h"

namespace core::log {

// The pattern flag that expands to `[rid=<id>] ` (with the trailing space) when a request id is set
// on the logging thread, and to nothing otherwise. Usable in custom patterns through
// NewTextFormatter().
inline constexpr char kRequestIdFlag = '*';

// Text lines: UTC timestamp, level, thread id, request id, message:
//   2024-05-01T12:00:00.123Z info [4711] [rid=9f86d081884c7d65] reserved 3 items
inline constexpr std::string_view kDefaultTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %l [%t] %*%v";

struct Options {
  // One of "trace", "debug", "info", "warn", "error".
  std::string level = "info";
  // One JSON object per line ({"ts":...,"level":...,"thread":...,"rid":...,"msg":...}) for log
  // shippers; otherwise kDefaultTextPattern.
  bool json = false;
  // Where lines go. Empty: standard error. Tests pass an ostream sink; services may add a file
  // sink.
  std::vector<spdlog::sink_ptr> sinks;
  // The logger's name (spdlog's registry key).
  std::string name = "main";
};

// Parses "trace|debug|info|warn|error". Anything else: InvalidArgument naming the accepted values.
absl::StatusOr<spdlog::level::level_enum> ParseLevel(std::string_view level);

// Builds the logger described by `options` and installs it as spdlog's default logger. On error
// (invalid level) nothing changes.
absl::Status Init(const Options& options);

// A text formatter for `pattern` (spdlog syntax plus kRequestIdFlag), timestamps in UTC.
std::unique_ptr<spdlog::formatter> NewTextFormatter(std::string_view pattern = kDefaultTextPattern);
// The JSON-lines formatter used when Options::json is set. Strings are JSON-escaped.
std::unique_ptr<spdlog::formatter> NewJsonFormatter();

}  // namespace core::log

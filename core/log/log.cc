#include "core/log/log.h"

#include <array>
#include <chrono>
#include <ctime>
#include <utility>

#include "core/log/request_id.h"
#include "fmt/format.h"
#include "spdlog/details/log_msg.h"
#include "spdlog/logger.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace core::log {
namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 5> kLevels = {{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
}};

void Append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// Expands kRequestIdFlag: "[rid=<id>] " when an id is set on the formatting (= logging) thread.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view rid = CurrentRequestId();
    if (rid.empty()) return;
    Append(dest, "[rid=");
    Append(dest, rid);
    Append(dest, "] ");
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

// Appends `text` as the inside of a JSON string (RFC 8259 escaping; bytes >= 0x80 pass through).
void AppendJsonEscaped(spdlog::memory_buf_t& dest, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    switch (c) {
      case '"':
        Append(dest, "\\\"");
        break;
      case '\\':
        Append(dest, "\\\\");
        break;
      case '\n':
        Append(dest, "\\n");
        break;
      case '\r':
        Append(dest, "\\r");
        break;
      case '\t':
        Append(dest, "\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          const char escape[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
          dest.append(escape, escape + sizeof(escape));
        } else {
          dest.push_back(c);
        }
    }
  }
}

// {"ts":"2024-05-01T12:00:00.123Z","level":"info","thread":4711,"rid":"...","msg":"..."}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t time = static_cast<std::time_t>(seconds.count());
    std::tm tm_utc{};
    gmtime_r(&time, &tm_utc);
    fmt::format_to(std::back_inserter(dest),
                   "{{\"ts\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"",
                   tm_utc.tm_year + 1900, tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour,
                   tm_utc.tm_min, tm_utc.tm_sec, millis);
    const auto level_name = spdlog::level::to_string_view(msg.level);
    Append(dest, std::string_view(level_name.data(), level_name.size()));
    fmt::format_to(std::back_inserter(dest), "\",\"thread\":{}", msg.thread_id);
    const std::string_view rid = CurrentRequestId();
    if (!rid.empty()) {
      Append(dest, ",\"rid\":\"");
      Append(dest, rid);  // Sanitised by RequestIdScope: no characters that need escaping.
      dest.push_back('"');
    }
    Append(dest, ",\"msg\":\"");
    AppendJsonEscaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    Append(dest, "\"}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

absl::StatusOr<spdlog::level::level_enum> ParseLevel(std::string_view level) {
  for (const auto& [name, value] : kLevels) {
    if (level == name) return value;
  }
  return absl::InvalidArgumentError(
      fmt::format("log level: expected one of [trace, debug, info, warn, error], got '{}'", level));
}

std::unique_ptr<spdlog::formatter> NewTextFormatter(std::string_view pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<RequestIdFlag>(kRequestIdFlag).set_pattern(std::string(pattern));
  return formatter;
}

std::unique_ptr<spdlog::formatter> NewJsonFormatter() { return std::make_unique<JsonFormatter>(); }

absl::Status Init(const Options& options) {
  const absl::StatusOr<spdlog::level::level_enum> level = ParseLevel(options.level);
  if (!level.ok()) return level.status();

  std::vector<spdlog::sink_ptr> sinks = options.sinks;
  if (sinks.empty()) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>(options.name, sinks.begin(), sinks.end());
  logger->set_formatter(options.json ? NewJsonFormatter() : NewTextFormatter());
  logger->set_level(*level);
  // Warnings and errors reach the sink at once: they matter most right before a crash.
  logger->flush_on(spdlog::level::warn);
  // spdlog throws only on misuse (e.g. a bad pattern); ours are constants, checked by the tests.
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace core::log

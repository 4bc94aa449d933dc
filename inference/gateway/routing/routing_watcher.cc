#include "inference/gateway/routing/routing_watcher.h"

#include <sys/stat.h>

#include <chrono>
#include <utility>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace inference::gateway {

absl::StatusOr<std::unique_ptr<RoutingWatcher>> RoutingWatcher::Create(Options options) {
  if (options.poll_interval_ms < 1 || options.poll_interval_ms > kRoutingPollIntervalMsMax) {
    return absl::InvalidArgumentError(
        fmt::format("routing poll_interval_ms: expected [1, {}], got {}", kRoutingPollIntervalMsMax,
                    options.poll_interval_ms));
  }
  std::shared_ptr<const RoutingTable> initial = RoutingTable::Empty();
  FileStamp stamp;
  if (!options.path.empty()) {
    stamp = Stamp(options.path);
    absl::StatusOr<std::shared_ptr<const RoutingTable>> loaded =
        RoutingTable::LoadFile(options.path);
    if (!loaded.ok()) return loaded.status();
    initial = *std::move(loaded);
  }
  auto watcher = std::unique_ptr<RoutingWatcher>(new RoutingWatcher(std::move(options)));
  watcher->table_.store(std::move(initial));
  watcher->stamp_ = stamp;
  if (!watcher->options_.path.empty()) {
    watcher->thread_ = std::thread([w = watcher.get()] { w->Loop(); });
  }
  return watcher;
}

RoutingWatcher::RoutingWatcher(Options options) : options_(std::move(options)) {}

RoutingWatcher::~RoutingWatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

RoutingWatcher::FileStamp RoutingWatcher::Stamp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_size), static_cast<uint64_t>(st.st_ino)};
}

void RoutingWatcher::Apply(std::shared_ptr<const RoutingTable> table) {
  table_.store(std::move(table));
  reloads_.fetch_add(1);
  if (options_.on_reload) options_.on_reload(true, "applied");
}

std::string RoutingWatcher::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void RoutingWatcher::CheckOnce() {
  const FileStamp now = Stamp(options_.path);
  if (now == stamp_) return;
  stamp_ = now;
  absl::StatusOr<std::shared_ptr<const RoutingTable>> loaded =
      RoutingTable::LoadFile(options_.path);
  if (!loaded.ok()) {
    std::string message(loaded.status().message());
    spdlog::error("routing: refused {} (previous routing stays): {}", options_.path, message);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = message;
    }
    if (options_.on_reload) options_.on_reload(false, message);
    return;
  }
  table_.store(*std::move(loaded));
  reloads_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_.clear();
  }
  spdlog::info("routing: reloaded {}", options_.path);
  if (options_.on_reload) options_.on_reload(true, "reloaded");
}

void RoutingWatcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms));
    if (stop_) break;
    lock.unlock();
    CheckOnce();
    lock.lock();
  }
}

}  // namespace inference::gateway

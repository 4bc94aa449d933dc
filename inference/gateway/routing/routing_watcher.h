#pragma once
// RoutingWatcher: keeps the current RoutingTable in step with the routing file.
//
// A background thread stat()s the file every poll_interval_ms (<= 250 ms, so a new weight takes
// effect well within one second) and reloads it when its mtime, size or inode changed. A file that
// fails validation is refused: the previous table stays in force and the error is reported through
// `on_reload` (and last_error()). Readers never block on a reload: current() is a
// core::SnapshotPtr load (lock-free in the steady state), and a request keeps the table it
// started with.
//
// Apply() installs a table given by other means (the admin routing endpoint) the same way.
//
// Thread safety: current(), Apply(), last_error() from any thread. `on_reload` runs on the watcher
// thread (or Apply's caller) and must be cheap.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "core/sync/snapshot_ptr.h"
#include "inference/gateway/routing/routing_table.h"

namespace inference::gateway {

inline constexpr int kRoutingPollIntervalMsMax = 250;

class RoutingWatcher {
 public:
  struct Options {
    std::string path;  // empty: no file, the table only changes through Apply()
    int poll_interval_ms = 100;
    std::function<void(bool ok, const std::string& message)> on_reload;
  };

  // Loads the file once (an invalid or missing file at start-up is an error: fix it) and starts
  // the thread. InvalidArgument for a poll interval outside [1, kRoutingPollIntervalMsMax].
  static absl::StatusOr<std::unique_ptr<RoutingWatcher>> Create(Options options);
  ~RoutingWatcher();

  std::shared_ptr<const RoutingTable> current() const { return table_.load(); }
  void Apply(std::shared_ptr<const RoutingTable> table);
  std::string last_error() const;
  int64_t reloads() const { return reloads_.load(); }

 private:
  struct FileStamp {
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };
  explicit RoutingWatcher(Options options);
  static FileStamp Stamp(const std::string& path);
  void Loop();
  void CheckOnce();

  const Options options_;
  core::SnapshotPtr<RoutingTable> table_;
  std::atomic<int64_t> reloads_{0};
  FileStamp stamp_;  // watcher thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace inference::gateway

#pragma once
// RepositoryWatcher: tells the ModelManager when to rescan. inotify watches the repository root,
// every model folder and every version folder (new folders are added as they appear); any create,
// delete, move, close-after-write or attribute change triggers on_change(). A periodic call every
// rescan_interval_ms is the safety net for what inotify misses (network file systems, watch
// limits).
//
// on_change() runs on the watcher's thread and must be cheap (ModelManager::RequestRescan is).

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace inference {

struct RepositoryWatcherOptions {
  std::string root;
  int rescan_interval_ms = 10000;
  std::function<void()> on_change;
};

class RepositoryWatcher {
 public:
  // Unavailable when inotify cannot be set up (the caller may run with periodic rescans only).
  static absl::StatusOr<std::unique_ptr<RepositoryWatcher>> Create(
      RepositoryWatcherOptions options);
  ~RepositoryWatcher();  // stops and joins

 private:
  RepositoryWatcher(RepositoryWatcherOptions options, int inotify_fd, int stop_fd);
  void Loop();
  void AddWatches();

  const RepositoryWatcherOptions options_;
  const int inotify_fd_;
  const int stop_fd_;  // eventfd
  std::thread thread_;
};

}  // namespace inference

#include "inference/repository/repository_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace inference {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                                IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR;
constexpr size_t kEventBufferBytes = 64 * 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<RepositoryWatcher>> RepositoryWatcher::Create(
    RepositoryWatcherOptions options) {
  if (!options.on_change) return absl::InvalidArgumentError("on_change: required");
  if (options.rescan_interval_ms < 10)
    return absl::InvalidArgumentError("rescan_interval_ms >= 10");
  int ifd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ifd < 0)
    return absl::UnavailableError(fmt::format("inotify_init1: {}", std::strerror(errno)));
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    ::close(ifd);
    return absl::UnavailableError(fmt::format("eventfd: {}", std::strerror(errno)));
  }
  auto w = std::unique_ptr<RepositoryWatcher>(new RepositoryWatcher(std::move(options), ifd, efd));
  w->AddWatches();
  w->thread_ = std::thread([raw = w.get()] { raw->Loop(); });
  return w;
}

RepositoryWatcher::RepositoryWatcher(RepositoryWatcherOptions options, int inotify_fd, int stop_fd)
    : options_(std::move(options)), inotify_fd_(inotify_fd), stop_fd_(stop_fd) {}

RepositoryWatcher::~RepositoryWatcher() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(inotify_fd_);
  ::close(stop_fd_);
}

void RepositoryWatcher::AddWatches() {
  // Re-adding an existing watch is a cheap no-op, so this simply walks the (shallow) tree.
  ::inotify_add_watch(inotify_fd_, options_.root.c_str(), kWatchMask);
  std::error_code ec;
  for (const auto& model : fs::directory_iterator(options_.root, ec)) {
    if (!model.is_directory(ec)) continue;
    ::inotify_add_watch(inotify_fd_, model.path().c_str(), kWatchMask);
    for (const auto& version : fs::directory_iterator(model.path(), ec)) {
      if (version.is_directory(ec))
        ::inotify_add_watch(inotify_fd_, version.path().c_str(), kWatchMask);
    }
  }
}

void RepositoryWatcher::Loop() {
  std::unique_ptr<char[]> buf(new char[kEventBufferBytes]);
  while (true) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, options_.rescan_interval_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("repository watcher: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents & POLLIN) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      while (::read(inotify_fd_, buf.get(), kEventBufferBytes) > 0) {
      }
      AddWatches();  // new model/version folders
    }
    options_.on_change();  // an event, or the periodic rescan
  }
}

}  // namespace inference

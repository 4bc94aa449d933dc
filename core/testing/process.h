#pragma once
// Test support for integration tests that drive real binaries over real sockets.
//
// Convention for every server binary of this repository: `--ready-file PATH` makes the binary write a
// JSON object (e.g. {"http_port": 41234, "grpc_port": 41235, "pid": 123}) to PATH atomically (write to a
// temporary name, then rename) once all its listeners are bound. Tests start binaries with port 0 and
// read the chosen ports from that file, so tests never collide on fixed ports.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace core::testing {

struct ChildOptions {
  std::string log_path;                // stdout+stderr go here ("" -> inherited)
  std::vector<std::string> extra_env;  // "NAME=value" added to the environment
};

// A child process, killed (SIGKILL) and reaped by the destructor if still running.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const ChildOptions& options = {});
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit up to timeout_ms; returns the exit code, or -signal when killed by a signal.
  // DeadlineExceeded when still running.
  absl::StatusOr<int> Wait(int timeout_ms);
  bool Running();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
};

// Polls until `path` holds a complete JSON document; DeadlineExceeded after timeout_ms.
absl::StatusOr<nlohmann::json> WaitForReadyFile(const std::string& path, int timeout_ms = 30000);

// The whole content of a file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// Writes `json` to `path` atomically (temporary file + rename). For binaries implementing --ready-file.
absl::Status WriteReadyFile(const std::string& path, const nlohmann::json& json);

// A fresh empty directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Sends SIGSTOP to `pid` and waits until every thread of it has stopped. kill() only queues the
// signal: until one of the process's threads is scheduled to take it, the others keep running and
// serving (for a hundred milliseconds and more when the cores are busy). io_uring's kernel worker
// threads (named iou-*) never stop and are not waited for. DeadlineExceeded after timeout_ms.
absl::Status StopProcess(pid_t pid, int timeout_ms = 5000);

// The state letter of a process or thread from its /proc/<pid>[/task/<tid>]/stat file ('R', 'S',
// 'T', ...), and its name (comm); state '?' when the file cannot be read or parsed.
struct TaskState {
  char state = '?';
  std::string name;
};
TaskState ReadTaskState(const std::string& stat_path);

// Resident set size of a process in bytes (from /proc/<pid>/statm); 0 when unavailable.
size_t ResidentBytes(pid_t pid);

}  // namespace core::testing

#pragma once
// Env: the narrow file-system interface under the journal (LevelDB's Env idea). Production uses
// Env::Posix(); unit tests and the simulator use FaultEnv (fault_env.h), which keeps files in
// memory, tracks what was synced, and can simulate a crash with torn writes or failing syncs.
//
// Durability contract the journal relies on: data appended to a WritableFile is durable once Sync()
// returned OK; directory operations (create, rename, remove) are durable once SyncDir() returned
// OK.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace inventory {

// An open file written sequentially from a position (its start for a new file, the offset given to
// OpenForWriteAt otherwise): each Append writes at the current position (pwrite), overwriting what
// is there and extending the file only past its end, then advances. Not thread-safe: one thread at
// a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  // fdatasync: makes every written byte durable.
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

// Held while a process owns a data directory; released on destruction (or process death).
class DirLock {
 public:
  virtual ~DirLock() = default;
};

// Thread safety: implementations are safe to call from any thread.
class Env {
 public:
  virtual ~Env() = default;
  // Opens the existing file `path` for writing at `offset_bytes` (NotFound when absent); existing
  // contents are kept (overwriting preallocated zeros costs no metadata change in fdatasync).
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenForWriteAt(const std::string& path,
                                                                       uint64_t offset_bytes) = 0;
  // Creates `path` empty (truncating an existing file).
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  virtual absl::Status Truncate(const std::string& path, uint64_t size_bytes) = 0;
  // Names (not paths) of the entries of `dir`.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual absl::Status CreateDirs(const std::string& dir) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Exclusive lock on `path` (created if needed); FailedPrecondition when another process holds it.
  virtual absl::StatusOr<std::unique_ptr<DirLock>> Lock(const std::string& path) = 0;

  // The real file system. Never null; lives for the whole process.
  static Env* Posix();
};

}  // namespace inventory

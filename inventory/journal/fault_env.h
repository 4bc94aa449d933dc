#pragma once
// FaultEnv: an in-memory Env for unit tests and the simulator. Each file remembers how many of its
// bytes are durable (synced). Crash() models a power loss: every file keeps its synced bytes plus a
// random prefix of the unsynced ones (a torn write), optionally with garbage in that torn part.
// Directory operations are treated as durable at once (the journal syncs the directory right after
// each of them, so this loses no coverage of the journal's own logic).
//
// Faults: FailNextSyncs(n) makes the next n Sync() calls fail (Unavailable) without making anything
// durable; FailNextAppends(n) likewise for Append (nothing is written).
//
// Thread safety: all methods may be called from any thread.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "inventory/journal/env.h"

namespace inventory {

class FaultEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::Status Truncate(const std::string& path, uint64_t size_bytes) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override;
  absl::Status CreateDirs(const std::string& dir) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::StatusOr<std::unique_ptr<DirLock>> Lock(const std::string& path) override;

  // Power loss. `garbage`: also overwrite some bytes of each torn suffix with random values.
  // Open WritableFiles must not be used afterwards (the process they belonged to is gone).
  void Crash(std::mt19937_64* rng, bool garbage);
  void FailNextSyncs(int n);
  void FailNextAppends(int n);
  // Flips one byte at `offset` of `path` (e.g. to test checksum detection); false when out of
  // range.
  bool CorruptByte(const std::string& path, uint64_t offset);
  uint64_t FileSize(const std::string& path);
  uint64_t syncs() const;

  struct FileState {
    std::string data;
    size_t synced_bytes = 0;
  };

 private:
  friend class FaultFile;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;
  int fail_syncs_ = 0;
  int fail_appends_ = 0;
  uint64_t syncs_ = 0;
};

}  // namespace inventory

#pragma once
// FaultEnv: an in-memory Env for unit tests and the simulator. Each file keeps two images: what the
// running process sees (`data`) and what survives a power loss (`durable`, updated by Sync()), plus
// the byte range written since the last Sync(). Crash() models a power loss: every file keeps its
// durable image, and of the range written since its last sync some part lands (a torn write):
//   - a prefix of it (sequential write-back cut short): a torn record followed by the old bytes,
//     which are zeros in a preallocated segment;
//   - independent 512-byte sectors of it (out-of-order write-back): zeros followed by data;
//   - a prefix plus one stray later sector: a torn record, zeros, then data again;
// optionally with garbage bytes written anywhere in that range (zeros followed by garbage, a torn
// header, ...). A file that grew keeps the size that covers its landed bytes; a preallocated file
// (overwritten in place) keeps its size. Bytes that were durable are never damaged.
// Directory operations are treated as durable at once (the journal syncs the directory right after
// each of them, so this loses no coverage of the journal's own logic).
//
// Faults: FailNextSyncs(n) makes the next n Sync() calls fail (Unavailable) without making anything
// durable; FailNextAppends(n) likewise for Append (nothing is written). HoldNextSync() makes the
// next Sync() call wait, before it does anything, until ReleaseHeldSync(fail): other syncs go on
// meanwhile (the writer's overlapped syncs: a later sync may return before an earlier one).
//
// Thread safety: all methods may be called from any thread.

#include <condition_variable>
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
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenForWriteAt(const std::string& path,
                                                               uint64_t offset_bytes) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::Status Truncate(const std::string& path, uint64_t size_bytes) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override;
  absl::Status CreateDirs(const std::string& dir) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::StatusOr<std::unique_ptr<DirLock>> Lock(const std::string& path) override;

  // Power loss. `garbage`: also overwrite some bytes of each torn range with random values.
  // Open WritableFiles must not be used afterwards (the process they belonged to is gone).
  void Crash(std::mt19937_64* rng, bool garbage);
  void FailNextSyncs(int n);
  void FailNextAppends(int n);
  void HoldNextSync();
  bool sync_held() const;  // a Sync() call is waiting for ReleaseHeldSync
  void ReleaseHeldSync(bool fail);
  // Flips one byte at `offset` of `path` (e.g. to test checksum detection); false when out of
  // range. The damage counts as durable.
  bool CorruptByte(const std::string& path, uint64_t offset);
  // Overwrites `bytes` at `offset` of `path` (extending it with zeros if needed) as durable
  // content: builds the on-disk images a crash could leave. False when `path` does not exist.
  bool WriteDurable(const std::string& path, uint64_t offset, std::string_view bytes);
  uint64_t FileSize(const std::string& path);
  uint64_t syncs() const;

  static constexpr size_t kSectorBytes = 512;

  struct FileState {
    std::string data;     // what the process reads
    std::string durable;  // what a crash keeps
    size_t dirty_begin = 0;
    size_t dirty_end = 0;  // [dirty_begin, dirty_end): written since the last sync (empty: clean)
    void Write(uint64_t offset, std::string_view bytes);
    void MarkSynced();
  };

 private:
  friend class FaultFile;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;
  int fail_syncs_ = 0;
  int fail_appends_ = 0;
  uint64_t syncs_ = 0;
  bool hold_next_sync_ = false;
  bool sync_held_ = false;
  bool release_held_ = false;
  bool release_fails_ = false;
  std::condition_variable hold_cv_;
};

}  // namespace inventory

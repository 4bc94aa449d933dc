#pragma once
// Journal: an append-only write-ahead log of checksummed records in segment files, plus snapshots.
//
// Directory layout (all under JournalOptions::dir):
//   journal-<first seq, 20 digits>.log   segments; records with consecutive sequence numbers
//   snapshot-<seq, 20 digits>.snap       the complete state after record <seq>
//   LOCK                                 held (flock) by the process that owns the directory
//
// Record layout: RecordHeader (16 bytes, little-endian) then `length` payload bytes. The CRC-32C
// covers the length, the sequence number and the payload, so a torn, zeroed or garbled record never
// passes.
//
// Recovery (Open): load the newest snapshot (its checksum must hold: DataLoss otherwise), then
// replay the records after it in order. A record that fails its checksum or is cut short in the
// LAST segment is a torn tail from a crash: it and everything after it are truncated (logged,
// counted in RecoveryStats), never applied. Damage anywhere else (an earlier segment, a sequence
// gap) is corruption the journal cannot explain by a crash: Open fails with DataLoss rather than
// guess.
//
// Thread safety: after Open, one thread at a time (the writer's sync thread) calls the methods.
// A failed Append or Sync poisons the journal: every later call returns the same error, because
// what reached the disk is unknown (the process must restart and recover).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inventory/journal/env.h"

namespace inventory {

struct RecordHeader {
  uint32_t crc32c;  // over length, seq and payload
  uint32_t length;  // payload bytes
  uint64_t seq;     // 1, 2, 3, ... across segments
};
static_assert(sizeof(RecordHeader) == 16, "record header layout is part of the file format");
static_assert(offsetof(RecordHeader, length) == 4 && offsetof(RecordHeader, seq) == 8);

struct SnapshotHeader {
  uint64_t magic;
  uint64_t seq;            // state after this record
  uint64_t length;         // state bytes
  uint32_t crc32c;         // over the state bytes
  uint32_t header_crc32c;  // over the fields above
};
static_assert(sizeof(SnapshotHeader) == 32, "snapshot header layout is part of the file format");

inline constexpr uint32_t kRecordBytesMax = 64u << 20;
inline constexpr uint64_t kSegmentBytesMaxDefault = 256ull << 20;

struct JournalOptions {
  std::string dir;
  uint64_t segment_bytes_max = kSegmentBytesMaxDefault;
};

struct RecoveryStats {
  uint64_t snapshot_seq = 0;  // 0: no snapshot
  uint64_t records_replayed = 0;
  uint64_t last_seq = 0;
  uint64_t torn_tails = 0;  // 0 or 1
  uint64_t torn_bytes_truncated = 0;
  uint64_t segments = 0;
};

class Journal {
 public:
  using SnapshotFn = std::function<absl::Status(std::string_view state, uint64_t seq)>;
  using RecordFn = std::function<absl::Status(std::string_view payload, uint64_t seq)>;

  // Recovers the directory (see above), calling on_snapshot at most once and then on_record for
  // each record after the snapshot, in order. An error from a callback aborts Open with that error.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(Env* env, JournalOptions options,
                                                       const SnapshotFn& on_snapshot,
                                                       const RecordFn& on_record,
                                                       RecoveryStats* stats);
  ~Journal();

  // Appends record last_seq()+1 (written to the OS, not yet durable). Rolls to a new segment first
  // when the active one is over segment_bytes_max.
  absl::Status Append(std::string_view payload);
  // Makes every appended record durable (fdatasync).
  absl::Status Sync();
  // Writes a snapshot of the state after record `seq` (== last_seq(), and synced), then removes the
  // segments and snapshots it makes redundant. Bounded restart time depends on calling this.
  absl::Status WriteSnapshot(std::string_view state, uint64_t seq);

  uint64_t last_seq() const { return last_seq_; }
  uint64_t bytes_since_snapshot() const { return bytes_since_snapshot_; }
  const absl::Status& failure() const { return failure_; }

  static std::string SegmentName(uint64_t first_seq);
  static std::string SnapshotName(uint64_t seq);

 private:
  Journal(Env* env, JournalOptions options) : env_(env), options_(std::move(options)) {}
  absl::Status Recover(const SnapshotFn& on_snapshot, const RecordFn& on_record,
                       RecoveryStats* stats);
  absl::Status OpenSegment(uint64_t first_seq, bool existing);
  absl::Status Fail(absl::Status status);
  std::string Path(const std::string& name) const { return options_.dir + "/" + name; }

  Env* env_;
  JournalOptions options_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<WritableFile> segment_;
  uint64_t segment_first_seq_ = 0;
  uint64_t segment_bytes_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t bytes_since_snapshot_ = 0;
  std::string scratch_;
  absl::Status failure_;
};

}  // namespace inventory

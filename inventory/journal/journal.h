#pragma once
// Journal: an append-only write-ahead log of checksummed records in segment files, plus snapshots.
//
// Directory layout (all under JournalOptions::dir):
//   journal-<first seq, 20 digits>.log   segments; records with consecutive sequence numbers
//   segment-spare.tmp                    the next segment being preallocated (removed on recovery)
//   snapshot-<seq, 20 digits>.snap       the complete state after record <seq>
//   snapshot-pending-<n>.tmp             a snapshot being written (removed on recovery)
//   LOCK                                 held (flock) by the process that owns the directory
//
// Record layout: RecordHeader (16 bytes, little-endian) then `length` payload bytes. The CRC-32C
// covers the length, the sequence number and the payload, so a torn, zeroed or garbled record never
// passes. A valid record never starts with 16 zero bytes (its seq is >= 1).
//
// Segment format, version 2 (preallocated): a segment file is created at its full size
// (segment_bytes_max) filled with real zeros and fdatasync'ed BEFORE it gets its name (as
// segment-spare.tmp, prepared in the background, then renamed), and records are written over the
// zeros with pwrite. Overwriting already-allocated blocks makes the per-commit fdatasync a pure
// data flush (no file-size / extent metadata to commit): measured ~2x cheaper on the dev VM's disk.
// So a segment is: records, then an all-zero remainder up to the end of the file (the clean end).
// Version 1 segments (appended, no zero tail) read the same way: the remainder is simply empty. A
// segment that is not preallocated (startup before the spare is ready, or preallocation failing) is
// written appending, then the journal rolls to the spare as soon as it is ready.
//
// Recovery (Open): load the newest snapshot (its checksum must hold: DataLoss otherwise), then
// replay the records after it in order. In every segment, a record position where the rest of the
// file is all zeros is the clean end of the segment (not damage: no warning, nothing truncated).
// A record that fails its checksum or is cut short, followed by anything non-zero (a torn record
// then zeros, zeros then garbage, ...), is damage. In the LAST segment it is a torn tail from a
// crash: it and everything after it are discarded (logged, counted in RecoveryStats), never
// applied: the file is truncated at the last valid record when the damage reaches its end,
// otherwise (a preallocated segment) the damaged bytes are overwritten with zeros so the file keeps
// its size; either way the repair is synced. Damage anywhere else (an earlier segment, a sequence
// gap) is corruption the journal cannot explain by a crash (a segment is synced complete before its
// successor exists): Open fails with DataLoss rather than guess.
//
// Thread safety: after Open, one thread at a time (the writer's sync thread) calls the methods,
// except StartSnapshot (any thread).
// The journal owns one helper thread that preallocates the spare segment (when
// JournalOptions::prepare_in_background); it touches only segment-spare.tmp.
// A failed Append or Sync poisons the journal: every later call returns the same error, because
// what reached the disk is unknown (the process must restart and recover).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

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
// Every segment costs segment_bytes_max of zeros written in the background (~0.6 s of this VM's
// disk for 32 MiB) and is read whole on recovery; snapshots no longer roll segments, so 32 MiB
// holds two snapshot intervals of records.
inline constexpr uint64_t kSegmentBytesMaxDefault = 32ull << 20;
// The spare is written in chunks of kPrepareChunkBytes and synced every kPrepareSyncBytes, so the
// background preparation never leaves much dirty data for the active segment's fdatasync to wait on
// (ext4 data=ordered) and can be cancelled quickly.
inline constexpr size_t kPrepareChunkBytes = 1u << 20;
inline constexpr uint64_t kPrepareSyncBytes = 4ull << 20;

struct JournalOptions {
  std::string dir;
  uint64_t segment_bytes_max = kSegmentBytesMaxDefault;
  // Preallocate segments with zeros (format version 2 above). false: append-only segments.
  bool preallocate = true;
  // Prepare the spare on the journal's helper thread. false: synchronously in the calling thread
  // (deterministic: the simulator and unit tests).
  bool prepare_in_background = true;
};

struct RecoveryStats {
  uint64_t snapshot_seq = 0;  // 0: no snapshot
  uint64_t records_replayed = 0;
  uint64_t last_seq = 0;
  uint64_t torn_tails = 0;  // 0 or 1
  uint64_t torn_bytes_truncated = 0;
  uint64_t segments = 0;
  uint64_t zero_tail_bytes = 0;  // preallocated, unused remainder of the last segment (clean end)
};

// A snapshot being written in pieces (Journal::StartSnapshot), so that the thread owning the state
// can stream it to its file without holding a copy of the whole state in memory (at millions of
// reservations a one-string snapshot cost hundreds of MiB, faulted in anew for every snapshot).
// Committed by Journal::CommitSnapshot; destroyed uncommitted, it closes and removes its file.
// Thread safety: one thread at a time; it may be handed to another thread between calls.
class PendingSnapshot {
 public:
  ~PendingSnapshot();
  PendingSnapshot(const PendingSnapshot&) = delete;
  PendingSnapshot& operator=(const PendingSnapshot&) = delete;

  // Appends the next bytes of the state (written to the OS, not yet durable).
  absl::Status Append(std::string_view state_bytes);
  uint64_t bytes() const { return length_; }

 private:
  friend class Journal;
  PendingSnapshot(Env* env, std::string path, std::unique_ptr<WritableFile> file)
      : env_(env), path_(std::move(path)), file_(std::move(file)) {}

  Env* env_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;  // positioned after the header's room
  uint64_t length_ = 0;
  uint32_t crc32c_ = 0;
  bool committed_ = false;
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
  // when the record does not fit in the active one (or, to the preallocated spare, as soon as it is
  // ready when the active segment was not preallocated).
  absl::Status Append(std::string_view payload);
  // Makes every appended record durable (fdatasync).
  absl::Status Sync();
  // For syncs that overlap the journal's own thread (the writer's pipelined commits): the active
  // segment, whose Sync() (fdatasync) from any thread makes every record appended before the call
  // durable, while this journal goes on appending. A segment the journal has rolled away from was
  // synced complete first; a caller's reference keeps its descriptor open until released.
  std::shared_ptr<WritableFile> active_segment() const { return segment_; }
  // Records a failed sync of active_segment(): poisons the journal like a failed Sync() (journal
  // thread only). Returns the journal's failure.
  absl::Status Poison(absl::Status status) { return Fail(std::move(status)); }
  // Writes a snapshot of the state after record `seq` (== last_seq(), and synced), then removes the
  // segments and snapshots it makes redundant (every segment before the active one; recovery skips
  // the active segment's records up to the snapshot). Bounded restart time depends on calling this.
  absl::Status WriteSnapshot(std::string_view state, uint64_t seq);
  // WriteSnapshot in two steps. StartSnapshot creates the file (with room for its header); it may
  // be called from any thread, concurrently with the other methods (it touches only the new file).
  // CommitSnapshot completes it as the state after record `seq` (== last_seq(), and synced):
  // header, fdatasync, rename into place, then removes what it makes redundant, like WriteSnapshot.
  absl::StatusOr<std::unique_ptr<PendingSnapshot>> StartSnapshot();
  absl::Status CommitSnapshot(std::unique_ptr<PendingSnapshot> snapshot, uint64_t seq);

  uint64_t last_seq() const { return last_seq_; }
  uint64_t bytes_since_snapshot() const { return bytes_since_snapshot_; }
  const absl::Status& failure() const { return failure_; }
  // The next segment is preallocated and waiting (tests; same thread as the other methods).
  bool spare_ready() const { return SpareReady(); }

  static std::string SegmentName(uint64_t first_seq);
  static std::string SnapshotName(uint64_t seq);

 private:
  Journal(Env* env, JournalOptions options) : env_(env), options_(std::move(options)) {}
  absl::Status Recover(const SnapshotFn& on_snapshot, const RecordFn& on_record,
                       RecoveryStats* stats);
  // Starts a new active segment at last_seq_+1 after syncing and closing the current one: the
  // preallocated spare when it is ready, otherwise an empty file written appending.
  absl::Status RollSegment();
  // Discards the damaged bytes [offset, damage_end) of the last segment (see above) durably.
  absl::Status RepairTail(const std::string& path, uint64_t offset, uint64_t damage_end,
                          uint64_t file_bytes);
  void StartPrepare();
  bool SpareReady() const;
  absl::Status TakeSpare();
  absl::Status PrepareSpare();
  absl::Status Fail(absl::Status status);
  std::string Path(const std::string& name) const { return options_.dir + "/" + name; }

  Env* env_;
  JournalOptions options_;
  std::unique_ptr<DirLock> lock_;
  std::shared_ptr<WritableFile> segment_;  // shared with syncs in flight (active_segment)
  uint64_t segment_first_seq_ = 0;
  uint64_t segment_bytes_ = 0;  // records written in the active segment (its write offset)
  bool segment_preallocated_ = false;

  // Spare preparation. prep_status_ is written by the helper before it sets prep_done_ (release).
  std::thread prep_thread_;
  bool prep_started_ = false;  // caller thread only
  std::atomic<bool> prep_done_{false};
  std::atomic<bool> prep_cancel_{false};
  absl::Status prep_status_;

  std::atomic<uint64_t> snapshots_started_{0};  // names pending snapshot files
  uint64_t last_seq_ = 0;
  uint64_t bytes_since_snapshot_ = 0;
  std::string scratch_;
  absl::Status failure_;
};

}  // namespace inventory

#include "inventory/journal/journal.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "core/status/status_macros.h"
#include "inventory/journal/crc32c.h"

namespace inventory {
namespace {

constexpr uint64_t kSnapshotMagic = 0x31504e534a564e49ULL;  // "INVJSNP1"
constexpr std::string_view kSegmentPrefix = "journal-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr std::string_view kSnapshotPrefix = "snapshot-";
constexpr std::string_view kSnapshotSuffix = ".snap";
constexpr char kSpareName[] = "segment-spare.tmp";

const std::string& Zeros() {
  static const std::string* zeros = new std::string(kPrepareChunkBytes, '\0');
  return *zeros;
}

// One past the last non-zero byte of data[from, end): `from` when that range is all zeros (the
// clean, preallocated end of a segment).
size_t EndOfNonZero(std::string_view data, size_t from) {
  size_t end = data.size();
  while (end > from && (end & 7) != 0 && data[end - 1] == 0) --end;
  while (end >= from + 8) {
    uint64_t word;
    std::memcpy(&word, data.data() + end - 8, 8);
    if (word != 0) break;
    end -= 8;
  }
  while (end > from && data[end - 1] == 0) --end;
  return end;
}

uint32_t RecordCrc(uint32_t length, uint64_t seq, std::string_view payload) {
  char head[12];
  std::memcpy(head, &length, 4);
  std::memcpy(head + 4, &seq, 8);
  return crc32c::Extend(crc32c::Value(head, sizeof(head)), payload.data(), payload.size());
}

// Parses "<prefix><20 digits><suffix>"; false for other names.
bool ParseName(std::string_view name, std::string_view prefix, std::string_view suffix,
               uint64_t* seq) {
  if (name.size() != prefix.size() + 20 + suffix.size() ||
      name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return false;
  }
  uint64_t v = 0;
  for (char c : name.substr(prefix.size(), 20)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *seq = v;
  return true;
}

uint32_t SnapshotHeaderCrc(const SnapshotHeader& h) {
  return crc32c::Value(&h, offsetof(SnapshotHeader, header_crc32c));
}

}  // namespace

std::string Journal::SegmentName(uint64_t first_seq) {
  return fmt::format("{}{:020d}{}", kSegmentPrefix, first_seq, kSegmentSuffix);
}
std::string Journal::SnapshotName(uint64_t seq) {
  return fmt::format("{}{:020d}{}", kSnapshotPrefix, seq, kSnapshotSuffix);
}

Journal::~Journal() {
  prep_cancel_.store(true, std::memory_order_relaxed);
  if (prep_thread_.joinable()) prep_thread_.join();
  if (segment_) segment_->Close().IgnoreError();
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(Env* env, JournalOptions options,
                                                       const SnapshotFn& on_snapshot,
                                                       const RecordFn& on_record,
                                                       RecoveryStats* stats) {
  if (options.dir.empty()) return absl::InvalidArgumentError("journal: empty directory");
  if (options.segment_bytes_max < 4096) {
    return absl::InvalidArgumentError("journal: segment_bytes_max below 4096");
  }
  auto journal = std::unique_ptr<Journal>(new Journal(env, std::move(options)));
  RETURN_IF_ERROR(env->CreateDirs(journal->options_.dir));
  ASSIGN_OR_RETURN(journal->lock_, env->Lock(journal->Path("LOCK")));
  RecoveryStats local;
  RETURN_IF_ERROR(journal->Recover(on_snapshot, on_record, stats ? stats : &local));
  return journal;
}

absl::Status Journal::Recover(const SnapshotFn& on_snapshot, const RecordFn& on_record,
                              RecoveryStats* stats) {
  *stats = RecoveryStats{};
  ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(options_.dir));
  std::vector<uint64_t> segments, snapshots;
  for (const std::string& name : names) {
    uint64_t seq = 0;
    if (ParseName(name, kSegmentPrefix, kSegmentSuffix, &seq)) {
      segments.push_back(seq);
    } else if (ParseName(name, kSnapshotPrefix, kSnapshotSuffix, &seq)) {
      snapshots.push_back(seq);
    } else if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      RETURN_IF_ERROR(env_->Remove(Path(name)));  // an interrupted snapshot write
    }
  }
  std::sort(segments.begin(), segments.end());
  std::sort(snapshots.begin(), snapshots.end());

  uint64_t snapshot_seq = 0;
  if (!snapshots.empty()) {
    snapshot_seq = snapshots.back();
    const std::string path = Path(SnapshotName(snapshot_seq));
    ASSIGN_OR_RETURN(std::string data, env_->ReadFile(path));
    SnapshotHeader h;
    if (data.size() < sizeof(h)) return absl::DataLossError(fmt::format("{}: truncated", path));
    std::memcpy(&h, data.data(), sizeof(h));
    const std::string_view state = std::string_view(data).substr(sizeof(h));
    if (h.magic != kSnapshotMagic || h.header_crc32c != SnapshotHeaderCrc(h) ||
        h.seq != snapshot_seq || h.length != state.size() || h.crc32c != crc32c::Value(state)) {
      return absl::DataLossError(fmt::format("{}: checksum mismatch (snapshot corrupt)", path));
    }
    RETURN_IF_ERROR(on_snapshot(state, snapshot_seq));
    stats->snapshot_seq = snapshot_seq;
  }

  uint64_t last_seq = snapshot_seq;
  uint64_t last_file_bytes = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const bool last_segment = i + 1 == segments.size();
    // A segment whose successor starts at or before snapshot_seq + 1 is covered by the snapshot.
    if (!last_segment && segments[i + 1] <= snapshot_seq + 1) continue;
    const std::string path = Path(SegmentName(segments[i]));
    ASSIGN_OR_RETURN(std::string data, env_->ReadFile(path));
    ++stats->segments;
    size_t offset = 0;
    std::string problem;
    while (offset < data.size()) {
      RecordHeader h;
      if (data.size() - offset < sizeof(h)) {
        problem = "short header";
        break;
      }
      std::memcpy(&h, data.data() + offset, sizeof(h));
      if (h.length > kRecordBytesMax || data.size() - offset - sizeof(h) < h.length) {
        problem = "short record";
        break;
      }
      const std::string_view payload(data.data() + offset + sizeof(h), h.length);
      if (RecordCrc(h.length, h.seq, payload) != h.crc32c) {
        problem = "checksum mismatch";
        break;
      }
      if (h.seq <= snapshot_seq) {
        // Covered by the snapshot.
      } else if (h.seq != last_seq + 1) {
        return absl::DataLossError(fmt::format("{} offset {}: record {} follows record {}", path,
                                               offset, h.seq, last_seq));
      } else {
        RETURN_IF_ERROR(on_record(payload, h.seq));
        last_seq = h.seq;
        ++stats->records_replayed;
      }
      offset += sizeof(h) + h.length;
    }
    const size_t damage_end = problem.empty() ? offset : EndOfNonZero(data, offset);
    if (damage_end > offset) {
      if (!last_segment) {
        return absl::DataLossError(fmt::format(
            "{} offset {}: {} in a segment that is not the last (corruption, not a torn write)",
            path, offset, problem));
      }
      spdlog::warn("journal: torn tail in {} at offset {} ({}): discarding {} bytes", path, offset,
                   problem, damage_end - offset);
      stats->torn_tails = 1;
      stats->torn_bytes_truncated = damage_end - offset;
      RETURN_IF_ERROR(RepairTail(path, offset, damage_end, data.size()));
      if (data.size() < options_.segment_bytes_max) data.resize(offset);
    }
    if (last_segment) {
      segment_bytes_ = offset;
      segment_first_seq_ = segments[i];
      last_file_bytes = data.size();
      stats->zero_tail_bytes = data.size() - offset;
    }
  }
  if (last_seq < snapshot_seq) last_seq = snapshot_seq;
  last_seq_ = last_seq;
  stats->last_seq = last_seq;
  if (!segments.empty() && segment_first_seq_ <= last_seq_ + 1 &&
      segment_bytes_ < options_.segment_bytes_max) {
    ASSIGN_OR_RETURN(segment_,
                     env_->OpenForWriteAt(Path(SegmentName(segment_first_seq_)), segment_bytes_));
    segment_preallocated_ = last_file_bytes >= options_.segment_bytes_max;
    if (options_.preallocate) StartPrepare();
  } else {
    if (options_.preallocate) StartPrepare();
    RETURN_IF_ERROR(RollSegment());
  }
  return absl::OkStatus();
}

absl::Status Journal::RepairTail(const std::string& path, uint64_t offset, uint64_t damage_end,
                                 uint64_t file_bytes) {
  if (file_bytes < options_.segment_bytes_max) {
    RETURN_IF_ERROR(env_->Truncate(path, offset));
    ASSIGN_OR_RETURN(auto file, env_->OpenForWriteAt(path, offset));
    RETURN_IF_ERROR(file->Sync());
    return file->Close();
  }
  // A preallocated segment: zero the damage (even when it reaches the end of the file), keeping the
  // file's size and so its cheap fdatasync.
  ASSIGN_OR_RETURN(auto file, env_->OpenForWriteAt(path, offset));
  for (uint64_t left = damage_end - offset; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, Zeros().size()));
    RETURN_IF_ERROR(file->Append(std::string_view(Zeros()).substr(0, n)));
    left -= n;
  }
  RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

void Journal::StartPrepare() {
  if (prep_started_) return;
  prep_started_ = true;
  prep_done_.store(false, std::memory_order_relaxed);
  if (options_.prepare_in_background) {
    prep_thread_ = std::thread([this] {
      prep_status_ = PrepareSpare();
      prep_done_.store(true, std::memory_order_release);
    });
  } else {
    prep_status_ = PrepareSpare();
    prep_done_.store(true, std::memory_order_release);
  }
}

bool Journal::SpareReady() const {
  return prep_started_ && prep_done_.load(std::memory_order_acquire);
}

absl::Status Journal::TakeSpare() {
  if (!prep_started_) return absl::FailedPreconditionError("journal: no spare segment prepared");
  if (prep_thread_.joinable()) prep_thread_.join();
  prep_started_ = false;
  return std::move(prep_status_);
}

absl::Status Journal::PrepareSpare() {
  const std::string path = Path(kSpareName);
  ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(path));
  uint64_t unsynced = 0;
  for (uint64_t left = options_.segment_bytes_max; left > 0;) {
    if (prep_cancel_.load(std::memory_order_relaxed)) {
      return absl::CancelledError("journal closed");
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, Zeros().size()));
    RETURN_IF_ERROR(file->Append(std::string_view(Zeros()).substr(0, n)));
    left -= n;
    unsynced += n;
    if (unsynced >= kPrepareSyncBytes) {
      RETURN_IF_ERROR(file->Sync());
      unsynced = 0;
    }
  }
  // Durable size and zeros before the spare gets a segment name.
  RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

absl::Status Journal::RollSegment() {
  // The old segment must be complete and durable before a new one exists, so a torn tail can only
  // ever be in the last segment.
  if (segment_) {
    RETURN_IF_ERROR(segment_->Sync());
    // A sync of it may still be in flight on another thread (active_segment): then the last
    // reference closes it.
    if (segment_.use_count() == 1) RETURN_IF_ERROR(segment_->Close());
    segment_.reset();
  }
  const uint64_t first_seq = last_seq_ + 1;
  const std::string path = Path(SegmentName(first_seq));
  bool preallocated = false;
  if (SpareReady()) {
    if (absl::Status s = TakeSpare(); s.ok()) {
      // Replaces an empty, not preallocated segment of the same name (nothing was written to it).
      RETURN_IF_ERROR(env_->Rename(Path(kSpareName), path));
      ASSIGN_OR_RETURN(segment_, env_->OpenForWriteAt(path, 0));
      preallocated = true;
    } else {
      spdlog::warn("journal: preallocating the next segment failed ({}); writing it appending",
                   s.ToString());
    }
  }
  if (!preallocated) {
    ASSIGN_OR_RETURN(segment_, env_->NewWritableFile(path));
  }
  RETURN_IF_ERROR(env_->SyncDir(options_.dir));
  segment_first_seq_ = first_seq;
  segment_bytes_ = 0;
  segment_preallocated_ = preallocated;
  if (options_.preallocate) StartPrepare();
  return absl::OkStatus();
}

absl::Status Journal::Fail(absl::Status status) {
  if (failure_.ok()) {
    failure_ = std::move(status);
    spdlog::error("journal: {} (journal stopped: restart to recover)", failure_.ToString());
  }
  return failure_;
}

absl::Status Journal::Append(std::string_view payload) {
  if (!failure_.ok()) return failure_;
  if (payload.size() > kRecordBytesMax) {
    return absl::InvalidArgumentError(fmt::format("journal record of {} bytes", payload.size()));
  }
  const uint64_t record_bytes = sizeof(RecordHeader) + payload.size();
  if ((segment_bytes_ > 0 && segment_bytes_ + record_bytes > options_.segment_bytes_max) ||
      (!segment_preallocated_ && SpareReady())) {
    if (auto s = RollSegment(); !s.ok()) return Fail(s);
  }
  RecordHeader h;
  h.length = static_cast<uint32_t>(payload.size());
  h.seq = last_seq_ + 1;
  h.crc32c = RecordCrc(h.length, h.seq, payload);
  scratch_.clear();
  scratch_.append(reinterpret_cast<const char*>(&h), sizeof(h));
  scratch_.append(payload.data(), payload.size());
  if (auto s = segment_->Append(scratch_); !s.ok()) return Fail(s);
  last_seq_ = h.seq;
  segment_bytes_ += scratch_.size();
  bytes_since_snapshot_ += scratch_.size();
  return absl::OkStatus();
}

absl::Status Journal::Sync() {
  if (!failure_.ok()) return failure_;
  if (auto s = segment_->Sync(); !s.ok()) return Fail(s);
  return absl::OkStatus();
}

PendingSnapshot::~PendingSnapshot() {
  if (committed_) return;
  if (file_) file_->Close().IgnoreError();
  env_->Remove(path_).IgnoreError();
}

absl::Status PendingSnapshot::Append(std::string_view state_bytes) {
  if (!file_) return absl::FailedPreconditionError("snapshot: file already closed");
  RETURN_IF_ERROR(file_->Append(state_bytes));
  crc32c_ = crc32c::Extend(crc32c_, state_bytes.data(), state_bytes.size());
  length_ += state_bytes.size();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PendingSnapshot>> Journal::StartSnapshot() {
  const uint64_t n = snapshots_started_.fetch_add(1, std::memory_order_relaxed);
  std::string path = Path(fmt::format("{}pending-{}.tmp", kSnapshotPrefix, n));
  ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(path));
  auto snapshot =
      std::unique_ptr<PendingSnapshot>(new PendingSnapshot(env_, std::move(path), std::move(file)));
  // Room for the header, which needs the length, checksum and seq known only at commit.
  const SnapshotHeader zeros{};
  RETURN_IF_ERROR(snapshot->file_->Append(
      std::string_view(reinterpret_cast<const char*>(&zeros), sizeof(zeros))));
  return snapshot;
}

absl::Status Journal::WriteSnapshot(std::string_view state, uint64_t seq) {
  if (!failure_.ok()) return failure_;
  if (seq != last_seq_) {
    return absl::FailedPreconditionError(
        fmt::format("snapshot at {} but the journal is at {}", seq, last_seq_));
  }
  ASSIGN_OR_RETURN(auto snapshot, StartSnapshot());
  RETURN_IF_ERROR(snapshot->Append(state));
  return CommitSnapshot(std::move(snapshot), seq);
}

absl::Status Journal::CommitSnapshot(std::unique_ptr<PendingSnapshot> snapshot, uint64_t seq) {
  if (!failure_.ok()) return failure_;
  if (seq != last_seq_) {
    return absl::FailedPreconditionError(
        fmt::format("snapshot at {} but the journal is at {}", seq, last_seq_));
  }
  if (!snapshot->file_) return absl::FailedPreconditionError("snapshot: file already closed");
  SnapshotHeader h{};
  h.magic = kSnapshotMagic;
  h.seq = seq;
  h.length = snapshot->length_;
  h.crc32c = snapshot->crc32c_;
  h.header_crc32c = SnapshotHeaderCrc(h);
  // The state first, then the header over the room left for it; only a complete, durable file
  // gets the snapshot name (a crash before leaves a .tmp file, removed by recovery).
  RETURN_IF_ERROR(snapshot->file_->Sync());
  RETURN_IF_ERROR(snapshot->file_->Close());
  snapshot->file_.reset();
  {
    ASSIGN_OR_RETURN(auto head, env_->OpenForWriteAt(snapshot->path_, 0));
    RETURN_IF_ERROR(head->Append(std::string_view(reinterpret_cast<const char*>(&h), sizeof(h))));
    RETURN_IF_ERROR(head->Sync());
    RETURN_IF_ERROR(head->Close());
  }
  RETURN_IF_ERROR(env_->Rename(snapshot->path_, Path(SnapshotName(seq))));
  snapshot->committed_ = true;
  RETURN_IF_ERROR(env_->SyncDir(options_.dir));
  // Every segment before the active one holds only records up to `seq`: drop them. The active one
  // keeps its records before the snapshot (recovery skips them), so snapshots cost no new segment.
  ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(options_.dir));
  for (const std::string& name : names) {
    uint64_t n = 0;
    if ((ParseName(name, kSegmentPrefix, kSegmentSuffix, &n) && n < segment_first_seq_) ||
        (ParseName(name, kSnapshotPrefix, kSnapshotSuffix, &n) && n < seq)) {
      RETURN_IF_ERROR(env_->Remove(Path(name)));
    }
  }
  RETURN_IF_ERROR(env_->SyncDir(options_.dir));
  bytes_since_snapshot_ = 0;
  return absl::OkStatus();
}

}  // namespace inventory

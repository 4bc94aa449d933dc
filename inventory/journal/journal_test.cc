#include "inventory/journal/journal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "inventory/journal/crc32c.h"
#include "inventory/journal/fault_env.h"

namespace inventory {
namespace {

constexpr char kDir[] = "/data";

TEST(Crc32cTest, KnownVectorsAndPathsAgree) {
  EXPECT_EQ(crc32c::Value(std::string_view("123456789")), 0xe3069283u);
  EXPECT_EQ(crc32c::Value(std::string_view("")), 0u);
  std::string data(1000, '\0');
  std::mt19937_64 rng(7);
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t n : {0, 1, 7, 8, 9, 63, 1000}) {
    EXPECT_EQ(crc32c::Extend(0, data.data(), n), crc32c::ExtendPortable(0, data.data(), n));
    // Extending in two pieces equals one pass.
    EXPECT_EQ(crc32c::Extend(crc32c::Value(data.data(), n / 2), data.data() + n / 2, n - n / 2),
              crc32c::Value(data.data(), n));
  }
}

struct Recovered {
  std::string snapshot;
  uint64_t snapshot_seq = 0;
  std::vector<std::string> records;
  RecoveryStats stats;
};

absl::StatusOr<std::unique_ptr<Journal>> OpenJournal(Env* env, Recovered* out,
                                                     uint64_t segment_bytes_max = 1 << 20,
                                                     bool preallocate = true,
                                                     bool background = false) {
  *out = Recovered{};
  return Journal::Open(
      env,
      JournalOptions{.dir = kDir,
                     .segment_bytes_max = segment_bytes_max,
                     .preallocate = preallocate,
                     .prepare_in_background = background},
      [&](std::string_view state, uint64_t seq) {
        out->snapshot = std::string(state);
        out->snapshot_seq = seq;
        return absl::OkStatus();
      },
      [&](std::string_view payload, uint64_t seq) {
        EXPECT_EQ(seq, out->snapshot_seq + out->records.size() + 1);
        out->records.emplace_back(payload);
        return absl::OkStatus();
      },
      &out->stats);
}

TEST(JournalTest, AppendSyncReopen) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ((*j)->last_seq(), 0u);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*j)->Append("record-" + std::to_string(i)).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  auto j = OpenJournal(&env, &rec);
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_EQ(rec.records.size(), 100u);
  EXPECT_EQ(rec.records[42], "record-42");
  EXPECT_EQ((*j)->last_seq(), 100u);
  EXPECT_EQ(rec.stats.torn_tails, 0u);
  ASSERT_TRUE((*j)->Append("more").ok());
  EXPECT_EQ((*j)->last_seq(), 101u);
}

TEST(JournalTest, TornTailIsTruncatedNeverApplied) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    FaultEnv env;
    Recovered rec;
    std::mt19937_64 rng(seed);
    const bool preallocate = seed % 3 != 0;
    {
      // Small segments: crashes around rolls too.
      auto j = OpenJournal(&env, &rec, 4096, preallocate);
      ASSERT_TRUE(j.ok());
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE((*j)->Append(std::string(1 + rng() % 100, 'a' + i % 26)).ok());
        if (i < 150) {
          ASSERT_TRUE((*j)->Sync().ok());
        }
      }
    }
    env.Crash(&rng, /*garbage=*/seed % 2 == 0);
    auto j = OpenJournal(&env, &rec, 4096, preallocate);
    ASSERT_TRUE(j.ok()) << "seed " << seed << ": " << j.status();
    ASSERT_GE(rec.records.size(), 150u) << "seed " << seed;  // every synced record survives
    for (size_t i = 0; i < rec.records.size(); ++i) {
      ASSERT_EQ(rec.records[i], std::string(rec.records[i].size(), 'a' + i % 26));
    }
    // Appending after recovery continues the sequence and survives another reopen.
    const uint64_t before = (*j)->last_seq();
    ASSERT_TRUE((*j)->Append("after").ok());
    ASSERT_TRUE((*j)->Sync().ok());
    j->reset();
    auto again = OpenJournal(&env, &rec, 4096, preallocate);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(rec.records.size(), before + 1);
    EXPECT_EQ(rec.records.back(), "after");
    EXPECT_EQ(rec.stats.torn_tails, 0u);
  }
}

TEST(JournalTest, CorruptionInOlderSegmentIsDataLoss) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec, 4096);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*j)->Append(std::string(100, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  ASSERT_TRUE(env.CorruptByte(std::string(kDir) + "/" + Journal::SegmentName(1), 200));
  auto j = OpenJournal(&env, &rec, 4096);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kDataLoss);
}

TEST(JournalTest, CorruptLastRecordIsTruncatedAppendOnlySegment) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec, 1 << 20, /*preallocate=*/false);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*j)->Append(std::string(10, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  const std::string seg = std::string(kDir) + "/" + Journal::SegmentName(1);
  ASSERT_EQ(env.FileSize(seg), 10u * 26);
  ASSERT_TRUE(env.CorruptByte(seg, env.FileSize(seg) - 1));
  auto j = OpenJournal(&env, &rec, 1 << 20, /*preallocate=*/false);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(rec.records.size(), 9u);
  EXPECT_EQ(rec.stats.torn_tails, 1u);
  EXPECT_EQ(rec.stats.torn_bytes_truncated, 26u);
  EXPECT_EQ(env.FileSize(seg), 9u * 26);
}

// Preallocated segments (format version 2): the zero remainder is the clean end; damage before it
// is discarded by zeroing, so the file keeps its preallocated size.
constexpr uint64_t kSeg = 1 << 20;
std::string SegPath(uint64_t first_seq) {
  return std::string(kDir) + "/" + Journal::SegmentName(first_seq);
}
std::string Spare() { return std::string(kDir) + "/segment-spare.tmp"; }

TEST(JournalTest, PreallocatedSegmentZeroTailIsCleanEnd) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*j)->Append(std::string(10, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  EXPECT_EQ(env.FileSize(SegPath(1)), kSeg);  // written over zeros, never grown
  EXPECT_EQ(env.FileSize(Spare()), kSeg);     // the next segment, ready
  for (int round = 0; round < 2; ++round) {
    auto j = OpenJournal(&env, &rec);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ(rec.records.size(), 10u + round);
    EXPECT_EQ(rec.stats.torn_tails, 0u);
    EXPECT_EQ(rec.stats.torn_bytes_truncated, 0u);
    EXPECT_EQ(rec.stats.zero_tail_bytes, kSeg - 26 * (10 + round));
    EXPECT_EQ(env.FileSize(SegPath(1)), kSeg);
    ASSERT_TRUE((*j)->Append(std::string(10, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
}

TEST(JournalTest, RolledSegmentZeroTailIsNotCorruption) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec, 4096);
    ASSERT_TRUE(j.ok());
    // 116-byte records: 35 fit in 4096 bytes, leaving a 36-byte zero tail in every rolled segment.
    for (int i = 0; i < 200; ++i) ASSERT_TRUE((*j)->Append(std::string(100, 'a' + i % 26)).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  EXPECT_EQ(env.FileSize(SegPath(1)), 4096u);
  EXPECT_EQ(env.FileSize(SegPath(36)), 4096u);
  auto j = OpenJournal(&env, &rec, 4096);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(rec.records.size(), 200u);
  EXPECT_EQ(rec.stats.torn_tails, 0u);
  EXPECT_EQ(rec.stats.segments, 6u);
}

// Crash images of the last, preallocated segment: 10 valid records (260 bytes), then ...
class PreallocatedTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Recovered rec;
    auto j = OpenJournal(&env_, &rec);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*j)->Append(std::string(10, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  // A valid 11th record's bytes, to write torn versions of.
  static std::string Record11() { return Record(11); }
  static std::string Record(uint64_t seq) {
    std::string payload(10, 'y');
    RecordHeader h;
    h.length = 10;
    h.seq = seq;
    char head[12];
    std::memcpy(head, &h.length, 4);
    std::memcpy(head + 4, &h.seq, 8);
    h.crc32c = crc32c::Extend(crc32c::Value(head, sizeof(head)), payload.data(), payload.size());
    return std::string(reinterpret_cast<const char*>(&h), sizeof(h)) + payload;
  }
  // Reopens; expects the 10 records, the given damage report, the file still preallocated and
  // zero after the records, and a clean second reopen.
  void ExpectRecovered(uint64_t torn_bytes) {
    Recovered rec;
    {
      auto j = OpenJournal(&env_, &rec);
      ASSERT_TRUE(j.ok()) << j.status();
      EXPECT_EQ(rec.records.size(), 10u);
      EXPECT_EQ(rec.stats.torn_tails, torn_bytes > 0 ? 1u : 0u);
      EXPECT_EQ(rec.stats.torn_bytes_truncated, torn_bytes);
    }
    EXPECT_EQ(env_.FileSize(SegPath(1)), kSeg);
    auto data = env_.ReadFile(SegPath(1));
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->find_first_not_of('\0', 260), std::string::npos);
    auto j = OpenJournal(&env_, &rec);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ(rec.records.size(), 10u);
    EXPECT_EQ(rec.stats.torn_tails, 0u);
    // Appending continues right after the last valid record.
    ASSERT_TRUE((*j)->Append("after").ok());
    ASSERT_TRUE((*j)->Sync().ok());
    j->reset();
    j = OpenJournal(&env_, &rec);
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_EQ(rec.records.size(), 11u);
    EXPECT_EQ(rec.records.back(), "after");
  }
  FaultEnv env_;
};

TEST_F(PreallocatedTailTest, TornRecordFollowedByZeros) {
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 260, Record11().substr(0, 20)));
  ExpectRecovered(20);
}

TEST_F(PreallocatedTailTest, TornHeaderOnly) {
  // crc, then length 10 as 0a 00 00: the damage ends at the last non-zero byte.
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 260, Record11().substr(0, 7)));
  ExpectRecovered(5);
}

TEST_F(PreallocatedTailTest, ZeroedHeaderFollowedByPayload) {
  // The header's sector never landed, the payload's did.
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 260 + 16, Record11().substr(16)));
  ExpectRecovered(26);
}

TEST_F(PreallocatedTailTest, ZerosFollowedByGarbage) {
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 5000, "\x17garbage"));
  ExpectRecovered(5000 + 8 - 260);
}

TEST_F(PreallocatedTailTest, GarbageInTheLastByteOfTheFile) {
  ASSERT_TRUE(env_.CorruptByte(SegPath(1), kSeg - 1));
  ExpectRecovered(kSeg - 260);
}

TEST_F(PreallocatedTailTest, CompleteRecordWithBadChecksum) {
  std::string r = Record11();
  r[20] ^= 1;
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 260, r));
  ExpectRecovered(26);
}

TEST_F(PreallocatedTailTest, ValidRecordAfterZerosIsNotApplied) {
  // Record 11 landed one sector late (record 11 at 260 never did): never replayed out of place.
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 512, Record11()));
  ExpectRecovered(512 + 26 - 260);
}

TEST_F(PreallocatedTailTest, LaterRecordDurableEarlierNot) {
  // The writer's overlapped fdatasyncs (WriterOptions::syncs_in_flight): record 12's sync returned
  // before record 11's data reached the disk, then the power failed. Neither was acknowledged
  // (replies go out in order, after every earlier sync): both are discarded, never 12 without 11.
  ASSERT_TRUE(env_.WriteDurable(SegPath(1), 260 + 26, Record(12)));
  ExpectRecovered(26 + 26);
}

TEST_F(PreallocatedTailTest, CleanZeroTail) { ExpectRecovered(0); }

TEST(JournalTest, GarbageAfterZerosInOlderSegmentIsDataLoss) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec, 4096);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*j)->Append(std::string(100, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  ASSERT_TRUE(env.CorruptByte(SegPath(1), 4090));  // in segment 1's zero tail
  auto j = OpenJournal(&env, &rec, 4096);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kDataLoss);
}

TEST(JournalTest, AppendOnlyAndPreallocatedSegmentsMix) {
  FaultEnv env;
  Recovered rec;
  int appended = 0;
  for (int round = 0; round < 6; ++round) {
    const bool preallocate = round % 2 == 1;
    auto j = OpenJournal(&env, &rec, 4096, preallocate);
    ASSERT_TRUE(j.ok()) << "round " << round << ": " << j.status();
    ASSERT_EQ(rec.records.size(), static_cast<size_t>(appended)) << "round " << round;
    EXPECT_EQ(rec.stats.torn_tails, 0u);
    for (int i = 0; i < 50; ++i, ++appended) {
      ASSERT_TRUE((*j)->Append(std::string(1 + appended % 90, 'a' + appended % 26)).ok());
    }
    ASSERT_TRUE((*j)->Sync().ok());
  }
  auto j = OpenJournal(&env, &rec, 4096);
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_EQ(rec.records.size(), static_cast<size_t>(appended));
  for (size_t i = 0; i < rec.records.size(); ++i) {
    ASSERT_EQ(rec.records[i], std::string(1 + i % 90, 'a' + i % 26));
  }
}

TEST(JournalTest, BackgroundPreparationRollsIntoPreallocatedSegments) {
  FaultEnv env;
  Recovered rec;
  constexpr uint64_t kSegBytes = 64 << 10;
  int appended = 0;
  {
    auto j = OpenJournal(&env, &rec, kSegBytes, true, /*background=*/true);
    ASSERT_TRUE(j.ok());
    for (int segment = 0; segment < 5; ++segment) {
      // Await the helper thread (a condition, not a guess), then fill a segment: the first Append
      // rolls into the spare (the first segment was not preallocated), later ones roll by size.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!(*j)->spare_ready() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_TRUE((*j)->spare_ready());
      for (int i = 0; i < 500; ++i, ++appended) {
        ASSERT_TRUE((*j)->Append(std::string(100, 'a' + appended % 26)).ok());
      }
      ASSERT_TRUE((*j)->Sync().ok());
    }
  }
  auto names = env.ListDir(kDir);
  ASSERT_TRUE(names.ok());
  int preallocated = 0;
  for (const auto& n : *names) {
    if (n.rfind("journal-", 0) == 0) preallocated += env.FileSize(kDir + ("/" + n)) == kSegBytes;
  }
  EXPECT_GE(preallocated, 5);
  auto j = OpenJournal(&env, &rec, kSegBytes, true, /*background=*/true);
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_EQ(rec.records.size(), static_cast<size_t>(appended));
  EXPECT_EQ(rec.stats.torn_tails, 0u);
}

TEST(JournalTest, SnapshotBoundsReplayAndRemovesOldSegments) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec, 4096);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE((*j)->Append(std::string(100, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
    ASSERT_TRUE((*j)->WriteSnapshot("STATE@100", 100).ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*j)->Append("tail").ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  auto names = env.ListDir(kDir);
  ASSERT_TRUE(names.ok());
  int segments = 0;
  for (const auto& n : *names) segments += n.rfind("journal-", 0) == 0;
  EXPECT_EQ(segments, 1);
  auto j = OpenJournal(&env, &rec, 4096);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(rec.snapshot, "STATE@100");
  EXPECT_EQ(rec.snapshot_seq, 100u);
  EXPECT_EQ(rec.records.size(), 5u);
  EXPECT_EQ((*j)->last_seq(), 105u);
}

TEST(JournalTest, CorruptSnapshotIsDataLoss) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append("a").ok());
    ASSERT_TRUE((*j)->Sync().ok());
    ASSERT_TRUE((*j)->WriteSnapshot("STATE", 1).ok());
  }
  ASSERT_TRUE(env.CorruptByte(std::string(kDir) + "/" + Journal::SnapshotName(1), 33));
  auto j = OpenJournal(&env, &rec);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kDataLoss);
}

std::vector<std::string> TmpFiles(FaultEnv* env) {
  std::vector<std::string> tmp;
  auto names = env->ListDir(kDir);
  EXPECT_TRUE(names.ok());
  for (const auto& n : *names) {
    if (n.ends_with(".tmp") && n != "segment-spare.tmp") tmp.push_back(n);
  }
  return tmp;
}

TEST(JournalTest, SnapshotStreamedInPiecesWhileRecordsAreAppended) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append("r1").ok());
    ASSERT_TRUE((*j)->Sync().ok());
    // Started and filled from another thread while the journal's thread goes on appending.
    std::unique_ptr<PendingSnapshot> pending;
    std::thread streamer([&] {
      auto p = (*j)->StartSnapshot();
      ASSERT_TRUE(p.ok()) << p.status();
      for (const char* piece : {"STATE", "@", "1"}) ASSERT_TRUE((*p)->Append(piece).ok());
      pending = std::move(*p);
    });
    streamer.join();
    ASSERT_TRUE(pending);
    EXPECT_EQ(pending->bytes(), 7u);
    EXPECT_EQ(TmpFiles(&env).size(), 1u);
    // Committed only at the record it follows.
    EXPECT_EQ((*j)->CommitSnapshot(std::move(pending), 2).code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(TmpFiles(&env).empty());  // the refused snapshot's file is gone
    auto again = (*j)->StartSnapshot();
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE((*again)->Append("STATE@1").ok());
    ASSERT_TRUE((*j)->CommitSnapshot(std::move(*again), 1).ok());
    ASSERT_TRUE((*j)->Append("r2").ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  // What a process killed while streaming a snapshot leaves behind: removed by recovery.
  {
    auto f = env.NewWritableFile(std::string(kDir) + "/snapshot-pending-0.tmp");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(std::string(32, '\0') + "STATE@2, half").ok());
  }
  EXPECT_EQ(TmpFiles(&env).size(), 1u);
  auto j = OpenJournal(&env, &rec);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(rec.snapshot, "STATE@1");
  EXPECT_EQ(rec.snapshot_seq, 1u);
  EXPECT_EQ(rec.records, (std::vector<std::string>{"r2"}));
  EXPECT_TRUE(TmpFiles(&env).empty());
}

TEST(JournalTest, SyncFailurePoisons) {
  FaultEnv env;
  Recovered rec;
  auto j = OpenJournal(&env, &rec);
  ASSERT_TRUE(j.ok());
  ASSERT_TRUE((*j)->Append("a").ok());
  env.FailNextSyncs(1);
  EXPECT_EQ((*j)->Sync().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*j)->Append("b").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*j)->Sync().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace inventory

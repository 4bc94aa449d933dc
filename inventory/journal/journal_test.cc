#include "inventory/journal/journal.h"

#include <gtest/gtest.h>

#include <random>
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
                                                     uint64_t segment_bytes_max = 1 << 20) {
  *out = Recovered{};
  return Journal::Open(
      env, JournalOptions{.dir = kDir, .segment_bytes_max = segment_bytes_max},
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
  for (uint64_t seed = 0; seed < 50; ++seed) {
    FaultEnv env;
    Recovered rec;
    std::mt19937_64 rng(seed);
    {
      auto j = OpenJournal(&env, &rec, 4096);  // small segments: crashes around rolls too
      ASSERT_TRUE(j.ok());
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE((*j)->Append(std::string(1 + rng() % 100, 'a' + i % 26)).ok());
        if (i < 150) {
          ASSERT_TRUE((*j)->Sync().ok());
        }
      }
    }
    env.Crash(&rng, /*garbage=*/seed % 2 == 0);
    auto j = OpenJournal(&env, &rec, 4096);
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
    auto again = OpenJournal(&env, &rec, 4096);
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

TEST(JournalTest, CorruptLastRecordIsTruncated) {
  FaultEnv env;
  Recovered rec;
  {
    auto j = OpenJournal(&env, &rec);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*j)->Append(std::string(10, 'x')).ok());
    ASSERT_TRUE((*j)->Sync().ok());
  }
  const std::string seg = std::string(kDir) + "/" + Journal::SegmentName(1);
  ASSERT_TRUE(env.CorruptByte(seg, env.FileSize(seg) - 1));
  auto j = OpenJournal(&env, &rec);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(rec.records.size(), 9u);
  EXPECT_EQ(rec.stats.torn_tails, 1u);
  EXPECT_EQ(rec.stats.torn_bytes_truncated, 26u);
  EXPECT_EQ(env.FileSize(seg), 9u * 26);
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

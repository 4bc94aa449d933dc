#include "inference/streaming/sequence_table.h"

#include "gtest/gtest.h"

namespace inference {
namespace {

constexpr SequenceLimits kLimits{/*idle_timeout_ms=*/1000, /*max_sequences=*/3};

class SequenceTableTest : public ::testing::Test {
 protected:
  core::FakeClock clock_;
  SequenceTable table_{&clock_};
};

TEST_F(SequenceTableTest, StartKeepsStateUntilEnd) {
  auto slot = table_.Acquire("7", /*start=*/true, kLimits, 8, nullptr);
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ((*slot)->state, std::vector<char>(8, 0));
  (*slot)->state[0] = 42;
  table_.Release("7", /*end=*/false);
  auto again = table_.Acquire("7", /*start=*/false, kLimits, 8, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->state[0], 42);
  table_.Release("7", /*end=*/true);
  EXPECT_EQ(table_.size(), 0u);
  auto gone = table_.Acquire("7", /*start=*/false, kLimits, 8, nullptr);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(gone.status().message().find("sequence_id 7"), std::string::npos) << gone.status();
}

TEST_F(SequenceTableTest, UnknownIdWithoutStartNamesSequenceId) {
  auto s = table_.Acquire("abc", /*start=*/false, kLimits, 4, nullptr);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("sequence_id abc"), std::string::npos);
  EXPECT_NE(s.status().message().find("sequence_start"), std::string::npos);
}

TEST_F(SequenceTableTest, OneChunkInFlightPerSequence) {
  ASSERT_TRUE(table_.Acquire("1", true, kLimits, 4, nullptr).ok());
  auto busy = table_.Acquire("1", false, kLimits, 4, nullptr);
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kFailedPrecondition);
  // Nor can it be restarted while busy, and a busy sequence never expires.
  EXPECT_EQ(table_.Acquire("1", true, kLimits, 4, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
  clock_.AdvanceMs(5000);
  EXPECT_EQ(table_.SweepExpired(), 0u);
  table_.Release("1", false);
  EXPECT_TRUE(table_.Acquire("1", false, kLimits, 4, nullptr).ok());
}

TEST_F(SequenceTableTest, RestartZeroesStateAndReplacesPin) {
  auto pin1 = std::make_shared<int>(1);
  auto slot = table_.Acquire("s", true, kLimits, 4, pin1);
  ASSERT_TRUE(slot.ok());
  (*slot)->state[3] = 9;
  table_.Release("s", false);
  slot->reset();  // the caller lets go of the slot after Release
  auto pin2 = std::make_shared<int>(2);
  auto again = table_.Acquire("s", true, kLimits, 4, pin2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->state, std::vector<char>(4, 0));
  EXPECT_EQ(pin1.use_count(), 1);  // the old pin was released
  EXPECT_EQ((*again)->pin.get(), pin2.get());
}

TEST_F(SequenceTableTest, IdleSequenceExpiresOnInjectedClock) {
  auto pin = std::make_shared<int>(0);
  ASSERT_TRUE(table_.Acquire("x", true, kLimits, 4, pin).ok());
  table_.Release("x", false);
  clock_.AdvanceMs(1000);  // exactly the timeout: still live
  ASSERT_TRUE(table_.Acquire("x", false, kLimits, 4, nullptr).ok());
  table_.Release("x", false);
  clock_.AdvanceMs(1001);
  auto late = table_.Acquire("x", false, kLimits, 4, nullptr);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(late.status().message().find("expired"), std::string::npos) << late.status();
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(pin.use_count(), 1);  // state and pin freed
}

TEST_F(SequenceTableTest, SweepFreesOnlyExpiredIdleEntries) {
  ASSERT_TRUE(table_.Acquire("a", true, kLimits, 4, nullptr).ok());
  table_.Release("a", false);
  clock_.AdvanceMs(600);
  ASSERT_TRUE(table_.Acquire("b", true, kLimits, 4, nullptr).ok());
  table_.Release("b", false);
  clock_.AdvanceMs(600);  // a idle 1200 ms, b idle 600 ms
  EXPECT_EQ(table_.SweepExpired(), 1u);
  EXPECT_EQ(table_.size(), 1u);
  EXPECT_TRUE(table_.Acquire("b", false, kLimits, 4, nullptr).ok());
}

TEST_F(SequenceTableTest, MaxSequencesIsResourceExhaustedUntilOneEndsOrExpires) {
  for (const char* id : {"1", "2", "3"}) {
    ASSERT_TRUE(table_.Acquire(id, true, kLimits, 4, nullptr).ok());
    table_.Release(id, false);
  }
  auto full = table_.Acquire("4", true, kLimits, 4, nullptr);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("max_sequences"), std::string::npos) << full.status();
  // Ending one frees a slot.
  ASSERT_TRUE(table_.Acquire("1", false, kLimits, 4, nullptr).ok());
  table_.Release("1", true);
  ASSERT_TRUE(table_.Acquire("4", true, kLimits, 4, nullptr).ok());
  table_.Release("4", false);
  EXPECT_EQ(table_.Acquire("5", true, kLimits, 4, nullptr).status().code(),
            absl::StatusCode::kResourceExhausted);
  // Idle expiry frees the others: a full table sweeps before refusing.
  clock_.AdvanceMs(1001);
  EXPECT_TRUE(table_.Acquire("5", true, kLimits, 4, nullptr).ok());
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(SequenceTableTest, ClearReleasesPinsAndToleratesLateRelease) {
  auto pin = std::make_shared<int>(0);
  ASSERT_TRUE(table_.Acquire("z", true, kLimits, 4, pin).ok());
  table_.Clear();
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(pin.use_count(), 1);
  table_.Release("z", false);  // the in-flight chunk finishing after shutdown cleared the table
  EXPECT_EQ(table_.size(), 0u);
}

}  // namespace
}  // namespace inference

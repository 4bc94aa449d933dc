#include "inference/gateway/streaming/sequence_affinity.h"

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

EndpointPtr MakeEndpoint(const std::string& name) {
  return std::make_shared<Endpoint>(name, UpstreamAddress{}, "", nullptr);
}

constexpr int64_t kMs = 1'000'000;

TEST(SequenceAffinityTest, BindFindRefreshEraseAndIdle) {
  SequenceAffinity table({.entries_max = 1024, .idle_ms = 100});
  auto w0 = MakeEndpoint("w0");
  const std::string key = SequenceAffinity::Key("gru_seq", "i:7");
  EXPECT_FALSE(table.Find(key, 0).has_value());
  ASSERT_TRUE(table.Bind(key, w0, "2", 0).ok());
  auto e = table.Find(key, 90 * kMs);  // refreshes
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->endpoint.lock(), w0);
  EXPECT_EQ(e->endpoint_name, "w0");
  EXPECT_EQ(e->version, "2");
  EXPECT_TRUE(table.Find(key, 180 * kMs).has_value());   // 90 ms after the refresh
  EXPECT_FALSE(table.Find(key, 400 * kMs).has_value());  // idle 220 ms: forgotten
  ASSERT_TRUE(table.Bind(key, w0, "", 0).ok());
  table.Erase(key);
  EXPECT_FALSE(table.Find(key, 0).has_value());
  EXPECT_EQ(table.size(), 0u);
}

TEST(SequenceAffinityTest, KeysOfDifferentModelsAreDistinct) {
  SequenceAffinity table({});
  auto w0 = MakeEndpoint("w0"), w1 = MakeEndpoint("w1");
  ASSERT_TRUE(table.Bind(SequenceAffinity::Key("a", "i:1"), w0, "", 0).ok());
  ASSERT_TRUE(table.Bind(SequenceAffinity::Key("b", "i:1"), w1, "", 0).ok());
  EXPECT_EQ(table.Find(SequenceAffinity::Key("a", "i:1"), 0)->endpoint_name, "w0");
  EXPECT_EQ(table.Find(SequenceAffinity::Key("b", "i:1"), 0)->endpoint_name, "w1");
}

TEST(SequenceAffinityTest, RemovedEndpointIsSeenAsExpired) {
  SequenceAffinity table({});
  auto w0 = MakeEndpoint("w0");
  ASSERT_TRUE(table.Bind("k", w0, "", 0).ok());
  w0.reset();
  auto e = table.Find("k", 0);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->endpoint.lock(), nullptr);
  EXPECT_EQ(e->endpoint_name, "w0");
}

TEST(SequenceAffinityTest, FullTableRefusesNewSequencesUntilOldOnesIdleOut) {
  // 16 shards x 1 entry each.
  SequenceAffinity table({.entries_max = 16, .idle_ms = 100});
  auto w0 = MakeEndpoint("w0");
  int refused = 0;
  for (int i = 0; i < 200; ++i) {
    absl::Status s = table.Bind(SequenceAffinity::Key("m", std::to_string(i)), w0, "", 0);
    if (!s.ok()) {
      ++refused;
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
      EXPECT_NE(std::string(s.message()).find("sequences_max"), std::string::npos) << s.message();
    }
  }
  EXPECT_EQ(table.size(), 16u);
  EXPECT_EQ(refused, 200 - 16);
  // Rebinding a live key is never refused.
  for (int i = 0; i < 200; ++i) {
    const std::string key = SequenceAffinity::Key("m", std::to_string(i));
    if (table.Find(key, 0)) {
      EXPECT_TRUE(table.Bind(key, w0, "", 0).ok());
    }
  }
  // Once idle, room is made.
  EXPECT_TRUE(table.Bind(SequenceAffinity::Key("m", "new"), w0, "", 500 * kMs).ok());
}

}  // namespace
}  // namespace inference::gateway

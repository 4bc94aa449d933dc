#include "core/log/request_id.h"

#include <set>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace core::log {
namespace {

TEST(RequestIdTest, NewIdsAreSixteenLowerHexChars) {
  for (int i = 0; i < 100; ++i) {
    const RequestId id = NewRequestId();
    EXPECT_THAT(id.ToString(), ::testing::MatchesRegex("[0-9a-f]{16}"));
  }
}

TEST(RequestIdTest, NewIdsDoNotRepeat) {
  std::set<std::string> seen;
  constexpr int kIds = 10000;
  for (int i = 0; i < kIds; ++i) seen.insert(NewRequestId().ToString());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kIds));
}

TEST(RequestIdScopeTest, NoIdByDefault) { EXPECT_EQ(CurrentRequestId(), ""); }

TEST(RequestIdScopeTest, NestingRestoresPreviousId) {
  {
    RequestIdScope outer("outer");
    EXPECT_EQ(CurrentRequestId(), "outer");
    {
      RequestIdScope inner("inner");
      EXPECT_EQ(CurrentRequestId(), "inner");
      {
        RequestIdScope cleared("");
        EXPECT_EQ(CurrentRequestId(), "");
      }
      EXPECT_EQ(CurrentRequestId(), "inner");
    }
    EXPECT_EQ(CurrentRequestId(), "outer");
  }
  EXPECT_EQ(CurrentRequestId(), "");
}

TEST(RequestIdScopeTest, SanitisesAndTruncates) {
  {
    RequestIdScope scope("a b\r\n\"c\\d");
    EXPECT_EQ(CurrentRequestId(), "a_b___c_d");
  }
  const std::string long_id(kRequestIdBytesMax + 10, 'x');
  RequestIdScope scope(long_id);
  EXPECT_EQ(CurrentRequestId(), std::string(kRequestIdBytesMax, 'x'));
}

TEST(RequestIdScopeTest, IdsArePerThread) {
  RequestIdScope scope("main-thread");
  std::string seen_in_thread = "unset";
  std::string seen_in_thread_scope;
  std::thread worker([&] {
    seen_in_thread = std::string(CurrentRequestId());
    RequestIdScope worker_scope("worker");
    seen_in_thread_scope = std::string(CurrentRequestId());
  });
  worker.join();
  EXPECT_EQ(seen_in_thread, "");
  EXPECT_EQ(seen_in_thread_scope, "worker");
  EXPECT_EQ(CurrentRequestId(), "main-thread");
}

}  // namespace
}  // namespace core::log

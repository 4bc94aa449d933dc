#include "inference/gateway/proxy/trace_context.h"

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

TEST(TraceContextTest, ContinuesAValidTrace) {
  const char* in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  TraceContext t = TraceContext::FromHeader(in);
  EXPECT_TRUE(t.continued);
  EXPECT_EQ(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  const std::string out = t.Header();
  EXPECT_TRUE(IsValidTraceparent(out));
  EXPECT_EQ(out.substr(0, 36), std::string(in).substr(0, 36));
  EXPECT_NE(out.substr(36, 16), "00f067aa0ba902b7");
}

TEST(TraceContextTest, StartsANewTraceForInvalidHeaders) {
  for (const char* bad : {"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}) {
    TraceContext t = TraceContext::FromHeader(bad);
    EXPECT_FALSE(t.continued) << bad;
    EXPECT_TRUE(IsValidTraceparent(t.Header())) << t.Header();
  }
}

}  // namespace
}  // namespace inference::gateway

#include "inference/gateway/proxy/rest_proxy.h"

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

TEST(RestProxyTest, AppendParametersToABody) {
  std::string body = R"({"inputs":[]} )";
  ASSERT_TRUE(RestProxy::AppendParameters(&body, 3, 5000));
  EXPECT_EQ(body, R"({"inputs":[],"parameters":{"priority":3,"timeout":5000}} )");
  std::string empty = "{ }";
  ASSERT_TRUE(RestProxy::AppendParameters(&empty, 1, 0));
  EXPECT_EQ(empty, R"({ "parameters":{"priority":1}})");
  std::string bad = "[1]";
  EXPECT_FALSE(RestProxy::AppendParameters(&bad, 1, 0));
  EXPECT_EQ(bad, "[1]");
}

}  // namespace
}  // namespace inference::gateway

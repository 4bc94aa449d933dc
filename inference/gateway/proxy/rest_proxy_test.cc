#include "inference/gateway/proxy/rest_proxy.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

// The body as the gateway forwards it: `member` spliced in at `at` (unchanged for npos).
std::string Spliced(std::string body, size_t at, const std::string& member) {
  if (at != std::string_view::npos) body.insert(at, member);
  return body;
}

TEST(RestProxyTest, AppendParametersToABody) {
  std::string member;
  std::string body = R"({"inputs":[]} )";
  size_t at = RestProxy::ParametersMember(body, 3, 5000, &member);
  ASSERT_NE(at, std::string_view::npos);
  EXPECT_EQ(Spliced(body, at, member),
            R"({"inputs":[],"parameters":{"priority":3,"timeout":5000}} )");
  std::string empty = "{ }";
  at = RestProxy::ParametersMember(empty, 1, 0, &member);
  ASSERT_NE(at, std::string_view::npos);
  EXPECT_EQ(Spliced(empty, at, member), R"({ "parameters":{"priority":1}})");
  std::string bad = "[1]";
  std::string untouched = "untouched";
  EXPECT_EQ(RestProxy::ParametersMember(bad, 1, 0, &untouched), std::string_view::npos);
  EXPECT_EQ(untouched, "untouched");
  EXPECT_EQ(bad, "[1]");
}

}  // namespace
}  // namespace inference::gateway

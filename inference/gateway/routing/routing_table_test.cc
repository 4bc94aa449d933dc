#include "inference/gateway/routing/routing_table.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

TEST(RoutingTableTest, SplitsByWeight) {
  auto table = RoutingTable::Parse(R"(models: {mlp: {versions: {"1": 90, "2": 10}}})", "r.yaml");
  ASSERT_TRUE(table.ok()) << table.status();
  std::mt19937_64 rng(7);
  int v2 = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) v2 += *(*table)->Resolve("mlp", "", rng()) == "2";
  EXPECT_NEAR(v2 * 100.0 / kN, 10.0, 1.0);
  EXPECT_FALSE((*table)->Resolve("other", "", 1).has_value());
}

TEST(RoutingTableTest, StickyUsersKeepTheirVersion) {
  auto table = RoutingTable::Parse(R"(models: {mlp: {versions: {"1": 50, "2": 50}}})", "r.yaml");
  ASSERT_TRUE(table.ok());
  for (int u = 0; u < 200; ++u) {
    const std::string user = "user-" + std::to_string(u);
    const std::string first(*(*table)->Resolve("mlp", user, 1));
    for (uint64_t r = 2; r < 10; ++r) EXPECT_EQ(*(*table)->Resolve("mlp", user, r), first);
  }
}

TEST(RoutingTableTest, RejectsBadFilesWithThePath) {
  struct Case {
    const char* yaml;
    const char* expect;
  } cases[] = {
      {R"(models: {mlp: {versions: {"1": -1}}})", "models.mlp.versions.1"},
      {R"(models: {mlp: {versions: {"x": 1}}})", "positive integer"},
      {R"(models: {mlp: {versions: {"1": 0}}})", "models.mlp.versions"},
      {R"(models: {mlp: {versons: {"1": 1}}})", "models.mlp"},
      {R"(models: {mlp: {versions: {"1": 1})", "invalid YAML"},
      {R"(modles: {})", "unknown key"},
  };
  for (const Case& c : cases) {
    auto table = RoutingTable::Parse(c.yaml, "r.yaml");
    ASSERT_FALSE(table.ok()) << c.yaml;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(table.status().message().find(c.expect), std::string::npos)
        << c.yaml << " -> " << table.status().message();
  }
}

TEST(RoutingTableTest, ToJson) {
  auto table = RoutingTable::Parse(R"(models: {b: {versions: {"2": 1}}, a: {versions: {"1": 3}}})",
                                   "r.yaml");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ((*table)->ToJson(),
            R"({"models":{"a":{"versions":{"1":3}},"b":{"versions":{"2":1}}}})");
}

}  // namespace
}  // namespace inference::gateway

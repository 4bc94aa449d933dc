#include "inventory/engine/internal/inline_id.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/container/node_hash_map.h"

namespace inventory::internal {
namespace {

TEST(InlineIdTest, HoldsShortAndLongIds) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, InlineId::kInlineBytes,
                   InlineId::kInlineBytes + 1, size_t{128}, size_t{65535}}) {
    std::string s(n, 'x');
    if (n > 0) s.back() = 'y';
    InlineId id(s);
    EXPECT_EQ(id.view(), s) << n;
    EXPECT_EQ(id.size(), n);
    InlineId copy(id);
    EXPECT_EQ(copy.view(), s) << n;
  }
}

TEST(InlineIdTest, KeysATableLookedUpByViewOrString) {
  absl::node_hash_map<InlineId, int, IdHash, IdEq> map;
  const std::string long_id(100, 'L');
  map.try_emplace(std::string_view("order-42"), 1);
  map.try_emplace(std::string_view(long_id), 2);
  EXPECT_EQ(map.find(std::string_view("order-42"))->second, 1);
  EXPECT_EQ(map.find(std::string("order-42"))->second, 1);
  EXPECT_EQ(map.find(long_id)->second, 2);
  EXPECT_EQ(map.find(std::string_view("order-43")), map.end());
  EXPECT_EQ(map.erase(std::string_view("order-42")), 1u);
  EXPECT_EQ(map.size(), 1u);
}

}  // namespace
}  // namespace inventory::internal

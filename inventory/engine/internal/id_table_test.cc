#include "inventory/engine/internal/id_table.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace inventory::internal {
namespace {

struct Value {
  int n = 0;
  std::string payload;  // owns heap memory for long strings: destroyed with the entry
};

TEST(IdTableTest, EntriesStayPutWhileTheTableGrows) {
  IdTable<Value> table;
  std::vector<IdTable<Value>::Entry*> entries;
  for (int i = 0; i < 20'000; ++i) {  // many growth steps of the index
    auto [e, inserted] = table.try_emplace(fmt::format("order-{:08d}-with-a-long-suffix", i),
                                           Value{i, std::string(40, 'p')});
    ASSERT_TRUE(inserted);
    entries.push_back(e);
  }
  EXPECT_EQ(table.size(), 20'000u);
  for (int i = 0; i < 20'000; ++i) {
    const std::string id = fmt::format("order-{:08d}-with-a-long-suffix", i);
    ASSERT_EQ(table.find(id), entries[i]) << i;  // same address after every rehash
    EXPECT_EQ(entries[i]->first.view(), id);
    EXPECT_EQ(entries[i]->second.n, i);
  }
  auto [again, inserted] = table.try_emplace("order-00000007-with-a-long-suffix", Value{-1, ""});
  EXPECT_FALSE(inserted);
  EXPECT_EQ(again, entries[7]);
  EXPECT_EQ(again->second.n, 7);  // untouched
}

TEST(IdTableTest, MatchesAMapUnderRandomInsertsAndErases) {
  IdTable<Value> table;
  std::map<std::string, int> model;
  std::mt19937_64 rng(42);
  for (int step = 0; step < 50'000; ++step) {
    const std::string id = fmt::format("id{}", rng() % 3000);
    if (rng() % 3 == 0) {
      EXPECT_EQ(table.erase(id), model.erase(id) == 1) << id;
    } else {
      auto [e, inserted] = table.try_emplace(id, Value{step, ""});
      auto [it, model_inserted] = model.try_emplace(id, step);
      EXPECT_EQ(inserted, model_inserted) << id;
      EXPECT_EQ(e->second.n, it->second) << id;
    }
  }
  ASSERT_EQ(table.size(), model.size());
  size_t seen = 0;
  table.ForEach([&](const IdTable<Value>::Entry& e) {
    auto it = model.find(std::string(e.first.view()));
    ASSERT_NE(it, model.end());
    EXPECT_EQ(e.second.n, it->second);
    ++seen;
  });
  EXPECT_EQ(seen, model.size());
  EXPECT_EQ(table.find("not-there"), nullptr);
}

}  // namespace
}  // namespace inventory::internal

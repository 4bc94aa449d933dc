#include "core/sync/snapshot_ptr.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace core {
namespace {

TEST(SnapshotPtrTest, LoadSeesTheLatestStore) {
  SnapshotPtr<int> ptr(std::make_shared<const int>(1));
  EXPECT_EQ(*ptr.load(), 1);
  ptr.store(std::make_shared<const int>(2));
  EXPECT_EQ(*ptr.load(), 2);
  ptr.store(nullptr);
  EXPECT_EQ(ptr.load(), nullptr);
}

TEST(SnapshotPtrTest, InstancesOnOneThreadDoNotShareTheCache) {
  SnapshotPtr<int> a(std::make_shared<const int>(1));
  SnapshotPtr<int> b(std::make_shared<const int>(2));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*a.load(), 1);
    EXPECT_EQ(*b.load(), 2);
  }
  {
    // A new instance at (possibly) the same address must not match a stale cache entry.
    auto c = std::make_unique<SnapshotPtr<int>>(std::make_shared<const int>(3));
    EXPECT_EQ(*c->load(), 3);
    c.reset();
    auto d = std::make_unique<SnapshotPtr<int>>(std::make_shared<const int>(4));
    EXPECT_EQ(*d->load(), 4);
  }
}

TEST(SnapshotPtrTest, OldSnapshotStaysValidWhileHeld) {
  SnapshotPtr<std::vector<int>> ptr(std::make_shared<const std::vector<int>>(1000, 7));
  std::shared_ptr<const std::vector<int>> held = ptr.load();
  ptr.store(std::make_shared<const std::vector<int>>(10, 8));
  EXPECT_EQ(held->size(), 1000u);
  EXPECT_EQ((*held)[999], 7);
  EXPECT_EQ(ptr.load()->size(), 10u);
}

// Readers on several threads while a writer publishes increasing values: every reader sees a
// non-decreasing sequence, and the final value once the writer is done. Run under TSan in CI.
TEST(SnapshotPtrTest, ConcurrentReadersSeeMonotonicValues) {
  constexpr int kWrites = 20000;
  SnapshotPtr<int> ptr(std::make_shared<const int>(0));
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int last = 0;
      while (!done.load(std::memory_order_acquire)) {
        const int v = *ptr.load();
        if (v < last) violations.fetch_add(1);
        last = v;
      }
      if (*ptr.load() != kWrites) violations.fetch_add(1);
    });
  }
  for (int i = 1; i <= kWrites; ++i) ptr.store(std::make_shared<const int>(i));
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
}

}  // namespace
}  // namespace core

#include "inventory/engine/internal/node_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

namespace inventory::internal {
namespace {

TEST(NodePoolTest, ReusesFreedBlocksAndGrowsByChunks) {
  NodePool pool(40, 4096);
  EXPECT_EQ(pool.block_bytes(), 48u);  // rounded up to max_align_t
  std::set<void*> blocks;
  for (int i = 0; i < 85; ++i) {  // 85 blocks of 48 bytes fit in one 4 KiB chunk
    void* b = pool.Allocate();
    std::memset(b, 0xab, 48);
    EXPECT_TRUE(blocks.insert(b).second);
  }
  EXPECT_EQ(pool.chunk_count(), 1u);
  void* extra = pool.Allocate();
  EXPECT_EQ(pool.chunk_count(), 2u);
  EXPECT_EQ(pool.blocks_in_use(), 86u);
  void* freed = *blocks.begin();
  pool.Deallocate(freed);
  EXPECT_EQ(pool.Allocate(), freed);  // the free list first: no new memory
  pool.Deallocate(extra);
  EXPECT_EQ(pool.blocks_in_use(), 85u);
  EXPECT_EQ(pool.chunk_count(), 2u);
}

}  // namespace
}  // namespace inventory::internal

#pragma once
// NodePool: fixed-size blocks for the engine's per-reservation entries (IdTable), carved from large
// chunks that are mapped and pre-faulted in one call (MADV_POPULATE_WRITE), with freed blocks kept
// on a free list for the next node. Why: the reservation table grows by one node per reservation,
// and taking every fresh page through its own page fault was the largest single cost of the batch
// path on the dev VM (a first touch costs ~12 us per 4 KiB page there, a populated page ~6 us; see
// docs/benchmarks.md). It also keeps the long-lived nodes out of the malloc heap, where they
// fragmented it between the short-lived request buffers. Chunks are returned to the system only
// when the pool is destroyed.
//
// Thread safety: none; one thread (the engine's owner) at a time.

#include <cstddef>
#include <vector>

#include "core/log/check.h"

namespace inventory::internal {

inline constexpr size_t kNodePoolChunkBytes = 4u << 20;

class NodePool {
 public:
  // `block_bytes` is rounded up to a multiple of alignof(std::max_align_t).
  explicit NodePool(size_t block_bytes, size_t chunk_bytes = kNodePoolChunkBytes);
  ~NodePool();
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  void* Allocate();
  void Deallocate(void* block);

  size_t block_bytes() const { return block_bytes_; }
  size_t chunk_count() const { return chunks_.size(); }
  size_t blocks_in_use() const { return in_use_; }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  void AddChunk();

  const size_t block_bytes_;
  const size_t chunk_bytes_;
  std::vector<void*> chunks_;
  char* next_ = nullptr;  // bump pointer into the newest chunk
  char* end_ = nullptr;
  FreeBlock* free_ = nullptr;
  size_t in_use_ = 0;
};

}  // namespace inventory::internal

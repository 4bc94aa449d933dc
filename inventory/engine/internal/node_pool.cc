#include "inventory/engine/internal/node_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace inventory::internal {
namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

constexpr size_t kPrefetchBlocks = 2;
constexpr size_t kCacheLineBytes = 64;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

NodePool::NodePool(size_t block_bytes, size_t chunk_bytes)
    : block_bytes_(RoundUp(std::max(block_bytes, sizeof(FreeBlock)), alignof(std::max_align_t))),
      chunk_bytes_(chunk_bytes) {
  CORE_CHECK(chunk_bytes_ >= block_bytes_);
}

NodePool::~NodePool() {
  for (void* chunk : chunks_) ::munmap(chunk, chunk_bytes_);
}

void NodePool::AddChunk() {
  void* chunk =
      ::mmap(nullptr, chunk_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CORE_CHECK(chunk != MAP_FAILED) << "node pool: mmap of " << chunk_bytes_
                                  << " bytes failed: " << std::strerror(errno);
  // Fault every page in at once. Best effort: on kernels without it (EINVAL) the pages fault in
  // one by one as before.
  (void)::madvise(chunk, chunk_bytes_, MADV_POPULATE_WRITE);
  chunks_.push_back(chunk);
  next_ = static_cast<char*>(chunk);
  end_ = next_ + chunk_bytes_ / block_bytes_ * block_bytes_;
}

void* NodePool::Allocate() {
  ++in_use_;
  if (free_ != nullptr) {
    FreeBlock* block = free_;
    free_ = block->next;
    return block;
  }
  if (next_ == end_) AddChunk();
  void* block = next_;
  next_ += block_bytes_;
  // Blocks are handed out in address order and written at once: start owning the cache lines of
  // one a few blocks ahead, so its first writes do not stall.
  const char* ahead = next_ + kPrefetchBlocks * block_bytes_;
  if (ahead + block_bytes_ <= end_) {
    for (size_t off = 0; off < block_bytes_; off += kCacheLineBytes) {
      __builtin_prefetch(ahead + off, /*rw=*/1);
    }
  }
  return block;
}

void NodePool::Deallocate(void* block) {
  CORE_CHECK(in_use_ > 0);
  --in_use_;
  auto* b = static_cast<FreeBlock*>(block);
  b->next = free_;
  free_ = b;
}

}  // namespace inventory::internal

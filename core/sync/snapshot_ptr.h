#pragma once
// SnapshotPtr<T>: an immutable value published by rare writers and read on every request.
//
// Writers (store) replace the whole value under a mutex and bump a generation counter. Readers
// (load) keep a per-thread cached shared_ptr and only take the mutex when the generation moved,
// so the steady-state read is one acquire load plus a reference-count increment: no lock, no
// allocation. A reader keeps the snapshot it loaded for as long as it holds the shared_ptr.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 implements it with a lock bit hidden in
// the pointer, which ThreadSanitizer cannot see (it reports the swap as a race), and every load
// spins on the same cache line as the writer.
//
// Cost: each thread that ever read keeps one old value alive until it reads again or exits.
// Thread safety: every member from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

namespace core {

template <typename T>
class SnapshotPtr {
 public:
  explicit SnapshotPtr(std::shared_ptr<const T> value = nullptr)
      : id_(NextId()), value_(std::move(value)) {}
  SnapshotPtr(const SnapshotPtr&) = delete;
  SnapshotPtr& operator=(const SnapshotPtr&) = delete;

  std::shared_ptr<const T> load() const {
    Cache& cache = ThreadCache();
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (cache.owner == id_ && cache.generation == generation) return cache.value;
    std::lock_guard<std::mutex> lock(mu_);
    cache.owner = id_;
    cache.generation = generation_.load(std::memory_order_relaxed);
    cache.value = value_;
    return cache.value;
  }

  void store(std::shared_ptr<const T> value) {
    std::shared_ptr<const T> old;  // released outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    old = std::exchange(value_, std::move(value));
    generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  struct Cache {
    uint64_t owner = 0;  // id_ of the SnapshotPtr the cached value came from
    uint64_t generation = 0;
    std::shared_ptr<const T> value;
  };
  static Cache& ThreadCache() {
    thread_local Cache cache;
    return cache;
  }
  static uint64_t NextId() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  const uint64_t id_;  // never reused, so a stale cache entry can't match a new instance
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<uint64_t> generation_{1};
};

}  // namespace core

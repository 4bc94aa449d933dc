#pragma once
// KeyedRateLimiter: one TokenBucket per key (API key, client id, tenant), created on first use,
// with a hard bound on the number of keys tracked so a flood of distinct keys cannot grow memory
// unboundedly.
//
//   ASSIGN_OR_RETURN(auto limiter, KeyedRateLimiter::Create({.rate_per_s = 10, .burst = 20},
//   clock)); if (!limiter->TryAcquire(api_key)) return
//   TooManyRequests(limiter->RetryAfterMs(api_key));
//
// Eviction. Keys are split over `shards` shards by hash; each shard keeps its keys in
// least-recently-used order and holds at most keys_max / shards of them. When a new key arrives at
// a shard:
//   1. keys idle for at least burst / rate_per_s are dropped first: their buckets have refilled to
//   full,
//      which is exactly the state a new bucket starts in, so forgetting them changes no decision;
//   2. if the shard is still full, the least recently used key is evicted even though its bucket is
//   not
//      full (counted in evictions_premature()). That key gets a fresh, full bucket if it returns.
//      This trades a little leniency under key floods for bounded memory.
//
// Thread safety: all methods may be called from any thread concurrently. Calls for keys in
// different shards never contend (one mutex per shard, no global lock). A call for a known key
// allocates nothing; the first call for a new key allocates its entry. Ownership: `clock` is not
// owned and must outlive the limiter. Callers bound key length (e.g. by the HTTP header size
// limit); the limiter stores each tracked key once.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "core/resilience/token_bucket.h"

namespace core {

class KeyedRateLimiter {
 public:
  static constexpr size_t kKeysMaxDefault = 100'000;
  static constexpr size_t kShardsDefault = 16;
  static constexpr size_t kShardsMax = 1024;

  struct Options {
    double rate_per_s = 10;  // Per key.
    double burst = 20;       // Per key.
    // Bound on keys tracked at once, across all shards. Must be >= shards.
    size_t keys_max = kKeysMaxDefault;
    // Number of independently locked shards, in [1, kShardsMax].
    size_t shards = kShardsDefault;
  };

  // Returns InvalidArgument naming the bad field.
  static absl::StatusOr<std::unique_ptr<KeyedRateLimiter>> Create(const Options& options,
                                                                  Clock* clock);

  KeyedRateLimiter(const KeyedRateLimiter&) = delete;
  KeyedRateLimiter& operator=(const KeyedRateLimiter&) = delete;

  // TokenBucket::TryAcquire on `key`'s bucket, creating it (full) on first use.
  bool TryAcquire(std::string_view key, double tokens = 1);

  // TokenBucket::RetryAfterMs on `key`'s bucket. An untracked key has a full bucket: the answer is
  // 0 (or kRetryNeverMs when `tokens` > burst). Does not create or touch the key.
  int64_t RetryAfterMs(std::string_view key, double tokens = 1) const;

  // Keys tracked now (<= keys_max). Takes every shard lock in turn: for metrics and tests, not hot
  // paths.
  size_t size() const;
  // Keys evicted while their bucket was not yet full (see the eviction notes above).
  int64_t evictions_premature() const;

 private:
  struct Entry {
    Entry(std::string_view key_in, double rate_per_s, double burst, Clock* clock, int64_t now_ns)
        : key(key_in), bucket(rate_per_s, burst, clock), used_ns(now_ns) {}
    const std::string key;
    TokenBucket bucket;
    int64_t used_ns;  // Last TryAcquire, for idle eviction.
  };
  using Lru = std::list<Entry>;  // Most recently used first. List nodes never move, so the index
                                 // can point into them.
  struct alignas(64) Shard {
    mutable std::mutex mu;
    Lru lru ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string_view, Lru::iterator> index ABSL_GUARDED_BY(mu);
    int64_t evictions_premature ABSL_GUARDED_BY(mu) = 0;
  };

  KeyedRateLimiter(const Options& options, Clock* clock);
  Shard& ShardFor(std::string_view key) const;
  // Makes room for one more key in `shard` (see the eviction notes above).
  void MakeRoomLocked(Shard& shard, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const Options options_;
  const size_t shard_keys_max_;
  const int64_t idle_full_ns_;  // Idle time after which any bucket is full again.
  Clock* const clock_;
  const std::unique_ptr<Shard[]> shards_;
};

}  // namespace core

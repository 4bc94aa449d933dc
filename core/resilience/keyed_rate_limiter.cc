#include "core/resilience/keyed_rate_limiter.h"

#include <cmath>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "core/status/status_macros.h"

namespace core {

absl::StatusOr<std::unique_ptr<KeyedRateLimiter>> KeyedRateLimiter::Create(const Options& options,
                                                                           Clock* clock) {
  RETURN_IF_ERROR(TokenBucket::ValidateOptions(options.rate_per_s, options.burst));
  if (options.shards < 1 || options.shards > kShardsMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards must be in [1, ", kShardsMax, "], got ", options.shards));
  }
  if (options.keys_max < options.shards) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys_max must be >= shards (", options.shards, "), got ", options.keys_max));
  }
  if (clock == nullptr) return absl::InvalidArgumentError("clock must not be null");
  return std::unique_ptr<KeyedRateLimiter>(new KeyedRateLimiter(options, clock));
}

KeyedRateLimiter::KeyedRateLimiter(const Options& options, Clock* clock)
    : options_(options),
      shard_keys_max_(options.keys_max / options.shards),
      idle_full_ns_(static_cast<int64_t>(std::ceil(options.burst / options.rate_per_s * 1e9))),
      clock_(clock),
      shards_(new Shard[options.shards]) {}

KeyedRateLimiter::Shard& KeyedRateLimiter::ShardFor(std::string_view key) const {
  return shards_[absl::Hash<std::string_view>()(key) % options_.shards];
}

void KeyedRateLimiter::MakeRoomLocked(Shard& shard, int64_t now_ns) {
  // Bounded by the shard size; each key is dropped at most once, so O(1) amortized per insert.
  while (!shard.lru.empty() && now_ns - shard.lru.back().used_ns >= idle_full_ns_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
  }
  if (shard.lru.size() >= shard_keys_max_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
    ++shard.evictions_premature;
  }
}

bool KeyedRateLimiter::TryAcquire(std::string_view key, double tokens) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  const int64_t now_ns = clock_->NowNs();
  auto it = shard.index.find(key);
  Lru::iterator entry;
  if (it != shard.index.end()) {
    entry = it->second;
    shard.lru.splice(shard.lru.begin(), shard.lru, entry);  // Relinks; no allocation.
  } else {
    MakeRoomLocked(shard, now_ns);
    shard.lru.emplace_front(key, options_.rate_per_s, options_.burst, clock_, now_ns);
    entry = shard.lru.begin();
    shard.index.emplace(std::string_view(entry->key), entry);
  }
  entry->used_ns = now_ns;
  return entry->bucket.TryAcquire(tokens);
}

int64_t KeyedRateLimiter::RetryAfterMs(std::string_view key, double tokens) const {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) {
    return tokens <= options_.burst ? 0 : TokenBucket::kRetryNeverMs;
  }
  return it->second->bucket.RetryAfterMs(tokens);
}

size_t KeyedRateLimiter::size() const {
  size_t total = 0;
  for (size_t i = 0; i < options_.shards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    total += shards_[i].lru.size();
  }
  return total;
}

int64_t KeyedRateLimiter::evictions_premature() const {
  int64_t total = 0;
  for (size_t i = 0; i < options_.shards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    total += shards_[i].evictions_premature;
  }
  return total;
}

}  // namespace core

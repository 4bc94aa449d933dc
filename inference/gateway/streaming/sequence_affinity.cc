#include "inference/gateway/streaming/sequence_affinity.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "fmt/format.h"

namespace inference::gateway {

std::string SequenceAffinity::Key(std::string_view model, std::string_view sequence_id) {
  std::string key;
  key.reserve(model.size() + 1 + sequence_id.size());
  key.append(model).push_back('\0');
  key.append(sequence_id);
  return key;
}

SequenceAffinity::Shard& SequenceAffinity::ShardOf(const std::string& key) {
  return shards_[absl::Hash<std::string>{}(key) % kShards];
}

absl::Status SequenceAffinity::Bind(const std::string& key, const EndpointPtr& endpoint,
                                    std::string version, int64_t now_ns) {
  Shard& shard = ShardOf(key);
  const size_t shard_max = std::max<size_t>(1, options_.entries_max / kShards);
  std::lock_guard lock(shard.mu);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end() && shard.entries.size() >= shard_max) {
    for (auto e = shard.entries.begin(); e != shard.entries.end();) {
      if (Idle(e->second, now_ns)) {
        shard.entries.erase(e++);
      } else {
        ++e;
      }
    }
    if (shard.entries.size() >= shard_max) {
      return absl::ResourceExhaustedError(
          fmt::format("the gateway tracks its limit of live sequences (streaming.sequences_max "
                      "{}); end sequences with sequence_end or let them idle out",
                      options_.entries_max));
    }
  }
  Entry& e = shard.entries[key];
  e.endpoint = endpoint;
  e.endpoint_name = endpoint->name();
  e.version = std::move(version);
  e.last_used_ns = now_ns;
  return absl::OkStatus();
}

std::optional<SequenceAffinity::Entry> SequenceAffinity::Find(const std::string& key,
                                                              int64_t now_ns) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return std::nullopt;
  if (Idle(it->second, now_ns)) {
    shard.entries.erase(it);
    return std::nullopt;
  }
  it->second.last_used_ns = now_ns;
  return it->second;
}

void SequenceAffinity::Erase(const std::string& key) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  shard.entries.erase(key);
}

size_t SequenceAffinity::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace inference::gateway

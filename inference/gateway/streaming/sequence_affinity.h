#pragma once
// SequenceAffinity: which worker holds the state of each live sequence that crosses the gateway,
// so every chunk of a sequence reaches the worker that saw its sequence_start, whichever client
// stream carries it.
//
// Keyed by model and sequence id. An entry is made on sequence_start, refreshed by every chunk,
// erased on sequence_end, and forgotten after `idle_ms` without a chunk (the worker frees the
// sequence's state after its own idle timeout). At most `entries_max` entries: a new sequence
// beyond that, after idle entries are swept, is refused (RESOURCE_EXHAUSTED). The endpoint is held
// weakly: a sequence whose worker was removed reports it, never a silent move to another worker.
//
// Thread safety: every method from any thread (16 shards, one mutex each).

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "inference/gateway/endpoints/endpoint_set.h"

namespace inference::gateway {

inline constexpr size_t kSequenceAffinityEntriesMaxDefault = 65536;
inline constexpr int64_t kSequenceAffinityIdleMsDefault = 60'000;

class SequenceAffinity {
 public:
  struct Options {
    size_t entries_max = kSequenceAffinityEntriesMaxDefault;
    int64_t idle_ms = kSequenceAffinityIdleMsDefault;
  };
  struct Entry {
    std::weak_ptr<Endpoint> endpoint;
    std::string endpoint_name;
    std::string version;  // the version chosen at sequence_start ("" when the worker picks)
    int64_t last_used_ns = 0;
  };

  explicit SequenceAffinity(Options options) : options_(options) {}

  // "model\0id": one key per sequence of one model.
  static std::string Key(std::string_view model, std::string_view sequence_id);

  // Binds (or rebinds, on a repeated sequence_start) the sequence to `endpoint`.
  absl::Status Bind(const std::string& key, const EndpointPtr& endpoint, std::string version,
                    int64_t now_ns);
  // The sequence's entry (refreshed), or nullopt when unknown or idle past idle_ms.
  std::optional<Entry> Find(const std::string& key, int64_t now_ns);
  void Erase(const std::string& key);
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    absl::flat_hash_map<std::string, Entry> entries;
  };
  Shard& ShardOf(const std::string& key);
  bool Idle(const Entry& e, int64_t now_ns) const {
    return now_ns - e.last_used_ns > options_.idle_ms * 1'000'000;
  }

  const Options options_;
  std::array<Shard, kShards> shards_;
};

}  // namespace inference::gateway

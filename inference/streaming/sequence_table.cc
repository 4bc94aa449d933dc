#include "inference/streaming/sequence_table.h"

#include <algorithm>
#include <utility>

#include "core/log/check.h"
#include "fmt/format.h"

namespace inference {

SequenceTable::SequenceTable(core::Clock* clock)
    : clock_(clock != nullptr ? clock : core::Clock::Real()) {}

absl::StatusOr<std::shared_ptr<SequenceSlot>> SequenceTable::Acquire(const std::string& id,
                                                                     bool start,
                                                                     const SequenceLimits& limits,
                                                                     size_t state_bytes,
                                                                     std::shared_ptr<void> pin) {
  const int64_t now_ns = clock_->NowNs();
  // Pins (model version leases) are released outside the lock.
  std::vector<std::shared_ptr<SequenceSlot>> freed;
  std::lock_guard lock(mu_);
  const int64_t idle_timeout_ns = limits.idle_timeout_ms * 1'000'000;
  if (now_ns - last_sweep_ns_ >= idle_timeout_ns / 4) SweepLocked(now_ns);
  auto it = entries_.find(id);
  if (it != entries_.end() && !it->second.busy &&
      now_ns - it->second.last_used_ns > it->second.idle_timeout_ns) {
    freed.push_back(std::move(it->second.slot));
    entries_.erase(it);
    it = entries_.end();
    if (!start) {
      return absl::InvalidArgumentError(fmt::format(
          "sequence_id {}: expired (idle for longer than sequence_batching.idle_timeout_ms); "
          "start it again with sequence_start",
          id));
    }
  }
  if (it != entries_.end() && it->second.busy) {
    return absl::FailedPreconditionError(fmt::format(
        "sequence_id {}: a chunk of this sequence is still in flight (send chunks of one sequence "
        "on one stream, in order)",
        id));
  }
  if (!start) {
    if (it == entries_.end()) {
      return absl::InvalidArgumentError(
          fmt::format("sequence_id {}: unknown sequence (never started with sequence_start, ended, "
                      "or expired); "
                      "the first chunk must set sequence_start",
                      id));
    }
    it->second.busy = true;
    return it->second.slot;
  }
  if (it != entries_.end()) {  // restart: fresh state, new pin
    freed.push_back(std::exchange(it->second.slot, std::make_shared<SequenceSlot>()));
  } else {
    if (entries_.size() >= limits.max_sequences) SweepLocked(now_ns);
    if (entries_.size() >= limits.max_sequences) {
      return absl::ResourceExhaustedError(fmt::format(
          "sequence_id {}: {} live sequences (sequence_batching.max_sequences); end one with "
          "sequence_end or let one idle out",
          id, limits.max_sequences));
    }
    it = entries_.emplace(id, Entry{}).first;
    it->second.slot = std::make_shared<SequenceSlot>();
  }
  Entry& e = it->second;
  e.slot->state.assign(state_bytes, 0);
  e.slot->pin = std::move(pin);
  e.idle_timeout_ns = idle_timeout_ns;
  e.last_used_ns = now_ns;
  e.busy = true;
  return e.slot;
}

void SequenceTable::Release(const std::string& id, bool end) {
  std::shared_ptr<SequenceSlot> freed;
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // Clear() ran while the chunk was in flight (shutdown)
  CORE_CHECK(it->second.busy);
  if (end) {
    freed = std::move(it->second.slot);
    entries_.erase(it);
    return;
  }
  it->second.busy = false;
  it->second.last_used_ns = clock_->NowNs();
}

size_t SequenceTable::SweepExpired() {
  std::lock_guard lock(mu_);
  return SweepLocked(clock_->NowNs());
}

size_t SequenceTable::SweepLocked(int64_t now_ns) {
  last_sweep_ns_ = now_ns;
  return std::erase_if(entries_, [now_ns](const auto& kv) {
    const Entry& e = kv.second;
    return !e.busy && now_ns - e.last_used_ns > e.idle_timeout_ns;
  });
}

void SequenceTable::Clear() {
  std::unordered_map<std::string, Entry> old;
  {
    std::lock_guard lock(mu_);
    old.swap(entries_);
  }
}

size_t SequenceTable::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace inference

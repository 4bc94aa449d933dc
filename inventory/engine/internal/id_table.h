#pragma once
// IdTable<Value>: a hash table from an id string to a Value, built for the engine's reservations
// (millions of entries, far beyond the CPU caches).
//
// Each (id, value) entry lives in a NodePool block and never moves, so callers may keep Entry*
// across inserts and erases of other ids (the engine's expiry heap and terminal FIFO do). The index
// is a flat table of {entry, hash} slots: growing it rehashes from the cached hashes without
// reading the entries. With absl::node_hash_map every growth step read each entry's key, one cache
// miss per reservation: a fifth of the batch path's CPU at 3M reservations (docs/benchmarks.md).
//
// Thread safety: none; one thread at a time.

#include <new>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "inventory/engine/internal/inline_id.h"
#include "inventory/engine/internal/node_pool.h"

namespace inventory::internal {

template <typename Value>
class IdTable {
 public:
  using Entry = std::pair<const InlineId, Value>;

  IdTable() = default;
  ~IdTable() {
    for (const Slot& s : slots_) Destroy(s.entry);
  }
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;

  size_t size() const { return slots_.size(); }

  // The entry of `id`, or null.
  Entry* find(std::string_view id) const {
    auto it = slots_.find(id);
    return it == slots_.end() ? nullptr : it->entry;
  }

  // Inserts (id, Value(args...)) unless `id` is present. Returns the entry of `id` and whether it
  // was inserted.
  template <typename... Args>
  std::pair<Entry*, bool> try_emplace(std::string_view id, Args&&... args) {
    const size_t hash = IdHash()(id);
    auto it = slots_.find(id, hash);
    if (it != slots_.end()) return {it->entry, false};
    Entry* entry = new (pool_.Allocate()) Entry(std::piecewise_construct, std::forward_as_tuple(id),
                                                std::forward_as_tuple(std::forward<Args>(args)...));
    slots_.insert(Slot{entry, hash});
    return {entry, true};
  }

  // Removes `id` (its Entry* becomes invalid); false when absent.
  bool erase(std::string_view id) {
    auto it = slots_.find(id);
    if (it == slots_.end()) return false;
    Entry* entry = it->entry;
    slots_.erase(it);
    Destroy(entry);
    return true;
  }

  // Starts fetching the slots `id` would be looked up in (a hint; see Engine::Prefetch).
  void prefetch(std::string_view id) const { slots_.prefetch(id); }

  // Calls f(const Entry&) for every entry, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) f(*s.entry);
  }

 private:
  struct Slot {
    Entry* entry;
    size_t hash;  // IdHash of entry->first
  };
  struct SlotHash {
    using is_transparent = void;
    size_t operator()(const Slot& s) const { return s.hash; }
    size_t operator()(std::string_view id) const { return IdHash()(id); }
  };
  struct SlotEq {
    using is_transparent = void;
    bool operator()(const Slot& a, const Slot& b) const { return a.entry == b.entry; }
    bool operator()(const Slot& a, std::string_view b) const { return a.entry->first.view() == b; }
    bool operator()(std::string_view a, const Slot& b) const { return b.entry->first.view() == a; }
  };

  void Destroy(Entry* entry) {
    entry->~Entry();
    pool_.Deallocate(entry);
  }

  NodePool pool_{sizeof(Entry)};  // declared first: outlives the slots
  absl::flat_hash_set<Slot, SlotHash, SlotEq> slots_;
};

}  // namespace inventory::internal

#include "inventory/engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/log/check.h"
#include "inventory/engine/wire.h"

namespace inventory {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr char kSnapshotMagic[8] = {'I', 'N', 'V', 'S', 'N', 'A', 'P', '1'};

inline uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}
inline uint64_t FnvU64(uint64_t h, uint64_t v) { return Fnv(h, &v, sizeof(v)); }
inline uint64_t FnvStr(uint64_t h, std::string_view s) {
  h = FnvU64(h, s.size());
  return Fnv(h, s.data(), s.size());
}
inline uint64_t Mix(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kAdjust:
      return "adjust";
    case OpKind::kReserve:
      return "reserve";
    case OpKind::kConfirm:
      return "confirm";
    case OpKind::kCancel:
      return "cancel";
    case OpKind::kGetSku:
      return "get_sku";
    case OpKind::kGetReservation:
      return "get_reservation";
  }
  return "unknown";
}

std::string_view ReservationStateName(ReservationState state) {
  switch (state) {
    case ReservationState::kPending:
      return "PENDING";
    case ReservationState::kConfirmed:
      return "CONFIRMED";
    case ReservationState::kCancelled:
      return "CANCELLED";
    case ReservationState::kExpired:
      return "EXPIRED";
  }
  return "UNKNOWN";
}

Engine::Engine(EngineLimits limits) : limits_(limits) {}

uint64_t Engine::RequestHash(const Operation& op) {
  uint64_t h = kFnvOffset;
  h = FnvU64(h, op.items.size());
  for (const Item& item : op.items) {
    h = FnvStr(h, item.sku);
    h = FnvU64(h, static_cast<uint64_t>(item.qty));
  }
  h = FnvU64(h, static_cast<uint64_t>(op.ttl_ms));
  return FnvStr(h, op.user_id);
}

void Engine::Apply(const Operation& op, int64_t now_ms, OpResult* r, ResultDetail detail) {
  AdvanceTime(now_ms);
  r->kind = op.kind;
  r->outcome = Outcome::kOk;
  r->mutated = false;
  r->message.clear();
  const bool full = detail == ResultDetail::kFull;
  switch (op.kind) {
    case OpKind::kAdjust:
      ApplyAdjust(op, full, r);
      break;
    case OpKind::kReserve:
      ApplyReserve(op, full, r);
      break;
    case OpKind::kConfirm:
      ApplyConfirm(op, full, r);
      break;
    case OpKind::kCancel:
      ApplyCancel(op, full, r);
      break;
    case OpKind::kGetSku:
      ApplyGetSku(op, full, r);
      break;
    case OpKind::kGetReservation:
      ApplyGetReservation(op, full, r);
      break;
  }
}

void Engine::Prefetch(const Operation& op) const {
  switch (op.kind) {
    case OpKind::kReserve:
    case OpKind::kConfirm:
    case OpKind::kCancel:
    case OpKind::kGetReservation:
      reservations_.prefetch(op.reservation_id);
      break;
    case OpKind::kAdjust:
    case OpKind::kGetSku:
      break;
  }
}

void Engine::FillSkuView(const Sku& sku, SkuView* v) const {
  v->sku = sku.name;
  v->available = sku.available;
  v->reserved = sku.reserved;
  v->sold = sku.sold;
  v->version = sku.version;
}

void Engine::FillReservationView(const ResEntry& e, ReservationView* v) const {
  v->reservation_id = e.first;
  v->state = e.second.state;
  v->expires_at_ms = e.second.expires_at_ms;
  v->user_id = e.second.user_id;
  v->items.clear();
  for (const ResItem& item : e.second.items) v->items.push_back({skus_[item.sku].name, item.qty});
}

void Engine::ApplyAdjust(const Operation& op, bool full, OpResult* r) {
  auto seen = adjust_ops_.find(op.op_id);
  auto it = sku_index_.find(op.sku);
  if (seen != adjust_ops_.end()) {
    if (it == sku_index_.end() || seen->second.sku != it->second ||
        seen->second.delta != op.delta) {
      r->outcome = Outcome::kOpConflict;
      r->message = "op_id was already used with a different sku or delta";
      return;
    }
    if (full) FillSkuView(skus_[it->second], &r->sku);
    return;
  }
  if (it == sku_index_.end()) {
    if (op.delta < 0) {
      r->outcome = Outcome::kSkuNotFound;
      r->sku.sku = op.sku;
      return;
    }
    if (skus_.size() >= limits_.skus_max) {
      r->outcome = Outcome::kTableFull;
      r->message = fmt::format("SKU table full ({} SKUs)", limits_.skus_max);
      return;
    }
    it = sku_index_.emplace(op.sku, static_cast<uint32_t>(skus_.size())).first;
    skus_.push_back(Sku{.name = op.sku});
  }
  Sku& sku = skus_[it->second];
  if (op.delta < 0 && sku.available < -op.delta) {
    r->outcome = Outcome::kInsufficientStock;
    FillSkuView(sku, &r->sku);
    return;
  }
  if (op.delta > 0 && sku.adjusted_total > kStockMax - op.delta) {
    r->outcome = Outcome::kStockLimit;
    r->message = fmt::format("total stock of a SKU is limited to {}", kStockMax);
    FillSkuView(sku, &r->sku);
    return;
  }
  sku.available += op.delta;
  sku.adjusted_total += op.delta;
  ++sku.version;
  if (op.delta > 0) {
    counters_.added += op.delta;
  } else {
    counters_.removed += -op.delta;
  }
  adjust_ops_.emplace(op.op_id, AdjustOp{it->second, op.delta});
  adjust_fifo_.push_back(op.op_id);
  while (adjust_fifo_.size() > limits_.adjust_ops_retained_max) {
    adjust_ops_.erase(adjust_fifo_.front());
    adjust_fifo_.pop_front();
  }
  r->mutated = true;
  if (full) FillSkuView(sku, &r->sku);
}

void Engine::ApplyReserve(const Operation& op, bool full, OpResult* r) {
  const uint64_t hash = RequestHash(op);
  const ResEntry* found = reservations_.find(op.reservation_id);
  if (found != nullptr) {
    const Reservation& res = found->second;
    if (res.tombstone) {
      r->outcome = Outcome::kReservationCancelled;
      r->message = "reservation was cancelled before it was made";
      FillReservationView(*found, &r->reservation);
      return;
    }
    if (res.request_hash != hash) {
      r->outcome = Outcome::kReservationConflict;
      r->message = "reservation_id was already used with a different request";
      return;
    }
    r->outcome = Outcome::kReplayed;
    if (full) {
      FillReservationView(*found, &r->reservation);
      r->reservation.state = ReservationState::kPending;  // the original reply, as contracted
    }
    return;
  }
  // Check every item before touching anything: all or none.
  absl::InlinedVector<ResItem, 1> items;
  for (const Item& item : op.items) {
    auto it = sku_index_.find(item.sku);
    if (it == sku_index_.end()) {
      r->outcome = Outcome::kSkuNotFound;
      r->sku.sku = item.sku;
      return;
    }
    const Sku& sku = skus_[it->second];
    if (sku.available < item.qty) {
      r->outcome = Outcome::kInsufficientStock;
      FillSkuView(sku, &r->sku);
      return;
    }
    items.push_back({it->second, item.qty});
  }
  if (!MakeRoomForReservation()) {
    r->outcome = Outcome::kTableFull;
    r->message = fmt::format("reservation table full ({} reservations)", limits_.reservations_max);
    return;
  }
  for (const ResItem& item : items) {
    Sku& sku = skus_[item.sku];
    sku.available -= item.qty;
    sku.reserved += item.qty;
    ++sku.version;
    counters_.reserved += item.qty;
  }
  auto [entry, inserted] = reservations_.try_emplace(op.reservation_id);
  CORE_CHECK(inserted);
  Reservation& res = entry->second;
  res.seq = next_seq_++;
  res.expires_at_ms = now_ms_ + op.ttl_ms;
  res.request_hash = hash;
  res.user_id = op.user_id;
  res.items = std::move(items);
  HeapPush(&*entry);
  r->outcome = Outcome::kCreated;
  r->mutated = true;
  if (full) FillReservationView(*entry, &r->reservation);
}

void Engine::ApplyConfirm(const Operation& op, bool full, OpResult* r) {
  ResEntry* found = reservations_.find(op.reservation_id);
  if (found == nullptr) {
    r->outcome = Outcome::kReservationNotFound;
    return;
  }
  Reservation& res = found->second;
  switch (res.state) {
    case ReservationState::kPending:
      for (const ResItem& item : res.items) {
        Sku& sku = skus_[item.sku];
        sku.reserved -= item.qty;
        sku.sold += item.qty;
        ++sku.version;
        counters_.sold += item.qty;
      }
      HeapRemove(&*found);
      MakeTerminal(&*found, ReservationState::kConfirmed);
      r->mutated = true;
      break;
    case ReservationState::kConfirmed:
      break;
    case ReservationState::kCancelled:
      r->outcome = Outcome::kReservationCancelled;
      break;
    case ReservationState::kExpired:
      r->outcome = Outcome::kReservationExpired;
      break;
  }
  if (full || r->outcome != Outcome::kOk) FillReservationView(*found, &r->reservation);
}

void Engine::ApplyCancel(const Operation& op, bool full, OpResult* r) {
  ResEntry* found = reservations_.find(op.reservation_id);
  if (found == nullptr) {
    // Cancel before try: remember the id so a late reserve is refused.
    if (!MakeRoomForReservation()) {
      r->outcome = Outcome::kTableFull;
      r->message =
          fmt::format("reservation table full ({} reservations)", limits_.reservations_max);
      return;
    }
    auto [entry, inserted] = reservations_.try_emplace(op.reservation_id);
    CORE_CHECK(inserted);
    entry->second.seq = next_seq_++;
    entry->second.tombstone = true;
    MakeTerminal(&*entry, ReservationState::kCancelled);
    r->mutated = true;
    if (full) FillReservationView(*entry, &r->reservation);
    return;
  }
  Reservation& res = found->second;
  switch (res.state) {
    case ReservationState::kPending:
      for (const ResItem& item : res.items) {
        Sku& sku = skus_[item.sku];
        sku.reserved -= item.qty;
        sku.available += item.qty;
        ++sku.version;
        counters_.released += item.qty;
      }
      HeapRemove(&*found);
      MakeTerminal(&*found, ReservationState::kCancelled);
      r->mutated = true;
      break;
    case ReservationState::kConfirmed:
      r->outcome = Outcome::kReservationConfirmed;
      r->message = "a confirmed reservation cannot be cancelled";
      break;
    case ReservationState::kCancelled:
    case ReservationState::kExpired:  // the stock is back already: the cancel's goal holds
      break;
  }
  if (full || r->outcome != Outcome::kOk) FillReservationView(*found, &r->reservation);
}

void Engine::ApplyGetSku(const Operation& op, bool full, OpResult* r) const {
  auto it = sku_index_.find(op.sku);
  if (it == sku_index_.end()) {
    r->outcome = Outcome::kSkuNotFound;
    r->sku.sku = op.sku;
    return;
  }
  if (full) FillSkuView(skus_[it->second], &r->sku);
}

void Engine::ApplyGetReservation(const Operation& op, bool full, OpResult* r) const {
  ResEntry* found = reservations_.find(op.reservation_id);
  if (found == nullptr) {
    r->outcome = Outcome::kReservationNotFound;
    return;
  }
  if (full) FillReservationView(*found, &r->reservation);
}

void Engine::MakeTerminal(ResEntry* e, ReservationState state) {
  e->second.state = state;
  e->second.terminal_at_ms = now_ms_;
  terminal_.push_back(e);
}

bool Engine::MakeRoomForReservation() {
  if (reservations_.size() < limits_.reservations_max) return true;
  if (terminal_.empty()) return false;
  reservations_.erase(terminal_.front()->first);
  terminal_.pop_front();
  return true;
}

void Engine::EvictExpiredTerminals() {
  while (!terminal_.empty() &&
         terminal_.front()->second.terminal_at_ms + limits_.terminal_retention_ms <= now_ms_) {
    reservations_.erase(terminal_.front()->first);
    terminal_.pop_front();
  }
}

size_t Engine::AdvanceTime(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  size_t expired = 0;
  while (!heap_.empty() && heap_.front()->second.expires_at_ms <= now_ms_) {
    ResEntry* e = heap_.front();
    for (const ResItem& item : e->second.items) {
      Sku& sku = skus_[item.sku];
      sku.reserved -= item.qty;
      sku.available += item.qty;
      ++sku.version;
      counters_.expired += item.qty;
    }
    HeapRemove(e);
    MakeTerminal(e, ReservationState::kExpired);
    // Logically it expired at its deadline, whenever the tick ran: keeps the state independent of
    // tick timing, so replaying the journal (which has no ticks) rebuilds exactly this state.
    e->second.terminal_at_ms = e->second.expires_at_ms;
    ++expired;
  }
  counters_.reservations_expired += expired;
  EvictExpiredTerminals();
  return expired;
}

std::optional<int64_t> Engine::next_deadline_ms() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front()->second.expires_at_ms;
}

// ---- indexed min-heap ----

bool Engine::HeapLess(const ResEntry* a, const ResEntry* b) {
  if (a->second.expires_at_ms != b->second.expires_at_ms) {
    return a->second.expires_at_ms < b->second.expires_at_ms;
  }
  return a->second.seq < b->second.seq;
}

void Engine::HeapSet(uint32_t i, ResEntry* e) {
  heap_[i] = e;
  e->second.heap_index = i;
}

void Engine::HeapPush(ResEntry* e) {
  heap_.push_back(e);
  HeapSet(static_cast<uint32_t>(heap_.size() - 1), e);
  HeapSiftUp(static_cast<uint32_t>(heap_.size() - 1));
}

void Engine::HeapRemove(ResEntry* e) {
  const uint32_t i = e->second.heap_index;
  CORE_CHECK(i < heap_.size() && heap_[i] == e);
  const uint32_t last = static_cast<uint32_t>(heap_.size() - 1);
  if (i != last) {
    HeapSet(i, heap_[last]);
    heap_.pop_back();
    HeapSiftDown(i);
    HeapSiftUp(i);
  } else {
    heap_.pop_back();
  }
  e->second.heap_index = kNotInHeap;
}

void Engine::HeapSiftUp(uint32_t i) {
  ResEntry* e = heap_[i];
  while (i > 0) {
    const uint32_t parent = (i - 1) / 2;
    if (!HeapLess(e, heap_[parent])) break;
    HeapSet(i, heap_[parent]);
    i = parent;
  }
  HeapSet(i, e);
}

void Engine::HeapSiftDown(uint32_t i) {
  const uint32_t n = static_cast<uint32_t>(heap_.size());
  ResEntry* e = heap_[i];
  while (true) {
    uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && HeapLess(heap_[child + 1], heap_[child])) ++child;
    if (!HeapLess(heap_[child], e)) break;
    HeapSet(i, heap_[child]);
    i = child;
  }
  HeapSet(i, e);
}

// ---- invariants ----

absl::Status Engine::CheckInvariants() const {
  std::vector<int64_t> pending_units(skus_.size(), 0);
  for (size_t i = 0; i < heap_.size(); ++i) {
    const ResEntry* e = heap_[i];
    if (e->second.state != ReservationState::kPending || e->second.heap_index != i) {
      return absl::InternalError(fmt::format("heap slot {} holds {} in state {}", i,
                                             e->first.view(),
                                             ReservationStateName(e->second.state)));
    }
    if (i > 0 && HeapLess(e, heap_[(i - 1) / 2])) {
      return absl::InternalError(fmt::format("heap order broken at slot {}", i));
    }
    for (const ResItem& item : e->second.items) {
      if (item.sku >= skus_.size() || item.qty <= 0) {
        return absl::InternalError(fmt::format("reservation {} has a bad item", e->first.view()));
      }
      pending_units[item.sku] += item.qty;
    }
  }
  // Every heap entry is PENDING (checked above); with the size check below every reservation is in
  // exactly one of the heap and the terminal FIFO. No scan of the whole table: the simulator calls
  // this after every step, so it stays O(SKUs + pending).
  const size_t pending_seen = heap_.size();
  if (pending_seen + terminal_.size() != reservations_.size()) {
    return absl::InternalError(fmt::format("{} pending + {} terminal != {} reservations",
                                           pending_seen, terminal_.size(), reservations_.size()));
  }
  if (reservations_.size() > limits_.reservations_max || skus_.size() > limits_.skus_max) {
    return absl::InternalError("a table exceeds its limit");
  }
  for (size_t i = 0; i < skus_.size(); ++i) {
    const Sku& s = skus_[i];
    if (s.available < 0 || s.reserved < 0 || s.sold < 0) {
      return absl::InternalError(
          fmt::format("sku {}: negative quantity (available {}, reserved {}, "
                      "sold {})",
                      s.name, s.available, s.reserved, s.sold));
    }
    if (s.available + s.reserved + s.sold != s.adjusted_total) {
      return absl::InternalError(
          fmt::format("sku {}: available {} + reserved {} + sold {} != adjustments {}", s.name,
                      s.available, s.reserved, s.sold, s.adjusted_total));
    }
    if (s.reserved != pending_units[i]) {
      return absl::InternalError(fmt::format("sku {}: reserved {} but pending reservations hold {}",
                                             s.name, s.reserved, pending_units[i]));
    }
    auto it = sku_index_.find(s.name);
    if (it == sku_index_.end() || it->second != i) {
      return absl::InternalError(fmt::format("sku {}: index broken", s.name));
    }
  }
  if (sku_index_.size() != skus_.size() || adjust_ops_.size() != adjust_fifo_.size()) {
    return absl::InternalError("index sizes disagree");
  }
  return absl::OkStatus();
}

// ---- snapshot ----

void Engine::SerializeReservation(const ResEntry& e, std::string* out) const {
  const Reservation& r = e.second;
  const size_t n = wire::StringBytes(e.first) + 4 * 8 + 2 + wire::StringBytes(r.user_id) + 4 +
                   r.items.size() * (4 + 8);
  char* p = wire::Extend(out, n);
  p = wire::StoreString(p, e.first);
  p = wire::StoreU64(p, r.seq);
  p = wire::StoreI64(p, r.expires_at_ms);
  p = wire::StoreI64(p, r.terminal_at_ms);
  p = wire::StoreU64(p, r.request_hash);
  p = wire::StoreU8(p, static_cast<uint8_t>(r.state));
  p = wire::StoreU8(p, r.tombstone ? 1 : 0);
  p = wire::StoreString(p, r.user_id);
  p = wire::StoreU32(p, static_cast<uint32_t>(r.items.size()));
  for (const ResItem& item : r.items) {
    p = wire::StoreU32(p, item.sku);
    p = wire::StoreI64(p, item.qty);
  }
}

template <typename Entries>
absl::Status Engine::SerializeReservations(const Entries& entries, std::string* chunk,
                                           size_t chunk_bytes, const SnapshotFlush& flush) const {
  const size_t n = entries.size();
  wire::PutU64(chunk, n);
  for (size_t i = 0; i < n; ++i) {
    // Pending reservations are in heap order, not address order: fetch the node (id included,
    // three cache lines) a few ahead while this one is encoded.
    if (i + 8 < n) {
      const char* next = reinterpret_cast<const char*>(entries[i + 8]);
      __builtin_prefetch(next);
      __builtin_prefetch(next + 64);
      __builtin_prefetch(next + 128);
    }
    SerializeReservation(*entries[i], chunk);
    if (chunk->size() >= chunk_bytes) {
      if (absl::Status s = flush(chunk); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void Engine::Serialize(std::string* out) const {
  Serialize(out, SIZE_MAX, [](std::string*) { return absl::OkStatus(); }).IgnoreError();
}

absl::Status Engine::Serialize(std::string* chunk, size_t chunk_bytes,
                               const SnapshotFlush& flush) const {
  auto flush_if_full = [&]() -> absl::Status {
    return chunk->size() >= chunk_bytes ? flush(chunk) : absl::OkStatus();
  };
  chunk->append(kSnapshotMagic, sizeof(kSnapshotMagic));
  wire::PutI64(chunk, now_ms_);
  wire::PutU64(chunk, next_seq_);
  wire::PutU64(chunk, skus_.size());
  for (const Sku& s : skus_) {
    wire::PutString(chunk, s.name);
    wire::PutI64(chunk, s.available);
    wire::PutI64(chunk, s.reserved);
    wire::PutI64(chunk, s.sold);
    wire::PutI64(chunk, s.adjusted_total);
    wire::PutU64(chunk, s.version);
    if (absl::Status st = flush_if_full(); !st.ok()) return st;
  }
  if (absl::Status st = SerializeReservations(heap_, chunk, chunk_bytes, flush); !st.ok()) {
    return st;
  }
  if (absl::Status st = SerializeReservations(terminal_, chunk, chunk_bytes, flush); !st.ok()) {
    return st;
  }
  wire::PutU64(chunk, adjust_fifo_.size());
  for (const std::string& op_id : adjust_fifo_) {
    const AdjustOp& a = adjust_ops_.at(op_id);
    wire::PutString(chunk, op_id);
    wire::PutU32(chunk, a.sku);
    wire::PutI64(chunk, a.delta);
    if (absl::Status st = flush_if_full(); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Restore(std::string_view data,
                                                        EngineLimits limits) {
  auto bad = [](std::string_view what) {
    return absl::DataLossError(fmt::format("snapshot: malformed {}", what));
  };
  if (data.size() < sizeof(kSnapshotMagic) ||
      data.substr(0, sizeof(kSnapshotMagic)) != std::string_view(kSnapshotMagic, 8)) {
    return bad("magic");
  }
  wire::WireReader in(data.substr(sizeof(kSnapshotMagic)));
  auto engine = std::unique_ptr<Engine>(new Engine(limits));
  Engine& e = *engine;
  uint64_t n = 0;
  if (!in.GetI64(&e.now_ms_) || !in.GetU64(&e.next_seq_) || !in.GetU64(&n)) return bad("header");
  if (n > limits.skus_max) return bad("sku count (above skus_max)");
  e.skus_.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    Sku s;
    if (!in.GetString(&s.name) || !in.GetI64(&s.available) || !in.GetI64(&s.reserved) ||
        !in.GetI64(&s.sold) || !in.GetI64(&s.adjusted_total) || !in.GetU64(&s.version)) {
      return bad("sku");
    }
    if (!e.sku_index_.emplace(s.name, static_cast<uint32_t>(i)).second) return bad("duplicate sku");
    e.skus_.push_back(std::move(s));
  }
  auto read_reservation = [&](bool pending) -> absl::Status {
    std::string id;
    Reservation r;
    uint8_t state = 0, tombstone = 0;
    uint32_t items = 0;
    if (!in.GetString(&id) || !in.GetU64(&r.seq) || !in.GetI64(&r.expires_at_ms) ||
        !in.GetI64(&r.terminal_at_ms) || !in.GetU64(&r.request_hash) || !in.GetU8(&state) ||
        !in.GetU8(&tombstone) || !in.GetString(&r.user_id) || !in.GetU32(&items)) {
      return bad("reservation");
    }
    if (state > 3 || (state == 0) != pending || items > kReservationItemsMax) {
      return bad("reservation state");
    }
    r.state = static_cast<ReservationState>(state);
    r.tombstone = tombstone != 0;
    for (uint32_t i = 0; i < items; ++i) {
      ResItem item;
      if (!in.GetU32(&item.sku) || !in.GetI64(&item.qty)) return bad("reservation item");
      if (item.sku >= e.skus_.size() || item.qty <= 0) return bad("reservation item");
      r.items.push_back(item);
    }
    if (e.reservations_.size() >= limits.reservations_max) return bad("reservation count");
    auto [entry, inserted] = e.reservations_.try_emplace(std::move(id), std::move(r));
    if (!inserted) return bad("duplicate reservation");
    if (pending) {
      e.HeapPush(&*entry);
    } else {
      e.terminal_.push_back(&*entry);
    }
    return absl::OkStatus();
  };
  if (!in.GetU64(&n)) return bad("pending count");
  for (uint64_t i = 0; i < n; ++i) {
    if (auto s = read_reservation(true); !s.ok()) return s;
  }
  if (!in.GetU64(&n)) return bad("terminal count");
  for (uint64_t i = 0; i < n; ++i) {
    if (auto s = read_reservation(false); !s.ok()) return s;
  }
  if (!in.GetU64(&n)) return bad("adjust count");
  for (uint64_t i = 0; i < n; ++i) {
    std::string op_id;
    AdjustOp a;
    if (!in.GetString(&op_id) || !in.GetU32(&a.sku) || !in.GetI64(&a.delta)) return bad("adjust");
    if (a.sku >= e.skus_.size()) return bad("adjust sku");
    if (!e.adjust_ops_.emplace(op_id, a).second) return bad("duplicate adjust op_id");
    e.adjust_fifo_.push_back(std::move(op_id));
  }
  if (!in.empty()) return bad("trailing bytes");
  if (auto s = e.CheckInvariants(); !s.ok()) {
    return absl::DataLossError(fmt::format("snapshot breaks an invariant: {}", s.ToString()));
  }
  return engine;
}

uint64_t Engine::Digest() const {
  uint64_t h = FnvU64(kFnvOffset, static_cast<uint64_t>(now_ms_));
  h = FnvU64(h, next_seq_);
  for (const Sku& s : skus_) {
    h = FnvStr(h, s.name);
    h = FnvU64(h, s.available);
    h = FnvU64(h, s.reserved);
    h = FnvU64(h, s.sold);
    h = FnvU64(h, s.adjusted_total);
    h = FnvU64(h, s.version);
  }
  uint64_t sum = 0;
  std::string buf;
  reservations_.ForEach([&](const ResEntry& entry) {
    buf.clear();
    SerializeReservation(entry, &buf);
    sum += Mix(Fnv(kFnvOffset, buf.data(), buf.size()));
  });
  h = FnvU64(h, sum);
  for (const ResEntry* e : terminal_) h = FnvStr(h, e->first);
  for (const std::string& op_id : adjust_fifo_) h = FnvStr(h, op_id);
  return h;
}

}  // namespace inventory

// What the inventory benchmark asks of every system: which SKUs exist with how much stock, which
// reservation request number `seq` makes, and how the result is checked for overselling.
// The same Workload drives stockd, Redis and PostgreSQL so their numbers are comparable.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace inventory_bench {

enum class WorkloadKind { kHot, kUniform };

struct Workload {
  WorkloadKind kind = WorkloadKind::kHot;
  uint64_t sku_count = 1;       // 1 for kHot
  int64_t stock_per_sku = 0;    // initial `available` of every SKU
  int64_t qty = 1;              // units per reservation (one item per reservation)
  int64_t ttl_ms = 600000;      // long enough that nothing expires during a run
  int batch = 1;                // reservations per request (stockd batch, Redis pipeline)
  std::string run_tag = "run";  // makes reservation ids unique across runs

  // Index of the SKU that reservation `op` (0-based, across the run) takes from. Uniform uses a
  // stateless hash so every connection and thread agrees without sharing a generator.
  uint64_t SkuIndex(uint64_t op) const {
    if (kind == WorkloadKind::kHot) return 0;
    uint64_t z = op + 0x9e3779b97f4a7c15ULL;  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (z ^ (z >> 31)) % sku_count;
  }
  // Fixed-width names so every system stores the same bytes (PostgreSQL seeds them in SQL).
  static std::string SkuName(uint64_t index) { return fmt::format("sku-{:06d}", index); }
  std::string Sku(uint64_t index) const {
    return kind == WorkloadKind::kHot ? std::string("hot-sku") : SkuName(index);
  }
  std::string ReservationId(uint64_t op) const { return fmt::format("{}-{}", run_tag, op); }
};

// Client-side record of acknowledged reservations, per SKU. Safe to update from any thread.
class AckLedger {
 public:
  explicit AckLedger(uint64_t sku_count)
      : size_(sku_count), units_(std::make_unique<std::atomic<int64_t>[]>(sku_count)) {}
  void Add(uint64_t sku, int64_t qty) { units_[sku].fetch_add(qty, std::memory_order_relaxed); }
  int64_t Get(uint64_t sku) const { return units_[sku].load(std::memory_order_relaxed); }
  uint64_t size() const { return size_; }

 private:
  uint64_t size_;
  std::unique_ptr<std::atomic<int64_t>[]> units_;
};

// Final state of one SKU as the system reports it.
struct SkuState {
  int64_t available = 0;
  int64_t reserved = 0;
};

// Accumulates the after-run check over SKUs.
struct Verification {
  uint64_t skus_checked = 0;
  // Units acknowledged to clients beyond what was deducted, plus any negative stock: units the
  // system promised that it does not hold back (0 for a correct system).
  int64_t oversold_units = 0;
  uint64_t skus_inconsistent = 0;  // available + reserved != initial
  int64_t acked_units = 0;

  void Check(int64_t initial, const SkuState& s, int64_t acked) {
    ++skus_checked;
    acked_units += acked;
    const int64_t deducted = initial - s.available;
    if (acked > deducted) oversold_units += acked - deducted;
    if (s.available < 0) oversold_units += -s.available;
    if (s.available + s.reserved != initial) ++skus_inconsistent;
  }
};

}  // namespace inventory_bench

#pragma once
// The inventory service's Prometheus metrics (issue 3), registered once on a core::Registry:
//
//   inventory_operation_duration_seconds{operation,outcome}  histogram, submit -> durable reply
//   inventory_quantity_change_total{direction}                counter, units moved (added, removed,
//                                                              reserved, sold, released, expired)
//   inventory_reservations_pending                            gauge
//   inventory_skus                                            gauge
//   inventory_journal_batch_size                              histogram, operations per fsync
//   inventory_journal_fsync_duration_seconds                  histogram
//   inventory_journal_torn_tails_total                        counter (recovery truncations)
//   inventory_journal_failures_total                          counter (write/fsync errors)
//   inventory_queue_rejected_total                            counter (queue full -> 429)
//
// No per-SKU label anywhere: SKUs are unbounded client data.
//
// Thread safety: ObserveOperation is called by the writer's sync threads one at a time: a round is
// answered only after the previous one, handed over through the writer's turn mutex, which also
// orders the calls (its child cache is unsynchronised on purpose); everything else is lock-free and
// callable from any thread.

#include <array>

#include "core/metrics/registry.h"
#include "inventory/engine/engine.h"
#include "inventory/engine/operation.h"

namespace inventory {

std::string_view OutcomeName(Outcome outcome);  // "ok", "created", "insufficient_stock", ...

class InventoryMetrics {
 public:
  explicit InventoryMetrics(core::Registry* registry);

  void ObserveOperation(OpKind kind, Outcome outcome, double seconds);
  // Adds the difference between `now` and the counters last seen.
  void UpdateQuantities(const QuantityCounters& now);

  core::Gauge& reservations_pending;
  core::Gauge& skus;
  core::Histogram& journal_batch_size;
  core::Histogram& journal_fsync_seconds;
  core::Counter& journal_torn_tails;
  core::Counter& journal_failures;
  core::Counter& queue_rejected;

 private:
  static constexpr size_t kKinds = 7;
  static constexpr size_t kOutcomes = 16;
  core::HistogramFamily& durations_;
  std::array<std::array<core::Histogram*, kOutcomes>, kKinds> children_{};
  core::CounterFamily& quantity_;
  std::array<core::Counter*, 6> directions_{};
  QuantityCounters last_;
};

}  // namespace inventory

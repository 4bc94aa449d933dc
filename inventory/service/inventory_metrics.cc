#include "inventory/service/inventory_metrics.h"

#include "core/log/check.h"

namespace inventory {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kCreated:
      return "created";
    case Outcome::kReplayed:
      return "replayed";
    case Outcome::kSkuNotFound:
      return "sku_not_found";
    case Outcome::kReservationNotFound:
      return "reservation_not_found";
    case Outcome::kInsufficientStock:
      return "insufficient_stock";
    case Outcome::kReservationConflict:
      return "reservation_conflict";
    case Outcome::kReservationExpired:
      return "reservation_expired";
    case Outcome::kReservationCancelled:
      return "reservation_cancelled";
    case Outcome::kReservationConfirmed:
      return "reservation_confirmed";
    case Outcome::kOpConflict:
      return "op_conflict";
    case Outcome::kStockLimit:
      return "stock_limit";
    case Outcome::kTableFull:
      return "resource_exhausted";
    case Outcome::kUnavailable:
      return "unavailable";
    case Outcome::kOverloaded:
      return "overloaded";
  }
  return "unknown";
}

InventoryMetrics::InventoryMetrics(core::Registry* r)
    : reservations_pending(
          r->AddGauge("inventory_reservations_pending", "PENDING reservations holding stock.")),
      skus(r->AddGauge("inventory_skus", "SKUs known to the engine.")),
      journal_batch_size(r->AddHistogram("inventory_journal_batch_size",
                                         "Operations made durable by one journal fsync.",
                                         core::ExponentialBuckets(1, 4, 10))),
      journal_fsync_seconds(r->AddHistogram("inventory_journal_fsync_duration_seconds",
                                            "Duration of one journal fdatasync.",
                                            core::ExponentialBuckets(0.00005, 2, 16))),
      journal_torn_tails(r->AddCounter("inventory_journal_torn_tails_total",
                                       "Torn or corrupt journal tails truncated at recovery.")),
      journal_failures(r->AddCounter("inventory_journal_failures_total",
                                     "Journal write or fsync failures (the service answers 503).")),
      queue_rejected(r->AddCounter("inventory_queue_rejected_total",
                                   "Requests refused because the writer queue was full.")),
      durations_(r->AddHistogram("inventory_operation_duration_seconds",
                                 "Operation latency from submission to durable reply.",
                                 {"operation", "outcome"},
                                 core::ExponentialBuckets(0.00005, 2, 18))),
      quantity_(r->AddCounter("inventory_quantity_change_total",
                              "Units of stock moved, by direction.", {"direction"})) {
  directions_ = {&quantity_.WithLabels({"added"}),    &quantity_.WithLabels({"removed"}),
                 &quantity_.WithLabels({"reserved"}), &quantity_.WithLabels({"sold"}),
                 &quantity_.WithLabels({"released"}), &quantity_.WithLabels({"expired"})};
}

void InventoryMetrics::ObserveOperation(OpKind kind, Outcome outcome, double seconds) {
  const size_t k = static_cast<size_t>(kind);
  const size_t o = static_cast<size_t>(outcome);
  CORE_CHECK(k < kKinds && o < kOutcomes);
  core::Histogram*& h = children_[k][o];
  if (h == nullptr) h = &durations_.WithLabels({OpKindName(kind), OutcomeName(outcome)});
  h->Observe(seconds);
}

void InventoryMetrics::UpdateQuantities(const QuantityCounters& now) {
  const uint64_t deltas[6] = {now.added - last_.added,       now.removed - last_.removed,
                              now.reserved - last_.reserved, now.sold - last_.sold,
                              now.released - last_.released, now.expired - last_.expired};
  for (size_t i = 0; i < 6; ++i) {
    if (deltas[i] > 0) directions_[i]->Inc(static_cast<double>(deltas[i]));
  }
  last_ = now;
}

}  // namespace inventory

#include "inference/gateway/qos/qos_admission.h"

#include <cmath>

#include "core/log/check.h"
#include "fmt/format.h"

namespace inference::gateway {

std::string_view QosName(QosLevel level) {
  switch (level) {
    case QosLevel::kGold:
      return "gold";
    case QosLevel::kSilver:
      return "silver";
    case QosLevel::kBronze:
      return "bronze";
  }
  return "silver";
}

absl::StatusOr<QosLevel> ParseQos(std::string_view text) {
  if (text.empty() || text == "silver") return QosLevel::kSilver;
  if (text == "gold") return QosLevel::kGold;
  if (text == "bronze") return QosLevel::kBronze;
  return absl::InvalidArgumentError(
      fmt::format("X-QoS-Level: expected gold, silver or bronze, got '{}'", text));
}

absl::Status QosAdmission::Validate(const Options& o) {
  if (o.inflight_per_endpoint_max < 1) {
    return absl::InvalidArgumentError("qos.inflight_per_endpoint_max: expected >= 1");
  }
  if (!(o.bronze_shed_at > 0 && o.bronze_shed_at <= o.silver_shed_at && o.silver_shed_at <= 1)) {
    return absl::InvalidArgumentError("qos: expected 0 < bronze_shed_at <= silver_shed_at <= 1");
  }
  if (o.retry_after_s < 1) return absl::InvalidArgumentError("qos.retry_after_s: expected >= 1");
  return absl::OkStatus();
}

QosAdmission::QosAdmission(Options options) : options_(options) {
  CORE_CHECK(Validate(options_).ok()) << "invalid QoS options";
}

absl::StatusOr<QosAdmission::Ticket> QosAdmission::Admit(QosLevel level, int ready_endpoints) {
  const int64_t before = inflight_.fetch_add(1, std::memory_order_relaxed);
  Ticket ticket(this);
  if (ready_endpoints <= 0) return ticket;
  const double capacity = static_cast<double>(ready_endpoints) *
                          static_cast<double>(options_.inflight_per_endpoint_max);
  double ceiling = 1.0;
  if (level == QosLevel::kBronze) ceiling = options_.bronze_shed_at;
  if (level == QosLevel::kSilver) ceiling = options_.silver_shed_at;
  // Slots available to this level: at least one, so a tiny cluster still serves every level.
  const int64_t slots = std::max<int64_t>(1, static_cast<int64_t>(std::floor(capacity * ceiling)));
  if (before < slots) return ticket;
  ticket.Release();
  shed_[static_cast<size_t>(level)].fetch_add(1, std::memory_order_relaxed);
  return absl::ResourceExhaustedError(
      fmt::format("cluster saturated: shedding {} requests", QosName(level)));
}

}  // namespace inference::gateway

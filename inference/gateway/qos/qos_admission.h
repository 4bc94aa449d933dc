#pragma once
// QosAdmission: load shedding by QoS level when the cluster is saturated.
//
// Levels (header X-QoS-Level, gRPC metadata x-qos-level): gold, silver (default), bronze. Each maps
// to a worker priority (KServe/Triton request parameter "priority": 1 highest) so the workers'
// batch queues serve gold first, and each has an admission ceiling as a share of the cluster's
// capacity:
//
//   load  = requests in flight through the gateway / capacity
//   capacity = ready endpoints * inflight_per_endpoint_max
//   bronze admitted while load < bronze_shed_at, silver while load < silver_shed_at, gold while
//   load < 1 (gold_shed_at); otherwise 503 with Retry-After.
//
// Because bronze stops at a lower ceiling than silver, and silver lower than gold, rising load
// sheds bronze first, then silver; the band between silver_shed_at and 1 is reserved for gold. A
// Ticket holds one slot; it must be released exactly once (RAII).
//
// Thread safety: every method may be called from any thread; admission is one atomic add.

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace inference::gateway {

enum class QosLevel : uint8_t { kGold = 0, kSilver = 1, kBronze = 2 };
inline constexpr size_t kQosLevels = 3;

std::string_view QosName(QosLevel level);
// "" -> silver; otherwise gold|silver|bronze (case-sensitive); InvalidArgument else.
absl::StatusOr<QosLevel> ParseQos(std::string_view text);
// Worker priority for the level (1 = highest), for the KServe "priority" parameter.
inline int WorkerPriority(QosLevel level) { return static_cast<int>(level) + 1; }

class QosAdmission {
 public:
  struct Options {
    int inflight_per_endpoint_max = 64;
    double bronze_shed_at = 0.6;
    double silver_shed_at = 0.85;
    int retry_after_s = 1;
  };
  // InvalidArgument unless 0 < bronze_shed_at <= silver_shed_at <= 1 and the rest positive.
  static absl::Status Validate(const Options& options);

  explicit QosAdmission(Options options);  // precondition: Validate(options).ok()

  class Ticket {
   public:
    Ticket() = default;
    explicit Ticket(QosAdmission* owner) : owner_(owner) {}
    Ticket(Ticket&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Ticket& operator=(Ticket&& o) noexcept {
      if (this != &o) {
        Release();
        owner_ = o.owner_;
        o.owner_ = nullptr;
      }
      return *this;
    }
    ~Ticket() { Release(); }
    void Release() {
      if (owner_ != nullptr) owner_->inflight_.fetch_sub(1, std::memory_order_relaxed);
      owner_ = nullptr;
    }

   private:
    QosAdmission* owner_ = nullptr;
  };

  // Admits (a Ticket) or sheds (ResourceExhausted "cluster saturated: shedding bronze"). With no
  // ready endpoint the capacity is 0 and the caller is expected to fail with 503 anyway; admission
  // then lets the request through so the caller can report the real reason.
  absl::StatusOr<Ticket> Admit(QosLevel level, int ready_endpoints);

  int64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }
  int64_t shed(QosLevel level) const { return shed_[static_cast<size_t>(level)].load(); }
  int retry_after_s() const { return options_.retry_after_s; }
  const Options& options() const { return options_; }

 private:
  const Options options_;
  std::atomic<int64_t> inflight_{0};
  std::array<std::atomic<int64_t>, kQosLevels> shed_{};
};

}  // namespace inference::gateway

#pragma once
// Submission: one client request on its way through the writer: one operation (REST, gRPC) or
// several applied in order (POST /v1/batch, gRPC Batch). The protocol layer subclasses it to know
// how to answer.
//
// Lifecycle: a network thread builds it and hands it to Writer::Submit; the writer thread fills
// `results` (see ResultMode) and `outcomes`; the writer's sync thread calls Complete() exactly
// once, after the journal records of the batch are durable (or with every outcome set to
// kUnavailable / kOverloaded when they could not be). Complete() may also run on the submitting
// thread when Submit refuses the submission.

#include <cstdint>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "inventory/engine/operation.h"

namespace inventory {

// Which results a submission reports (POST /v1/batch "results", gRPC BatchRequest.results).
enum class ResultMode : uint8_t {
  // results[i] is the result of ops[i], complete (views filled).
  kAll,
  // Only the failed operations (outcome not IsSuccess) are reported: results[j] is the complete
  // result of ops[failed_index[j]], in op order. Successes are applied and journalled exactly as
  // in kAll, but leave no result behind: the engine does not copy their views
  // (ResultDetail::kOutcomeOnly). When the whole submission fails (kUnavailable, kOverloaded) every
  // op is reported as failed.
  kFailures,
};

// `count` consecutive operations of one kind that ended with one outcome (for the metrics, in both
// result modes; a batch of reservations that all succeed is one entry).
struct OutcomeRun {
  OpKind kind = OpKind::kGetSku;
  Outcome outcome = Outcome::kOk;
  uint32_t count = 0;
};

class Submission {
 public:
  virtual ~Submission() = default;
  // Renders and sends the reply. Must not block (it runs on the sync thread between fsyncs).
  virtual void Complete() = 0;

  // Appends the outcome of the next operation to `outcomes`.
  void CountOutcome(OpKind kind, Outcome outcome) {
    if (!outcomes.empty() && outcomes.back().kind == kind && outcomes.back().outcome == outcome) {
      ++outcomes.back().count;
    } else {
      outcomes.push_back({kind, outcome, 1});
    }
  }

  ResultMode result_mode = ResultMode::kAll;
  absl::InlinedVector<Operation, 1> ops;
  absl::InlinedVector<OpResult, 1> results;
  std::vector<uint32_t> failed_index;  // kFailures: the op index of each entry of `results`
  absl::InlinedVector<OutcomeRun, 1> outcomes;
  int64_t start_ns = 0;  // monotonic, set by Submit (for the latency histogram)
};

}  // namespace inventory

#pragma once
// Submission: one client request on its way through the writer: one operation (REST, gRPC) or
// several applied in order (POST /v1/batch). The protocol layer subclasses it to know how to
// answer.
//
// Lifecycle: a network thread builds it and hands it to Writer::Submit; the writer thread fills
// `results` (one per op); the writer's sync thread calls Complete() exactly once, after the journal
// records of the batch are durable (or with every outcome set to kUnavailable / kOverloaded when
// they could not be). Complete() may also run on the submitting thread when Submit refuses the
// submission.

#include <cstdint>

#include "absl/container/inlined_vector.h"
#include "inventory/engine/operation.h"

namespace inventory {

class Submission {
 public:
  virtual ~Submission() = default;
  // Renders and sends the reply. Must not block (it runs on the sync thread between fsyncs).
  virtual void Complete() = 0;

  absl::InlinedVector<Operation, 1> ops;
  absl::InlinedVector<OpResult, 1> results;
  int64_t start_ns = 0;  // monotonic, set by Submit (for the latency histogram)
};

}  // namespace inventory

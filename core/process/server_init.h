#pragma once
// Process-wide settings every server binary applies first thing in main().

#include "absl/synchronization/mutex.h"

namespace core {

inline void InitServerProcess() {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex (which gRPC 1.51 uses for its own
  // locks) runs deadlock-cycle detection on every Lock; perf showed GraphCycles in the gateway's
  // streaming profile. Servers turn it off (tests keep the default).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace core

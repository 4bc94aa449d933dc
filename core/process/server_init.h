#pragma once
// Process-wide settings every server binary applies first thing in main():
//   if (int rc = core::InitServerProcess(); rc != 0) return rc;

#include "absl/synchronization/mutex.h"

#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
#include <liburing.h>

#include <cstdio>
#include <cstring>
#endif

namespace core {

// 0, or the exit code after printing to stderr why this process cannot run here.
[[nodiscard]] inline int InitServerProcess() {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex (which gRPC 1.51 uses for its own
  // locks) runs deadlock-cycle detection on every Lock; perf showed GraphCycles in the gateway's
  // streaming profile. Servers turn it off (tests keep the default).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#if defined(BOOST_ASIO_HAS_IO_URING) && defined(BOOST_ASIO_DISABLE_EPOLL)
  // An io_uring build (CMake's ASIO_IO_URING=AUTO, the default, or ON) runs every socket and
  // timer on io_uring. Where the kernel or a seccomp profile refuses io_uring, Asio would throw
  // from the first io_context (an abort with "io_uring_queue_init: Operation not permitted"); say
  // what to do instead. The probe ring has the size every io_context's ring has (Asio's
  // io_uring_service::ring_size), so a memory limit on rings (RLIMIT_MEMLOCK before Linux 5.12)
  // shows here too.
  constexpr unsigned kAsioRingEntries = 16384;  // io_uring_service::ring_size (private in Asio)
  io_uring ring;
  if (const int rc = io_uring_queue_init(kAsioRingEntries, &ring, 0); rc < 0) {
    std::fprintf(stderr,
                 "this build runs on io_uring (CMake ASIO_IO_URING) and the kernel refused it: %s. "
                 "Allow io_uring (sysctl kernel.io_uring_disabled=0; a seccomp profile that "
                 "permits io_uring_setup) or use a build configured with -DASIO_IO_URING=OFF.\n",
                 std::strerror(-rc));
    return 1;
  }
  io_uring_queue_exit(&ring);
#endif
  return 0;
}

}  // namespace core

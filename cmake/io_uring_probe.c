/* Configure-time probe (CMakeLists.txt, ASIO_IO_URING=AUTO): exits 0 when this kernel lets a
   process set up io_urings as the io_uring build uses them, otherwise prints why and exits 1.
   Asio gives every io_context a ring of 16384 entries (io_uring_service::ring_size), and a test
   process holds about 65 at once (64 client threads of the kill -9 test, each with its own
   io_context), so the probe sets up that many: where rings count against RLIMIT_MEMLOCK (Linux
   before 5.12) or a seccomp profile refuses io_uring_setup, the build stays on epoll. */
#include <liburing.h>
#include <stdio.h>
#include <string.h>

enum { kRings = 72, kEntries = 16384 };

int main(void) {
  static struct io_uring rings[kRings];
  int made = 0;
  int rc = 0;
  for (; made < kRings; ++made) {
    rc = io_uring_queue_init(kEntries, &rings[made], 0);
    if (rc < 0) break;
  }
  for (int i = 0; i < made; ++i) io_uring_queue_exit(&rings[i]);
  if (rc < 0) {
    printf("io_uring_queue_init (ring %d of %d, %d entries): %s", made + 1, kRings, kEntries,
           strerror(-rc));
    return 1;
  }
  return 0;
}

/* Configure-time probe (CMakeLists.txt, ASIO_IO_URING=AUTO): exits 0 when this kernel lets a
   process set up an io_uring, otherwise prints why and exits 1. */
#include <liburing.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  struct io_uring ring;
  int rc = io_uring_queue_init(1, &ring, 0);
  if (rc < 0) {
    printf("io_uring_queue_init: %s", strerror(-rc));
    return 1;
  }
  io_uring_queue_exit(&ring);
  return 0;
}

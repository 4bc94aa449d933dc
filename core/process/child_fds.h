#pragma once
// For a child between fork() and exec(): close every descriptor the parent had open from `first`
// up. Asio opens sockets without SOCK_CLOEXEC, so without this a spawned process inherits the
// parent's listening sockets and connections: a connection the parent closes then stays open in
// the child (the peer never sees end-of-file), and a child keeps the parent's ports bound.
// Async-signal-safe (close_range, or close() over the descriptor table where that is missing).

#include <unistd.h>

namespace core {

inline void CloseDescriptorsFrom(int first) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (open_max > 0 ? open_max : 65536); ++fd) ::close(static_cast<int>(fd));
}

}  // namespace core

#include "core/testing/process.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <string>

namespace core::testing {
namespace {

// A child sees only stdin, stdout and stderr of the parent's descriptors (Asio and most code here
// open sockets without SOCK_CLOEXEC; see core/process/child_fds.h).
TEST(ChildProcessTest, InheritsNoDescriptorBeyondTheStandardThree) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);  // deliberately not CLOEXEC
  TempDir dir;
  const std::string log = dir.File("fds.log");
  // `ls` lists the descriptors the shell it runs in has, plus the one it opens for the directory.
  auto child = ChildProcess::Start({"/bin/sh", "-c", "ls /proc/$$/fd"}, {.log_path = log});
  ASSERT_TRUE(child.ok()) << child.status();
  auto code = (*child)->Wait(10'000);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  std::stringstream listed(ReadFile(log));
  std::string fd;
  while (listed >> fd) {
    EXPECT_TRUE(fd == "0" || fd == "1" || fd == "2") << "the child holds descriptor " << fd;
  }
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace core::testing

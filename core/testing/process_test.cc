#include "core/testing/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <fstream>
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

// The state follows the last ')' of the stat line, since a name may hold spaces and parentheses.
TEST(ReadTaskStateTest, ParsesNamesWithParenthesesAndRefusesGarbage) {
  TempDir dir;
  std::ofstream(dir.File("stat")) << "123 (a (b) c) S 1 2 3";
  const TaskState t = ReadTaskState(dir.File("stat"));
  EXPECT_EQ(t.state, 'S');
  EXPECT_EQ(t.name, "a (b) c");
  std::ofstream(dir.File("bad")) << "123 (cut";
  EXPECT_EQ(ReadTaskState(dir.File("bad")).state, '?');
  EXPECT_EQ(ReadTaskState(dir.File("missing")).state, '?');
}

// StopProcess returns once the process is stopped, not merely signalled; a process that does not
// exist is an error.
TEST(StopProcessTest, ReturnsOnceTheProcessIsStopped) {
  auto child = ChildProcess::Start({"/bin/sleep", "30"});
  ASSERT_TRUE(child.ok()) << child.status();
  const pid_t pid = (*child)->pid();
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  ASSERT_TRUE(StopProcess(pid).ok());
  EXPECT_EQ(ReadTaskState(stat).state, 'T');
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE((*child)->Running());
  (*child)->Signal(SIGKILL);
  ASSERT_TRUE((*child)->Wait(10'000).ok());
  EXPECT_FALSE(StopProcess(pid, 100).ok());  // reaped: no such process
}

}  // namespace
}  // namespace core::testing

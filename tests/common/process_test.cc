#include "common/process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace baton {
namespace {

using std::chrono::milliseconds;

TEST(ChildProcess, RunsAndReportsExitStatus) {
  auto child = ChildProcess::Spawn({.argv = {"sh", "-c", "exit 3"}});
  ASSERT_TRUE(child.ok()) << child.status();
  auto status = (*child)->Wait(milliseconds(10000));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(DescribeWaitStatus(*status), "exit 3");
}

TEST(ChildProcess, MissingProgramIsAnError) {
  auto child = ChildProcess::Spawn({.argv = {"/nonexistent/baton-binary"}});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("/nonexistent/baton-binary"), std::string::npos);
}

TEST(ChildProcess, EnvAndOutputRedirection) {
  char path[] = "/tmp/baton-proc-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto child = ChildProcess::Spawn({.argv = {"sh", "-c", "echo value=$BATON_TEST_VALUE"},
                                    .env = {{"BATON_TEST_VALUE", "42"}},
                                    .output_path = path});
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->Wait(milliseconds(10000)).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "value=42\n");
  ::unlink(path);
}

TEST(ChildProcess, StopEscalatesAndStoppedChildCanBeKilled) {
  auto child = ChildProcess::Spawn({.argv = {"sleep", "300"}});
  ASSERT_TRUE(child.ok()) << child.status();
  pid_t pid = (*child)->pid();
  EXPECT_TRUE(ProcessAlive(pid));
  ASSERT_TRUE((*child)->Signal(SIGSTOP).ok());
  EXPECT_FALSE((*child)->Wait(milliseconds(50)).ok());
  ASSERT_TRUE((*child)->Stop(milliseconds(2000)).ok());
  EXPECT_TRUE((*child)->Exited());
  EXPECT_TRUE((*child)->Stop().ok());  // twice is fine
}

TEST(ChildProcess, DestructorKillsTheChild) {
  pid_t pid;
  {
    auto child = ChildProcess::Spawn({.argv = {"sleep", "300"}});
    ASSERT_TRUE(child.ok());
    pid = (*child)->pid();
  }
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST(PidFile, RoundTripAndErrors) {
  char dir[] = "/tmp/baton-pid-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/gateway.pid";
  EXPECT_EQ(ReadPidFile(path).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(WritePidFile(path).ok());
  auto pid = ReadPidFile(path);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(*pid, ::getpid());
  EXPECT_TRUE(ProcessAlive(*pid));
  std::ofstream(path) << "not-a-pid\n";
  EXPECT_EQ(ReadPidFile(path).status().code(), StatusCode::kInvalidArgument);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace baton

// The systemd side of the daemons, in one process (common/daemon.h): the
// Watchdog pings WATCHDOG=1 only while the daemon is healthy and sends each
// new STATUS= line once; nothing runs without systemd. A gateway whose
// committer is stuck in an fsync is not alive (CheckAlive blocks), so under
// the Watchdog it stops pinging, and pings again once the disk answers; a
// poisoned log is unhealthy for good.
//
// The test owns the notify socket, as systemd would: NOTIFY_SOCKET and
// WATCHDOG_USEC point the code at it.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/daemon.h"
#include "common/mutex.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;

// A unix datagram socket in a temp dir that records every sd_notify message
// sent to it, one entry per line (WATCHDOG=1, STATUS=...). While it exists,
// NOTIFY_SOCKET names it and WATCHDOG_USEC is `watchdog_usec`.
class NotifySocket {
 public:
  explicit NotifySocket(int watchdog_usec) {
    path_ = dir_.Join("notify.sock");
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path_;
    timeval tv{0, 50'000};  // lets the reader see `stop_`
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    ::setenv("WATCHDOG_USEC", std::to_string(watchdog_usec).c_str(), 1);
    ::unsetenv("WATCHDOG_PID");
    reader_ = std::thread([this] { Read(); });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
  }

  std::vector<std::string> lines() const {
    MutexLock lock(&mu_);
    return lines_;
  }
  int Count(const std::string& line) const {
    MutexLock lock(&mu_);
    return static_cast<int>(std::count(lines_.begin(), lines_.end(), line));
  }
  // Index of the first line equal to `line` at or after `from`, or -1.
  int Find(const std::string& line, size_t from = 0) const {
    MutexLock lock(&mu_);
    for (size_t i = from; i < lines_.size(); ++i) {
      if (lines_[i] == line) return static_cast<int>(i);
    }
    return -1;
  }
  bool WaitForLine(const std::string& line, size_t from = 0, milliseconds timeout = milliseconds(10000)) const {
    return WaitFor([&] { return Find(line, from) >= 0; }, timeout);
  }
  bool WaitForPings(int n, milliseconds timeout = milliseconds(10000)) const {
    return WaitFor([&] { return Count("WATCHDOG=1") >= n; }, timeout);
  }
  std::string Dump() const {
    std::string out;
    for (const std::string& line : lines()) out += "  " + line + "\n";
    return out;
  }

 private:
  void Read() {
    char buf[4096];
    while (!stop_) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      std::string message(buf, static_cast<size_t>(n));
      MutexLock lock(&mu_);
      size_t start = 0;
      while (start < message.size()) {
        size_t end = message.find('\n', start);
        if (end == std::string::npos) end = message.size();
        if (end > start) lines_.push_back(message.substr(start, end - start));
        start = end + 1;
      }
    }
  }

  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  std::vector<std::string> lines_ GUARDED_BY(mu_);
  std::thread reader_;
};

constexpr int kWatchdogUsec = 200'000;  // pings every 100 ms

TEST(Watchdog, PingsOnlyWhileHealthyAndSendsEachNewStatusOnce) {
  NotifySocket notify(kWatchdogUsec);
  std::atomic<bool> healthy{true};
  Mutex mu;
  std::string status = "serving";
  const auto set_status = [&](std::string s) {
    MutexLock lock(&mu);
    status = std::move(s);
  };
  Watchdog watchdog({.healthy = [&] { return healthy.load(); },
                     .status =
                         [&] {
                           MutexLock lock(&mu);
                           return status;
                         }},
                    "serving");
  ASSERT_TRUE(notify.WaitForPings(3)) << notify.Dump();
  EXPECT_EQ(notify.Find("STATUS=serving"), -1) << "the line sent with READY=1 is sent again:\n" << notify.Dump();

  // Unhealthy: each later turn of the loop is marked by a new status line,
  // so "no ping in between" needs no timing assumption.
  healthy = false;
  ASSERT_TRUE(notify.WaitForLine("STATUS=unhealthy: serving")) << notify.Dump();
  const int first_unhealthy = notify.Find("STATUS=unhealthy: serving");
  set_status("turn 2");
  ASSERT_TRUE(notify.WaitForLine("STATUS=unhealthy: turn 2")) << notify.Dump();
  set_status("turn 3");
  ASSERT_TRUE(notify.WaitForLine("STATUS=unhealthy: turn 3")) << notify.Dump();
  const int last_unhealthy = notify.Find("STATUS=unhealthy: turn 3");
  const std::vector<std::string> lines = notify.lines();
  for (int i = first_unhealthy; i <= last_unhealthy; ++i) {
    EXPECT_NE(lines[static_cast<size_t>(i)], "WATCHDOG=1") << "pinged while unhealthy:\n" << notify.Dump();
  }

  healthy = true;
  ASSERT_TRUE(notify.WaitForLine("STATUS=turn 3", static_cast<size_t>(last_unhealthy))) << notify.Dump();
  const int pings = notify.Count("WATCHDOG=1");
  EXPECT_TRUE(notify.WaitForPings(pings + 2)) << "no pings once healthy again:\n" << notify.Dump();
  EXPECT_EQ(notify.Count("STATUS=turn 3"), 1) << "an unchanged status is sent again:\n" << notify.Dump();
}

TEST(Watchdog, DoesNothingWithoutSystemd) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  std::atomic<int> checks{0};
  {
    Watchdog watchdog({.healthy = [&] {
      ++checks;
      return true;
    }});
  }
  // A loop thread would have checked at least once before it saw the stop.
  EXPECT_EQ(checks.load(), 0);
}

}  // namespace
}  // namespace baton::testing

namespace baton::gateway::testing {
namespace {

using ::baton::testing::NotifySocket;
using std::chrono::milliseconds;

class GatewayWatchdog : public GatewayFixture {};

TEST_F(GatewayWatchdog, StuckFsyncStopsThePingsUntilTheDiskAnswers) {
  // The environment is set before the gateway's threads exist.
  NotifySocket notify(::baton::testing::kWatchdogUsec);
  StartGateway({}, &fault_fs_);
  ASSERT_OK(server_->CheckAlive());
  Watchdog watchdog({.healthy = [&] { return server_->CheckAlive().ok(); }});
  ASSERT_TRUE(notify.WaitForPings(2)) << notify.Dump();

  // A write whose fsync does not return: the committer is stuck in it.
  fault_fs_.CloseSyncGate();
  auto write = std::async(std::launch::async, [&] { return Write("a", {Op::kInsert, kV1}); });
  ASSERT_TRUE(fault_fs_.WaitForBlockedSyncs(1, milliseconds(10000)));
  auto check = std::async(std::launch::async, [&] { return server_->CheckAlive(); });
  EXPECT_EQ(check.wait_for(milliseconds(300)), std::future_status::timeout)
      << "CheckAlive() returned while the committer is stuck in an fsync";
  // At most one ping from a check that passed before the gate closed; then
  // none for several intervals (here 10).
  const int pings = notify.Count("WATCHDOG=1");
  EXPECT_FALSE(notify.WaitForPings(pings + 2, milliseconds(1000)))
      << "still pinging while the committer is stuck:\n" << notify.Dump();

  fault_fs_.OpenSyncGate();
  EXPECT_TRUE(write.get().status.ok());
  EXPECT_OK_STATUS(check.get());
  const int resumed_from = notify.Count("WATCHDOG=1");
  EXPECT_TRUE(notify.WaitForPings(resumed_from + 2)) << "no pings once the disk answers:\n" << notify.Dump();
}

TEST_F(GatewayWatchdog, PoisonedLogIsNotAlive) {
  StartGateway({}, &fault_fs_);
  fault_fs_.FailSyncs(Status::Internal("injected fsync failure"));
  EXPECT_FALSE(Write("a", {Op::kInsert, kV1}).status.ok());
  fault_fs_.ClearSyncFailure();
  // A failed fsync poisons the log until a restart re-reads the disk.
  const Status alive = server_->CheckAlive();
  EXPECT_FALSE(alive.ok());
  EXPECT_NE(alive.ToString().find("injected fsync failure"), std::string::npos) << alive.ToString();
}

}  // namespace
}  // namespace baton::gateway::testing

#include "instance-agent/process_watch.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/process.h"

namespace baton::agent {

const char* LivenessName(Liveness liveness) {
  switch (liveness) {
    case Liveness::kUnknown: return "unknown";
    case Liveness::kAlive: return "alive";
    case Liveness::kGone: return "gone";
  }
  return "?";
}

Liveness PidLiveness(pid_t pid) {
  if (pid <= 0) return Liveness::kUnknown;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return Liveness::kGone;
  // A SIGKILLed process stays a zombie until its parent reaps it; it holds no
  // sockets and acknowledges nothing, so it is gone for the arbiter.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << stat.rdbuf();
  const std::string line = text.str();
  if (line.empty()) return stat.is_open() ? Liveness::kAlive : Liveness::kGone;
  // "pid (comm) S ...": comm may hold spaces and parentheses, the last ')' ends it.
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return Liveness::kAlive;
  const char state = line[close + 2];
  return state == 'Z' || state == 'X' ? Liveness::kGone : Liveness::kAlive;
}

PidFileWatch::PidFileWatch(std::string pid_file) : pid_file_(std::move(pid_file)) {}

PidFileWatch::~PidFileWatch() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

void PidFileWatch::Watch(pid_t pid) {
  if (pid == pid_) return;
  if (pidfd_ >= 0) ::close(pidfd_);
  pid_ = pid;
  // Without pidfd support (old kernel, seccomp) WaitForExit() reports that it
  // cannot wait and the probe falls back to its interval.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

Liveness PidFileWatch::Check() {
  auto pid = ReadPidFile(pid_file_);
  if (!pid.ok()) return Liveness::kUnknown;
  Watch(*pid);
  return PidLiveness(*pid);
}

bool PidFileWatch::WaitForExit(Duration max) {
  if (pidfd_ < 0) return false;
  pollfd pfd{pidfd_, POLLIN, 0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(max).count();
  const int rc = ::poll(&pfd, 1, static_cast<int>(ms));
  if (rc > 0) {
    // Exited (or the fd broke): nothing more to wait for on this pid, and a
    // readable pidfd would otherwise turn the probe loop into a busy loop.
    ::close(pidfd_);
    pidfd_ = -1;
    return (pfd.revents & POLLIN) != 0;
  }
  return rc == 0 || errno == EINTR;
}

}  // namespace baton::agent

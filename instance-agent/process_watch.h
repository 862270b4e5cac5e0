// Liveness of the gateway process, from its pid file: the agent's fast path
// for "the gateway is gone" (docs/arbiter.md, Decisions). Only a process
// that has exited counts as gone; one that is stopped (SIGSTOP) or busy is
// alive, so the arbiter waits for its lease instead of promoting at once.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/clock.h"

namespace baton::agent {

enum class Liveness {
  kUnknown,  // no pid file (not started yet, or removed): no evidence either way
  kAlive,
  kGone,     // exited; a zombie not yet reaped by its parent counts as exited
};

const char* LivenessName(Liveness liveness);

// Confined to the probe thread.
class ProcessWatch {
 public:
  virtual ~ProcessWatch() = default;
  virtual Liveness Check() = 0;
  // Blocks up to `max`, returning early when the watched process exits.
  // Returns false at once when it cannot watch (no process known, or no
  // pidfd support); the caller then waits by other means.
  virtual bool WaitForExit(Duration max) = 0;
};

// Reads `pid_file` on every Check() (a restarted gateway writes a new pid)
// and holds a pidfd (pidfd_open) for the current pid so that WaitForExit()
// wakes the moment the process exits.
class PidFileWatch : public ProcessWatch {
 public:
  explicit PidFileWatch(std::string pid_file);
  ~PidFileWatch() override;
  PidFileWatch(const PidFileWatch&) = delete;
  PidFileWatch& operator=(const PidFileWatch&) = delete;

  Liveness Check() override;
  bool WaitForExit(Duration max) override;

 private:
  void Watch(pid_t pid);

  const std::string pid_file_;
  pid_t pid_ = 0;
  int pidfd_ = -1;
};

// kGone if `pid` does not exist (kill(pid, 0) == ESRCH) or is a zombie or
// dead (/proc/<pid>/stat state Z or X); kAlive otherwise.
Liveness PidLiveness(pid_t pid);

}  // namespace baton::agent

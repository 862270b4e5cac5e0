// Child processes and pid files: the agent watches its gateway's pid, and
// tests run real binaries (gateways, ZooKeeper) as children.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace baton {

struct ChildOptions {
  std::vector<std::string> argv;             // argv[0] is the program (PATH is searched)
  std::map<std::string, std::string> env;    // added to (or overriding) the parent's environment
  std::string output_path;                   // stdout+stderr appended here; empty = inherit
  std::string working_dir;                   // empty = inherit
  // Kill the child when the parent dies (PR_SET_PDEATHSIG), so a crashed test
  // leaves nothing running.
  bool die_with_parent = true;
};

// A running child in its own process group. Thread-compatible. The destructor
// kills the group with SIGKILL and reaps it, so no test leaks processes; only
// the pid this object started is ever signalled.
class ChildProcess {
 public:
  static Result<std::unique_ptr<ChildProcess>> Spawn(const ChildOptions& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` to the child's process group (SIGSTOP/SIGCONT included).
  Status Signal(int signal);
  // Waits up to `timeout` for exit. Returns the wait status (as waitpid), or
  // DEADLINE_EXCEEDED.
  Result<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; reaps. Safe to call twice.
  Status Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  bool Exited();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_status_;
};

// True while a process with this pid exists (kill(pid, 0)); a zombie counts
// as gone when it is our own reaped child.
bool ProcessAlive(pid_t pid);

// Writes the calling process's pid to `path` atomically (temp + rename).
Status WritePidFile(const std::string& path);
// Reads a pid file; NOT_FOUND when absent, INVALID_ARGUMENT when malformed.
Result<pid_t> ReadPidFile(const std::string& path);

// Describes a waitpid status: "exit 0", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int status);

}  // namespace baton

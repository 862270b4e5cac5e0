#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

extern char** environ;

namespace baton {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const ChildOptions& options) {
  if (options.argv.empty()) return Status::InvalidArgument("spawn: argv is empty");
  // Everything the child needs is built before fork: between fork and exec
  // only async-signal-safe calls are allowed in a threaded parent.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (options.env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out_fd = -1;
  if (!options.output_path.empty()) {
    out_fd = ::open(options.output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0) return Status::Internal("spawn: cannot open " + options.output_path + ": " + ErrnoText(errno));
  }
  // A pipe that closes on exec tells the parent whether exec succeeded.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return Status::Internal("spawn: pipe: " + ErrnoText(errno));
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    if (out_fd >= 0) ::close(out_fd);
    return Status::Internal("spawn " + options.argv[0] + ": fork: " + ErrnoText(err));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    if (out_fd >= 0) {
      ::dup2(out_fd, STDOUT_FILENO);
      ::dup2(out_fd, STDERR_FILENO);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) {
      int err = errno;
      (void)!::write(exec_pipe[1], &err, sizeof(err));
      ::_exit(127);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    (void)!::write(exec_pipe[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(exec_pipe[1]);
  if (out_fd >= 0) ::close(out_fd);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n == sizeof(child_errno)) {
    ::waitpid(pid, nullptr, 0);
    return Status::InvalidArgument("spawn " + options.argv[0] + ": " + ErrnoText(child_errno));
  }
  // Also set the group from the parent: no race with the first Signal().
  ::setpgid(pid, pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (!exit_status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

Status ChildProcess::Signal(int signal) {
  if (exit_status_) return Status::FailedPrecondition("process " + std::to_string(pid_) + " has exited");
  if (::kill(-pid_, signal) != 0 && ::kill(pid_, signal) != 0) {
    return Status::Internal("kill " + std::to_string(pid_) + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

bool ChildProcess::Exited() {
  if (exit_status_) return true;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) exit_status_ = status;
  return exit_status_.has_value();
}

Result<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto poll = std::chrono::milliseconds(1);
  while (!Exited()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("process " + std::to_string(pid_) + " still running after " +
                                      std::to_string(timeout.count()) + " ms");
    }
    // waitpid has no timeout; poll with a short, growing interval.
    std::this_thread::sleep_for(poll);
    poll = std::min(poll * 2, std::chrono::milliseconds(50));
  }
  return *exit_status_;
}

Status ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (Exited()) return Status::Ok();
  ::kill(-pid_, SIGCONT);  // a stopped process cannot act on SIGTERM
  ::kill(-pid_, SIGTERM);
  if (Wait(grace).ok()) return Status::Ok();
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  auto r = Wait(std::chrono::seconds(10));
  return r.ok() ? Status::Ok() : r.status();
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) == 0) {
    // Our own exited-but-unreaped child is a zombie: report it gone.
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    return r == 0 || (r < 0 && errno == ECHILD);
  }
  return errno == EPERM;
}

Status WritePidFile(const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.good()) return Status::Internal("cannot write pid file " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Internal("cannot rename " + tmp + " to " + path + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

Result<pid_t> ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open()) return Status::NotFound("pid file " + path + " does not exist");
  long long pid = 0;
  if (!(in >> pid) || pid <= 0 || pid > 4'194'304) {
    return Status::InvalidArgument("pid file " + path + " does not hold a pid");
  }
  return static_cast<pid_t>(pid);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  }
  return "status " + std::to_string(status);
}

}  // namespace baton

#include "tests/support/zookeeper_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include <spdlog/fmt/fmt.h>

#include "tests/support/test_util.h"

extern char** environ;

namespace baton::testing {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kStopGrace{10000};
constexpr const char* kJava = "/usr/bin/java";
// Small heap, no JIT tiers beyond C1, no JMX: the JVM starts in a second or two.
constexpr const char* kJvmFlags = "-Xmx256m -Xms32m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto "
                                  "-Djava.net.preferIPv4Stack=true";
// Debian starts ZooKeeper with slf4j's no-op binding; these two jars route its
// log to log4j so a failing start leaves a readable log.
constexpr const char* kLog4jJars[] = {"/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"};

const char* ScriptPath() {
#ifdef BATON_ZKSERVER_SH
  return BATON_ZKSERVER_SH;
#else
  return "";
#endif
}

bool Executable(const char* path) { return path != nullptr && *path != '\0' && ::access(path, X_OK) == 0; }

Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return Status::Internal(fmt::format("write {}: {}", path, std::strerror(errno)));
  return Status::Ok();
}

std::string CommonConfig(const std::string& data_dir, uint16_t client_port) {
  return fmt::format(
      "tickTime={}\ninitLimit=50\nsyncLimit=25\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n"
      "admin.enableServer=false\n4lw.commands.whitelist=*\nmaxSessionTimeout=60000\nmaxClientCnxns=0\n"
      "preAllocSize=1024\nforceSync=no\n",
      kZookeeperTickMs, data_dir, client_port);
}

// True if the child has exited (without reaping it).
bool Exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
  return info.si_pid == pid;
}

}  // namespace

bool ZookeeperAvailable() { return Executable(ScriptPath()) && Executable(kJava); }

std::string ZookeeperUnavailableReason() {
  return fmt::format("ZooKeeper server not installed (zkServer.sh at '{}', java at {}); "
                     "apt-get install zookeeper default-jre-headless",
                     ScriptPath(), kJava);
}

Result<std::string> ZookeeperFourLetterWord(uint16_t port, std::string_view command) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(fmt::format("socket: {}", std::strerror(errno)));
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string answer;
  Status status;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::send(fd, command.data(), command.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(command.size())) {
    status = Status::Unavailable(fmt::format("127.0.0.1:{} {}: {}", port, command, std::strerror(errno)));
  } else {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!status.ok()) return status;
  return answer;
}

ZookeeperProcess::ZookeeperProcess(std::string dir) : dir_(std::move(dir)) {}

Status ZookeeperProcess::Launch() {
  if (running()) return Status::FailedPrecondition("zookeeper in " + dir_ + " already running");
  if (!ZookeeperAvailable()) return Status::FailedPrecondition(ZookeeperUnavailableReason());
  ::mkdir(data_dir().c_str(), 0755);
  std::string log4j = dir_ + "/log4j.properties";
  BATON_RETURN_IF_ERROR(WriteFile(log4j,
                                  "log4j.rootLogger=INFO, CONSOLE\n"
                                  "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
                                  "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
                                  "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n\n"));

  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls are allowed in a threaded process.
  std::string jvm_flags = fmt::format("{} -Dzookeeper.log.dir={} -Dlog4j.configuration=file:{}", kJvmFlags, dir_, log4j);
  bool have_log4j = ::access(kLog4jJars[0], R_OK) == 0 && ::access(kLog4jJars[1], R_OK) == 0;
  if (have_log4j) {
    // zkEnv.sh overwrites CLASSPATH; a later -cp in JVMFLAGS wins.
    jvm_flags += fmt::format(" -cp /usr/share/java/zookeeper.jar:{}:{}", kLog4jJars[0], kLog4jJars[1]);
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("JVMFLAGS=") || kv.starts_with("SERVER_JVMFLAGS=") || kv.starts_with("JMXDISABLE=") ||
        kv.starts_with("ZOO_LOG_DIR=") || kv.starts_with("ZOO_LOG4J_PROP=")) {
      continue;
    }
    env_strings.emplace_back(kv);
  }
  env_strings.push_back("JVMFLAGS=" + jvm_flags);
  env_strings.push_back("JMXDISABLE=true");
  env_strings.push_back("ZOO_LOG_DIR=" + dir_);
  env_strings.push_back("ZOO_LOG4J_PROP=INFO,CONSOLE");
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string script = ScriptPath();
  std::string mode = "start-foreground";
  std::string config = config_path();
  char* argv[] = {script.data(), mode.data(), config.data(), nullptr};

  int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::Internal(fmt::format("open {}: {}", log_path(), std::strerror(errno)));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    return Status::Internal(fmt::format("fork: {}", std::strerror(err)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // parent already gone
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // Do not let the JVM inherit the test's sockets (e.g. ZooKeeper client
    // connections to other servers).
    ::syscall(SYS_close_range, 3U, ~0U, 0U);
    ::execve(argv[0], argv, envp.data());
    const char msg[] = "exec zkServer.sh failed\n";
    ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so kill(-pid) works whichever runs first
  ::close(log_fd);
  ::close(null_fd);
  pid_ = pid;
  return Status::Ok();
}

Status ZookeeperProcess::WaitServing(uint16_t client_port, milliseconds timeout) {
  bool exited = false;
  bool serving = WaitFor(
      [&] {
        if (Exited(pid_)) {
          exited = true;
          return true;
        }
        auto answer = ZookeeperFourLetterWord(client_port, "srvr");
        return answer.ok() && answer->find("Mode: ") != std::string::npos;
      },
      timeout, milliseconds(50));
  if (serving && !exited) return Status::Ok();
  std::string why = exited ? "exited" : fmt::format("not serving after {} ms", timeout.count());
  std::string tail = LogTail();
  Stop();
  std::string message =
      fmt::format("zookeeper on 127.0.0.1:{} {}; {} ends with:\n{}", client_port, why, log_path(), tail);
  std::fprintf(stderr, "%s\n", message.c_str());
  return Status::Unavailable(message);
}

void ZookeeperProcess::Stop() {
  if (pid_ <= 0) return;
  // The group stays ours until the leader is reaped, so signalling -pid_
  // reaches only processes this fixture started.
  ::kill(-pid_, SIGTERM);
  if (!WaitFor([&] { return Exited(pid_); }, kStopGrace)) {
    std::fprintf(stderr, "zookeeper pid %d ignored SIGTERM for %lld ms; killing\n", static_cast<int>(pid_),
                 static_cast<long long>(kStopGrace.count()));
  }
  ::kill(-pid_, SIGKILL);  // stragglers in the group, or the JVM itself
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string ZookeeperProcess::LogTail(size_t lines) const {
  std::ifstream in(log_path());
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& line : tail) out += line + "\n";
  return out;
}

ZookeeperServer::ZookeeperServer() : port_(PickFreePort()), process_(dir_.path()) {}

Status ZookeeperServer::Start() {
  BATON_RETURN_IF_ERROR(WriteFile(process_.config_path(),
                                  CommonConfig(process_.data_dir(), port_) + "standaloneEnabled=true\n"));
  BATON_RETURN_IF_ERROR(process_.Launch());
  return process_.WaitServing(port_, kZookeeperStartTimeout);
}

void ZookeeperServer::Stop() { process_.Stop(); }

Status ZookeeperServer::Restart() {
  Stop();
  return Start();
}

std::string ZookeeperServer::connect_string() const { return fmt::format("127.0.0.1:{}", port_); }

ZookeeperEnsemble::ZookeeperEnsemble(int size) {
  for (int i = 0; i < size; ++i) {
    std::string dir = dir_.Join(fmt::format("member-{}", i + 1));
    ::mkdir(dir.c_str(), 0755);
    auto member = std::make_unique<Member>(dir);
    member->client_port = PickFreePort();
    member->peer_port = PickFreePort();
    member->election_port = PickFreePort();
    members_.push_back(std::move(member));
  }
}

Status ZookeeperEnsemble::WriteConfig(int i) const {
  const ZookeeperProcess& process = members_[i]->process;
  std::string config = CommonConfig(process.data_dir(), members_[i]->client_port);
  config += "standaloneEnabled=false\nreconfigEnabled=false\n";
  for (int j = 0; j < size(); ++j) {
    config += fmt::format("server.{}=127.0.0.1:{}:{}\n", j + 1, members_[j]->peer_port, members_[j]->election_port);
  }
  ::mkdir(process.data_dir().c_str(), 0755);
  BATON_RETURN_IF_ERROR(WriteFile(process.data_dir() + "/myid", fmt::format("{}\n", i + 1)));
  return WriteFile(process.config_path(), config);
}

Status ZookeeperEnsemble::Start() {
  // Launch all first: none serves before a quorum is up.
  for (int i = 0; i < size(); ++i) {
    if (members_[i]->process.running()) continue;
    BATON_RETURN_IF_ERROR(WriteConfig(i));
    BATON_RETURN_IF_ERROR(members_[i]->process.Launch());
  }
  for (int i = 0; i < size(); ++i) {
    BATON_RETURN_IF_ERROR(members_[i]->process.WaitServing(members_[i]->client_port, kZookeeperStartTimeout));
  }
  return Status::Ok();
}

void ZookeeperEnsemble::Stop() {
  for (auto& member : members_) member->process.Stop();
}

Status ZookeeperEnsemble::StartMember(int i) {
  BATON_RETURN_IF_ERROR(WriteConfig(i));
  BATON_RETURN_IF_ERROR(members_[i]->process.Launch());
  return members_[i]->process.WaitServing(members_[i]->client_port, kZookeeperStartTimeout);
}

void ZookeeperEnsemble::StopMember(int i) { members_[i]->process.Stop(); }

std::string ZookeeperEnsemble::connect_string() const {
  std::string out;
  for (int i = 0; i < size(); ++i) {
    if (i > 0) out += ',';
    out += member_connect_string(i);
  }
  return out;
}

std::string ZookeeperEnsemble::member_connect_string(int i) const {
  return fmt::format("127.0.0.1:{}", members_[i]->client_port);
}

}  // namespace baton::testing

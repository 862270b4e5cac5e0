// Real ZooKeeper servers for tests: Debian's zkServer.sh run in the
// foreground as child processes, each in its own process group, with config,
// data and log in a TempDir. Start() returns once the server answers "srvr"
// with a Mode (i.e. it serves requests). Destruction stops what is running.
//
// Tests skip when ZooKeeper is not installed:
//   if (!ZookeeperAvailable()) GTEST_SKIP() << ZookeeperUnavailableReason();
//
// Thread-compatible. Start the servers from the test's main thread: the
// children are killed if the thread that forked them exits (PR_SET_PDEATHSIG),
// so a crashed test leaves no JVM behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "tests/support/temp_dir.h"

namespace baton::testing {

inline constexpr std::chrono::milliseconds kZookeeperStartTimeout{30000};
// Server tick: sessions may be as short as 2 ticks (400 ms), at most 60 s.
inline constexpr int kZookeeperTickMs = 200;

bool ZookeeperAvailable();
std::string ZookeeperUnavailableReason();

// Sends a four-letter word ("srvr", "mntr", ...) to 127.0.0.1:port and
// returns the whole answer. UNAVAILABLE if nothing listens.
Result<std::string> ZookeeperFourLetterWord(uint16_t port, std::string_view command);

// One zkServer.sh child. `dir` holds zoo.cfg, data/ and zookeeper.log; the
// owner writes zoo.cfg before Launch(). Used by the classes below.
class ZookeeperProcess {
 public:
  explicit ZookeeperProcess(std::string dir);
  ~ZookeeperProcess() { Stop(); }
  ZookeeperProcess(const ZookeeperProcess&) = delete;
  ZookeeperProcess& operator=(const ZookeeperProcess&) = delete;

  std::string config_path() const { return dir_ + "/zoo.cfg"; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string log_path() const { return dir_ + "/zookeeper.log"; }

  // Forks and execs the server; does not wait for it.
  Status Launch();
  // Waits until the server on `client_port` serves requests. On failure (the
  // child exited, or `timeout`) the error carries the log tail and the child
  // is stopped.
  Status WaitServing(uint16_t client_port, std::chrono::milliseconds timeout);
  // SIGTERM to the process group, SIGKILL after 10 s, then reaps the child.
  // No-op if not running.
  void Stop();
  bool running() const { return pid_ > 0; }
  std::string LogTail(size_t lines = 40) const;

 private:
  std::string dir_;
  pid_t pid_ = -1;  // also the process group id
};

// A standalone server on 127.0.0.1.
class ZookeeperServer {
 public:
  ZookeeperServer();
  ~ZookeeperServer() { Stop(); }

  Status Start();
  void Stop();
  // Stop() then Start() on the same port and data: an outage.
  Status Restart();
  // Port used by the next Start(); lets a test run the server where its
  // clients cannot reach it (they keep dialling the old port).
  void set_client_port(uint16_t port) { port_ = port; }
  uint16_t client_port() const { return port_; }
  std::string connect_string() const;
  bool running() const { return process_.running(); }
  std::string LogTail(size_t lines = 40) const { return process_.LogTail(lines); }

 private:
  TempDir dir_;
  uint16_t port_;
  ZookeeperProcess process_;
};

// An ensemble of `size` servers on 127.0.0.1, each with its own data dir,
// myid and ports.
class ZookeeperEnsemble {
 public:
  explicit ZookeeperEnsemble(int size = 3);
  ~ZookeeperEnsemble() { Stop(); }

  // Starts every member and waits until all serve (a quorum formed).
  Status Start();
  void Stop();
  // Waits until the member serves, which needs a quorum.
  Status StartMember(int i);
  void StopMember(int i);
  bool member_running(int i) const { return members_[i]->process.running(); }
  int size() const { return static_cast<int>(members_.size()); }
  // All members: "127.0.0.1:a,127.0.0.1:b,127.0.0.1:c".
  std::string connect_string() const;
  std::string member_connect_string(int i) const;

 private:
  struct Member {
    explicit Member(std::string dir) : process(std::move(dir)) {}
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    uint16_t election_port = 0;
    ZookeeperProcess process;
  };
  Status WriteConfig(int i) const;

  TempDir dir_;
  std::vector<std::unique_ptr<Member>> members_;
};

}  // namespace baton::testing

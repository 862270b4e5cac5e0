// HaCluster: one Baton cluster run for real on loopback, the way production
// runs it: a ZooKeeper server (or a given ensemble), `arbiters` baton-arbiter
// replicas, `gateways` baton-gateway processes (GatewayCluster, members
// g1..gN) and one baton-agent per gateway. Roles come from the arbiter only.
//
//   HaCluster ha({.gateways = 3});
//   ASSERT_TRUE(ha.Start().ok());                 // waits for an active
//   auto active = ha.WaitForActive(10s);
//   ha.gateways().Kill(*active);                  // ... and watch failover
//
// Thread-safety: process control (Start*, Stop*, Kill*, the destructor) only
// from the thread that built the fixture (children die with the thread that
// forked them); observation (ReadState, WaitForActive, logs) from any thread.
// The destructor stops everything it started, by pid, and prints the tails
// of every log when the current test failed.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arbiter/cluster_state.h"
#include "common/status.h"
#include "tests/support/binaries.h"
#include "tests/support/gateway_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/zookeeper_server.h"

namespace baton::testing {

class HaCluster {
 public:
  struct Options {
    int gateways = 3;
    int arbiters = 1;
    std::string cluster = "c1";
    int dimension = 4;
    uint32_t lease_ms = 2000;
    uint32_t heartbeat_ms = 100;
    int zookeeper_session_timeout_ms = 4000;
    // Non-empty: use these ZooKeeper servers instead of starting one.
    std::string zookeeper_connect;
    std::vector<std::string> gateway_args;
    std::vector<std::string> arbiter_args;
    std::vector<std::string> agent_args;
    // Extra arguments for one agent (index of its gateway), after agent_args.
    std::map<int, std::vector<std::string>> agent_args_for;
  };

  explicit HaCluster(Options options);
  ~HaCluster();
  HaCluster(const HaCluster&) = delete;
  HaCluster& operator=(const HaCluster&) = delete;

  // ZooKeeper (unless given), arbiters, gateways, agents; then waits until
  // one gateway serves as active.
  Status Start(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  GatewayCluster& gateways() { return *gateways_; }
  // Null when the fixture uses an external ZooKeeper.
  ZookeeperServer* zookeeper() { return zookeeper_.get(); }
  std::string zookeeper_connect() const;
  std::string zookeeper_root() const { return "/baton-test"; }
  const Options& options() const { return options_; }

  // --- arbiters --------------------------------------------------------------
  Status StartArbiter(int i);
  Status KillArbiter(int i);
  Status PauseArbiter(int i);
  Status ResumeArbiter(int i);
  bool arbiter_running(int i) const;
  uint16_t arbiter_http_port(int i) const { return arbiters_[i].http_port; }
  std::string arbiter_grpc_address(int i) const;
  // Index of the replica that leads now, read from the election znodes.
  Result<int> LeaderArbiter() const;

  // --- agents ----------------------------------------------------------------
  Status StartAgent(int i);
  Status KillAgent(int i);
  bool agent_running(int i) const;
  // The agent's /metrics and /healthz port.
  uint16_t agent_http_port(int i) const { return agents_[i].http_port; }

  // --- observation (thread-safe) ---------------------------------------------
  // The cluster state the arbiter stored in ZooKeeper.
  Result<arbiter::ClusterState> ReadState() const;
  // Waits until some gateway reports ROLE_ACTIVE, not fenced, with a lease
  // running, and (when `accept` is given) accept(index) holds. Returns its
  // index; the error describes every member's state.
  Result<int> WaitForActive(std::chrono::milliseconds timeout, const std::function<bool(int)>& accept = nullptr);
  std::string pid_file(int i) const;
  // Tails of every arbiter's and agent's log.
  std::string DescribeLogs(size_t lines = 40) const;

 private:
  struct Proc {
    uint16_t grpc_port = 0;
    uint16_t http_port = 0;
    std::string log_path;
    std::optional<Daemon> daemon;
    bool paused = false;
  };
  std::string ArbiterAddresses() const;
  Status WaitHealthy(const Proc& proc, const std::string& what);

  const Options options_;
  TempDir dir_;
  std::unique_ptr<ZookeeperServer> zookeeper_;
  std::vector<Proc> arbiters_;
  std::vector<Proc> agents_;
  std::unique_ptr<GatewayCluster> gateways_;
};

}  // namespace baton::testing

// Mesh: the whole product as the chaos runner drives it. One local
// ZooKeeper, `arbiters` baton-arbiter replicas on it, and 2 or 3 clusters
// (c1, c2, c3) of baton-gateway processes, each with its baton-agent;
// mirroring in a full mesh (async), from mirror targets seeded through the
// arbiters' `mirror.targets`. Gateways are numbered globally: c1 has g1..g3,
// c2 has g4, g5, c3 has g6, g7 (by default).
//
// With a Network (netns.h) every gateway and its agent run in a namespace
// of their own ("host"), the arbiters listen on addresses of their own in
// the root namespace, and partitions are possible; without, everything is
// on 127.0.0.1 and only process faults are.
//
// Process control (Start*, Kill*, Pause*, Resume*, the zookeeper calls and
// the destructor) only from the thread that built the Mesh: children are
// killed when the thread that forked them exits (PR_SET_PDEATHSIG).
// Observation (GetState, ReadState, channels, names) from any thread.
// The destructor kills everything it started, by pid, and removes the run
// directory unless Keep() was called.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "arbiter/cluster_state.h"
#include "baton/v1/control.grpc.pb.h"
#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/zk_client.h"
#include "tests/chaos/netns.h"
#include "tests/support/binaries.h"
#include "tests/support/zookeeper_server.h"

namespace baton::chaos {

struct MeshOptions {
  int clusters = 2;
  std::vector<int> gateways_per_cluster = {3, 2, 2};
  int arbiters = 3;
  bool use_netns = true;
  int dimension = 4;
  uint32_t lease_ms = 1000;
  uint32_t heartbeat_ms = 100;
  int zookeeper_session_timeout_ms = 4000;
  std::string log_level = "info";
  // Added to every gateway's flags (after the mesh's own).
  std::vector<std::string> gateway_args;
};

class Mesh {
 public:
  explicit Mesh(MeshOptions options);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Namespaces (when asked for; falls back to loopback and says why in
  // netns_skip_reason()), ZooKeeper, arbiters, gateways, agents. Returns
  // once every gateway answers GetState; roles come later (see the runner's
  // quiescence wait).
  Status Start();

  // --- names -----------------------------------------------------------------
  int clusters() const { return options_.clusters; }
  int gateways() const { return static_cast<int>(gateways_.size()); }
  int arbiters() const { return options_.arbiters; }
  std::string cluster_name(int c) const { return "c" + std::to_string(c + 1); }
  std::string gateway_name(int g) const { return "g" + std::to_string(g + 1); }
  std::string arbiter_name(int a) const { return "a" + std::to_string(a + 1); }
  const std::vector<int>& members(int c) const { return members_[c]; }
  int cluster_of(int g) const { return gateways_[g].cluster; }
  std::string gateway_address(int g) const;
  // Index of the gateway at `address` ("ip:port"); -1 if none.
  int GatewayByAddress(const std::string& address) const;
  std::vector<std::string> cluster_names() const;
  std::vector<std::string> gateway_names() const;
  std::vector<int> gateway_clusters() const;
  bool partitions_supported() const { return network_ != nullptr; }
  const std::string& netns_skip_reason() const { return netns_skip_reason_; }
  const std::string& run_dir() const { return run_dir_; }
  // Keep the run directory (logs, data dirs) after destruction.
  void Keep() { keep_ = true; }
  const MeshOptions& options() const { return options_; }

  // A new channel to gateway g with its own connection (not shared with
  // other channels) and fast reconnects. Thread-safe.
  std::shared_ptr<grpc::Channel> NewChannel(int g) const;

  // --- processes (building thread only) ----------------------------------------
  Status StartGateway(int g);  // spawns; does not wait
  Status KillGateway(int g);   // SIGKILL and reap
  Status PauseGateway(int g);  // SIGSTOP; returns once every thread is stopped
  Status ResumeGateway(int g);
  bool gateway_up(int g) const { return gateways_[g].gateway.daemon.has_value(); }
  bool gateway_paused(int g) const { return gateways_[g].gateway.paused; }
  Status StartAgent(int g);
  Status KillAgent(int g);
  Status PauseAgent(int g);
  Status ResumeAgent(int g);
  bool agent_up(int g) const { return gateways_[g].agent.daemon.has_value(); }
  bool agent_paused(int g) const { return gateways_[g].agent.paused; }
  Status StartArbiter(int a);
  Status KillArbiter(int a);
  Status PauseArbiter(int a);
  Status ResumeArbiter(int a);
  bool arbiter_up(int a) const { return arbiters_[a].daemon.has_value(); }
  bool arbiter_paused(int a) const { return arbiters_[a].paused; }
  void StopZookeeper();
  Status StartZookeeper();
  bool zookeeper_up() const { return zookeeper_->running(); }
  // Processes that should run but exited by themselves: one line each, with
  // the wait status and the tail of the log. Reaps them (they count as
  // killed afterwards).
  std::vector<std::string> CollectUnexpectedExits();

  // --- network (building thread only) ------------------------------------------
  // Drops all traffic between gateways a and b (their hosts) / heals that.
  Status CutGateways(int a, int b);
  Status HealGateways(int a, int b);
  // Drops all traffic between gateway g's host and every arbiter / heals it.
  Status CutFromArbiters(int g);
  Status HealFromArbiters(int g);
  // Heals every cut.
  Status HealNetwork();
  int cuts() const { return network_ ? network_->cuts() : 0; }

  // --- observation (thread-safe) -------------------------------------------------
  Result<v1::GetStateResponse> GetState(int g, std::chrono::milliseconds timeout) const;
  // The state the arbiter stored for cluster c.
  Result<arbiter::ClusterState> ReadState(int c) const EXCLUDES(zk_mu_);
  // Index of the arbiter that holds the lowest election znode.
  Result<int> LeaderArbiter() const EXCLUDES(zk_mu_);
  // Tails of every process's log.
  std::string DescribeLogs(size_t lines) const;

 private:
  struct Proc {
    std::string log_path;
    std::optional<baton::testing::Daemon> daemon;
    bool paused = false;
  };
  struct GatewayHost {
    int cluster = 0;
    int host = 0;  // network host index
    std::string ip;
    uint16_t grpc_port = 0, http_port = 0, agent_http_port = 0;
    std::string data_dir, pid_file;
    Proc gateway, agent;
  };
  struct Arbiter {
    std::string ip;
    uint16_t grpc_port = 0, http_port = 0;
    std::string log_path;
    std::optional<baton::testing::Daemon> daemon;
    bool paused = false;
  };

  std::string ArbiterAddresses() const;
  std::string MirrorSeeds() const;
  Result<baton::testing::Daemon> Spawn(int host, std::vector<std::string> argv, const std::string& log_path);
  Status Signal(std::optional<baton::testing::Daemon>& daemon, bool* paused, int signal, const std::string& what);
  Result<ZkClient*> Zk() const REQUIRES(zk_mu_);

  const MeshOptions options_;
  std::string run_dir_;
  bool keep_ = false;
  std::string netns_skip_reason_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<baton::testing::ZookeeperServer> zookeeper_;
  std::vector<GatewayHost> gateways_;
  std::vector<std::vector<int>> members_;
  std::vector<Arbiter> arbiters_;
  std::vector<std::shared_ptr<grpc::Channel>> state_channels_;  // GetState, one per gateway

  mutable Mutex zk_mu_;
  mutable std::unique_ptr<ZkClient> zk_ GUARDED_BY(zk_mu_);
};

}  // namespace baton::chaos

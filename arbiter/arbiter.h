// The arbiter process (docs/arbiter.md): keeps a ZooKeeper session (and a
// new one after expiry), takes part in the leader election, answers agents'
// heartbeat streams, and, while it leads, decides and persists promotions.
// Serves /healthz, /readyz (ZooKeeper connected) and /metrics.
//
// Threads: the supervisor (ZooKeeper session, election, leadership changes,
// leader address for followers), the decider (every decision_interval_ms
// while leading: ClusterBook::Decide, then the guarded ZooKeeper writes),
// the publisher (while leading: the event history and, every
// status.publish_interval_ms, each cluster's observation for followers'
// REST answers and a re-read of the mirror targets, so that a change made
// behind the arbiter's back reaches the gateways too), gRPC's callback threads (heartbeats) and Poco's HTTP
// threads (the operator API, arbiter/rest_api.h).
//
// Thread-safety: Start() and Stop() from one thread; the rest from any.
// `clock` must outlive the arbiter.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "arbiter/agent_service.h"
#include "arbiter/cluster_book.h"
#include "arbiter/election.h"
#include "arbiter/rest_api.h"
#include "arbiter/state_store.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/zk_client.h"

namespace baton::arbiter {

class Arbiter : public HeartbeatHandler, public RestBackend {
 public:
  explicit Arbiter(const Config& config, Clock& clock = RealClock());
  ~Arbiter() override;

  // Starts gRPC, HTTP and the threads. Fails if an address cannot be bound;
  // ZooKeeper being down is not an error (the supervisor keeps trying).
  Status Start();
  void Stop();

  bool zookeeper_connected() const { return zk_connected_.load(); }
  bool is_leader() const { return book_.leading(); }
  uint16_t http_port() const;
  uint16_t grpc_port() const { return grpc_port_; }
  const std::string& id() const { return id_; }

  // RestBackend.
  const std::string& replica_id() const override { return id_; }
  bool leading() const override { return book_.leading(); }
  std::optional<LeaderInfo> leader() const override EXCLUDES(mu_);
  Result<std::shared_ptr<ZkClient>> zookeeper() const override EXCLUDES(mu_);
  std::string election_path() const override EXCLUDES(mu_);
  const std::string& zookeeper_root() const override { return root_; }
  ClusterBook& book() override { return book_; }
  MonoTime now() const override { return clock_.Now(); }
  void ReloadMirrorTargets() override EXCLUDES(mu_, reload_mu_);

  // HeartbeatHandler.
  v1::HeartbeatResponse OnHeartbeat(const v1::Heartbeat& heartbeat, uint64_t stream_id) override;
  void OnStreamClosed(const std::string& cluster, const std::string& instance, uint64_t stream_id) override;

 private:
  // Events the ZooKeeper dispatcher hands to the supervisor.
  struct Events {
    bool state_changed = false;
    bool election_changed = false;
  };

  void SupervisorLoop() EXCLUDES(mu_);
  // Connects and joins the election; false when stopping.
  bool Connect() EXCLUDES(mu_);
  // Seeds the configured mirror targets, reads every cluster's state and
  // config and the mirror targets, and starts leading.
  Status TakeLeadership(ZkClient& zk) EXCLUDES(mu_);
  void RefreshLeaderAddress(Election& election) EXCLUDES(mu_);
  // Closes the ZooKeeper session (and so leaves the election).
  void DropSession() EXCLUDES(mu_);
  void DecisionLoop() EXCLUDES(mu_);
  void PublishLoop() EXCLUDES(mu_);
  // Sends the book's pushes on the agents' streams.
  void SendPushes();
  // Writes the queued events (kept for the next turn when that fails).
  void PublishEvents(StateStore& store, const std::string& election_path);
  void Persist(const PendingChange& change) EXCLUDES(mu_);
  void RegisterMetrics();

  const Config config_;
  Clock& clock_;
  const std::string id_;
  const std::string advertise_grpc_;
  const std::string root_;
  Metrics metrics_;
  ClusterBook book_;
  AgentService agent_service_{*this};

  prometheus::Gauge* zk_connected_gauge_ = nullptr;
  prometheus::Gauge* leader_gauge_ = nullptr;
  prometheus::Gauge* agents_gauge_ = nullptr;
  prometheus::Counter* heartbeats_ = nullptr;
  prometheus::Histogram* heartbeat_seconds_ = nullptr;
  prometheus::Histogram* failover_seconds_ = nullptr;
  prometheus::Family<prometheus::Counter>* promotions_ = nullptr;
  prometheus::Family<prometheus::Counter>* state_writes_ = nullptr;

  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<grpc::Server> grpc_;
  uint16_t grpc_port_ = 0;
  std::atomic<bool> zk_connected_{false};
  std::atomic<bool> stopping_{false};

  mutable Mutex mu_;
  CondVar supervisor_cv_{&mu_};
  CondVar decider_cv_{&mu_};
  Events events_ GUARDED_BY(mu_);
  bool decide_now_ GUARDED_BY(mu_) = false;
  // Replaced by the supervisor after a session expiry; others copy the
  // pointer under mu_ and use it without the lock.
  std::shared_ptr<ZkClient> zk_ GUARDED_BY(mu_);
  std::unique_ptr<Election> election_ GUARDED_BY(mu_);
  std::string election_path_ GUARDED_BY(mu_);
  std::string leader_grpc_address_ GUARDED_BY(mu_);
  std::optional<LeaderInfo> leader_ GUARDED_BY(mu_);
  CondVar publisher_cv_{&mu_};
  // Serializes ReloadMirrorTargets (REST handlers and the publisher).
  Mutex reload_mu_;
  std::string last_reload_problem_ GUARDED_BY(reload_mu_);

  std::thread supervisor_;
  std::thread decider_;
  std::thread publisher_;
  LeaderInfo own_info_;
  uint64_t events_since_trim_ = 0;  // publisher thread only
  // `mirror.targets`, parsed by Start(); read-only afterwards.
  std::vector<MirrorTargetSpec> seed_targets_;
};

}  // namespace baton::arbiter

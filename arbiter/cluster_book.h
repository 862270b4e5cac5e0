// ClusterBook: what this arbiter replica knows of every cluster while it
// leads (stored state and config as last read or written, the agents' latest
// reports, one ClusterDecider each), and the two things done with it:
// answering a heartbeat (grant an assignment or not) and deciding what to
// persist. No I/O: the Arbiter reads and writes ZooKeeper and passes results
// in, so this is unit-testable with plain time values.
//
// A change chosen by Decide() is "pending" until Committed() or Abandoned():
// meanwhile the cluster's active is granted nothing, so a lease cannot be
// renewed while its holder is being replaced.
//
// Thread-safety: thread-safe; one mutex, held only for map updates and pure
// decisions (never for I/O).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arbiter/cluster_state.h"
#include "arbiter/decisions.h"
#include "baton/v1/arbiter.pb.h"
#include "common/mutex.h"

namespace baton::arbiter {

struct ClusterBookOptions {
  DecisionTiming timing;
  // Put into every assignment.
  uint32_t lease_ms = 2000;
  bool failsafe = true;
};

// A change to persist: the cluster, the state to write, why.
struct PendingChange {
  std::string cluster;
  ClusterState state;
  Decision decision;
};

// What the leader did with one heartbeat.
struct HeartbeatOutcome {
  v1::HeartbeatResponse response;
  // The report shows a promoted instance serving as active at its epoch for
  // the first time: the failover is complete. Zero when not.
  std::chrono::nanoseconds failover_duration{0};
  std::string completed_cluster;
};

class ClusterBook {
 public:
  explicit ClusterBook(ClusterBookOptions options);

  // Leadership begins: the stored states and configs read from ZooKeeper
  // (clusters missing from the maps start empty on first report).
  void Lead(MonoTime now, std::map<std::string, ClusterState> states, std::map<std::string, ClusterConfig> configs)
      EXCLUDES(mu_);
  // Leadership ends (or ZooKeeper is lost): grant nothing, decide nothing,
  // forget reports and deciders.
  void Resign() EXCLUDES(mu_);
  // While leading: whether grants may go out (false while the ZooKeeper
  // connection is down). Coming back counts as a new start of leadership for
  // the lease arithmetic: the grants missed while disconnected must not make
  // a healthy active look failed.
  void SetConnected(bool connected, MonoTime now) EXCLUDES(mu_);
  bool leading() const EXCLUDES(mu_);

  // Records the report and answers it. `stream_id` identifies the agent's
  // stream (a newer stream of the same instance replaces the older).
  HeartbeatOutcome OnHeartbeat(const v1::Heartbeat& heartbeat, MonoTime now, uint64_t stream_id) EXCLUDES(mu_);
  void OnStreamClosed(const std::string& cluster, const std::string& instance, uint64_t stream_id) EXCLUDES(mu_);

  // One decision per cluster without a pending change.
  std::vector<PendingChange> Decide(MonoTime now) EXCLUDES(mu_);
  // The change was written (new zk version); it is now the stored state.
  void Committed(const PendingChange& change, int32_t zk_version, MonoTime now) EXCLUDES(mu_);
  // The write failed; `reloaded` is the state read back from ZooKeeper when
  // that succeeded (otherwise the cached one stays, and Decide() retries).
  void Abandoned(const std::string& cluster, std::optional<ClusterState> reloaded) EXCLUDES(mu_);
  void SetConfig(const std::string& cluster, const ClusterConfig& config) EXCLUDES(mu_);

  // Copies for status and metrics.
  std::map<std::string, ClusterState> States() const EXCLUDES(mu_);
  std::map<std::string, Reports> AllReports() const EXCLUDES(mu_);
  // What each cluster without a usable active waits for (empty when fine).
  std::map<std::string, std::string> WaitingFor() const EXCLUDES(mu_);

 private:
  struct Cluster {
    ClusterState state;
    ClusterConfig config;
    Reports reports;
    std::map<std::string, uint64_t> stream_of;  // instance -> newest stream id
    std::unique_ptr<ClusterDecider> decider;
    bool pending = false;
    // The active has been granted since this replica started leading (or
    // reconnected); until then standbys wait (see OnHeartbeat).
    bool active_granted = false;
    std::string waiting_for;
    // Set at a committed promotion until the new active reports as active.
    std::optional<MonoTime> promoted_detected_at;
  };

  Cluster& ClusterFor(const std::string& name) REQUIRES(mu_);

  const ClusterBookOptions options_;
  mutable Mutex mu_;
  bool leading_ GUARDED_BY(mu_) = false;
  bool connected_ GUARDED_BY(mu_) = false;
  MonoTime leader_since_ GUARDED_BY(mu_){};
  std::map<std::string, Cluster> clusters_ GUARDED_BY(mu_);
};

}  // namespace baton::arbiter

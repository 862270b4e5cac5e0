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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arbiter/cluster_state.h"
#include "arbiter/decisions.h"
#include "baton/v1/arbiter.pb.h"
#include "common/mirror_target.h"
#include "common/mutex.h"
#include "common/status.h"

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

// One entry of the event history (docs/operator-api.md "GET /v1/events"):
// what happened to a cluster, for operators. `fields` holds the type's own
// keys (reason, message, durations, ...).
struct ClusterEvent {
  std::string cluster;
  std::string type;
  std::string instance;
  uint64_t epoch = 0;
  nlohmann::json fields = nlohmann::json::object();
};

enum class OperationKind { kSwitchover, kFailover };
std::string_view OperationKindName(OperationKind kind);

// An operator's switchover or failover, as REST hands it to the leader.
struct OperationRequest {
  OperationKind kind = OperationKind::kSwitchover;
  // The instance to promote; empty (switchover only): the best healthy sync
  // standby, chosen when the request is accepted.
  std::string to;
  bool force = false;  // failover only (see ClusterDecider::DecideFailover)
  std::chrono::milliseconds timeout{10000};
};

struct OperationResult {
  Status status;
  OperationKind kind = OperationKind::kSwitchover;
  std::string from;  // the active when the operation started ("" if none)
  std::string to;
  uint64_t epoch = 0;  // the new epoch on success
  std::chrono::milliseconds duration{0};
};

// An answer the leader sends on an agent's stream without waiting for its
// next heartbeat (AgentService::Push).
struct StreamPush {
  uint64_t stream_id = 0;
  v1::HeartbeatResponse response;
};

// Called exactly once, with the book's lock held: it must be quick and must
// not call back into the book (fulfilling a promise is fine).
using OperationDone = std::function<void(const OperationResult&)>;

// What the leader currently sees of one cluster, beyond the stored state:
// for GET /v1/status (docs/operator-api.md) and the copy followers read.
struct ClusterObservation {
  ClusterState state;
  ClusterConfig config;
  Reports reports;
  std::string waiting_for;
  // The operation in progress, if any, and how long ago it started.
  std::optional<OperationRequest> operation;
  std::chrono::milliseconds operation_age{0};
  // The mirror targets this cluster's members are given (MirrorTargetsFor).
  std::vector<MirrorTargetSpec> mirror_targets;
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

  // Leadership begins: the stored states, configs and mirror targets read
  // from ZooKeeper (clusters missing from the maps start empty on first
  // report).
  void Lead(MonoTime now, std::map<std::string, ClusterState> states, std::map<std::string, ClusterConfig> configs,
            std::vector<MirrorTargetSpec> mirror_targets = {}) EXCLUDES(mu_);
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
  // Every mirror target as stored now (the leader re-reads them after each
  // change it writes, and periodically). Each cluster's members get those of
  // other clusters in their assignments (MirrorTargetsFor); when that set
  // changes for a cluster, its members' new assignments are queued as
  // pushes at once, so no agent waits for its next heartbeat. Returns
  // whether anything changed. Ignored while not leading.
  bool SetMirrorTargets(std::vector<MirrorTargetSpec> targets, MonoTime now) EXCLUDES(mu_);
  std::vector<MirrorTargetSpec> MirrorTargets() const EXCLUDES(mu_);

  // Operator calls (the leader's REST handlers). Each validates at once
  // (NOT_FOUND: unknown cluster; UNAVAILABLE: not leading or disconnected;
  // ABORTED: another operation runs; FAILED_PRECONDITION: not possible now,
  // naming why) and otherwise queues the request for Decide(), which
  // completes it through `done` (success at Committed(); failure when
  // refused, past its timeout, when an automatic failover overtakes it, or
  // at Resign()).
  Status StartOperation(const std::string& cluster, OperationRequest request, MonoTime now, OperationDone done)
      EXCLUDES(mu_);
  // Maintenance on or off: persisted by Decide() (done at Committed(), or at
  // once when the state already says so).
  Status RequestMaintenance(const std::string& cluster, bool enabled, OperationDone done) EXCLUDES(mu_);
  // Answers to send now, oldest first: after a committed change, the new
  // assignments to every member whose stream is open (so the new active
  // need not wait for its next heartbeat); when a failure is detected and
  // the decider waits for fresh reports, report_now to the members.
  std::vector<StreamPush> TakePushes() EXCLUDES(mu_);

  // Queues an event for the history (the Arbiter writes them to ZooKeeper).
  void AddEvent(ClusterEvent event) EXCLUDES(mu_);
  // Events since the last call, oldest first. At most kMaxQueuedEvents are
  // kept while nobody takes them (ZooKeeper down): the oldest are dropped.
  std::vector<ClusterEvent> TakeEvents() EXCLUDES(mu_);
  static constexpr size_t kMaxQueuedEvents = 10000;

  // Copies for status and metrics.
  std::map<std::string, ClusterObservation> Observe(MonoTime now) const EXCLUDES(mu_);
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
    // The active replaced by the last committed promotion, until it reports
    // as a standby at the new epoch (the "demotion" event).
    std::string demoting;
    // Operator work in progress.
    struct Operation {
      OperationRequest request;
      std::string from;
      MonoTime started{};
      OperationDone done;
      bool committing = false;  // its promotion is the pending change
    };
    std::optional<Operation> operation;
    std::optional<bool> maintenance_request;
    // The detection time report_now was last pushed for.
    MonoTime reports_requested_for{};
    std::vector<OperationDone> maintenance_done;
    // MirrorTargetsFor(mirror_targets_, name): what every grant carries.
    std::vector<MirrorTargetSpec> mirror_targets;
  };

  Cluster& ClusterFor(const std::string& name) REQUIRES(mu_);
  // Completes the cluster's operation (if any) with `status`, and records
  // the failure as an event.
  void FailOperation(const std::string& name, Cluster& cluster, const Status& status, MonoTime now) REQUIRES(mu_);
  void FinishMaintenance(Cluster& cluster, const Status& status) REQUIRES(mu_);
  // One cluster's next change (or none), operator work included.
  std::optional<PendingChange> DecideCluster(const std::string& name, Cluster& cluster, MonoTime now) REQUIRES(mu_);
  void QueueEvent(ClusterEvent event) REQUIRES(mu_);
  // The assignment `id` gets for `report` now (nullopt: none); the grant
  // rules of OnHeartbeat. Remembers an active's grant for the lease bound.
  std::optional<v1::Assignment> GrantLocked(Cluster& cluster, const std::string& id, const InstanceReport& report,
                                            MonoTime now) REQUIRES(mu_);
  // Pushes `make(report)` to every member whose stream is open.
  void PushToMembers(Cluster& cluster, const std::function<std::optional<v1::HeartbeatResponse>(
                                           const std::string& id, const InstanceReport& report)>& make) REQUIRES(mu_);
  // Pushes each member's current grant (if any): after a change that
  // alters assignments.
  void PushGrants(Cluster& cluster, MonoTime now) REQUIRES(mu_);
  // Events a heartbeat reveals: fencing, demotion.
  void NoteReport(const std::string& name, Cluster& cluster, const v1::Heartbeat& previous,
                  const v1::Heartbeat& heartbeat) REQUIRES(mu_);

  const ClusterBookOptions options_;
  mutable Mutex mu_;
  bool leading_ GUARDED_BY(mu_) = false;
  bool connected_ GUARDED_BY(mu_) = false;
  MonoTime leader_since_ GUARDED_BY(mu_){};
  std::map<std::string, Cluster> clusters_ GUARDED_BY(mu_);
  // Every stored mirror target, sorted by name.
  std::vector<MirrorTargetSpec> mirror_targets_ GUARDED_BY(mu_);
  std::vector<ClusterEvent> events_ GUARDED_BY(mu_);
  std::vector<StreamPush> pushes_ GUARDED_BY(mu_);
};

}  // namespace baton::arbiter

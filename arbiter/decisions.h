// The arbiter leader's decisions for one cluster, as pure functions of the
// stored state, the config, the agents' latest reports and the time the
// caller passes in: no I/O, no clock of its own, so every rule is unit-tested
// on a manual clock (docs/arbiter.md has the rules and why).
//
// Thread-safety: none; the leader's decision thread owns each decider.
//
// Time bounds are inclusive at the lease end: a lease is surely over at
// lease_surely_expired_at() (so failure is detected when now reaches it), and
// a report is fresh for a failure when it was observed strictly after the
// detection: received minus the age of the probe it reports
// (Heartbeat.probe_age_ms).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "arbiter/cluster_state.h"
#include "baton/v1/arbiter.pb.h"
#include "common/clock.h"

namespace baton::arbiter {

// The latest heartbeat of one instance as the leader received it. The caller
// passes only the reports of the cluster being decided (heartbeat.cluster is
// not looked at here).
struct InstanceReport {
  v1::Heartbeat heartbeat;
  MonoTime received{};
  // False once the agent's stream has ended (the report stays for its
  // position until the instance reports again).
  bool stream_open = true;
};
using Reports = std::map<std::string, InstanceReport>;  // by instance id

struct DecisionTiming {
  // Lease granted to an active with each renewal.
  std::chrono::milliseconds lease{2000};
  // Added to every lease bound: covers clock rate differences between hosts
  // and the time an answer takes to reach the gateway.
  std::chrono::milliseconds lease_margin{40};
};

enum class PromotionReason {
  kBootstrap,     // the cluster never had an active
  kProcessGone,   // the active's own agent saw its process exit (fast path)
  kLeaseExpired,  // the active stopped being renewed and its lease ran out
  kSwitchover,    // operator: planned handover from a healthy active
  kManualFailover,  // operator: promote a named instance
};
std::string_view PromotionReasonName(PromotionReason reason);

struct Decision {
  // State to persist before anyone is told (a guarded multi-op); nullopt when
  // nothing changes.
  std::optional<ClusterState> new_state;
  // One line for the log and the event history: "promote g2 to active at
  // epoch 4 (process_gone: g1's agent reports its gateway exited)". Empty
  // exactly when new_state is nullopt.
  std::string reason;
  std::optional<PromotionReason> promotion;
  // When the failure that this promotion answers was detected (for the
  // detection-to-active metric); also set while a detected failure waits.
  // A bootstrap has no failure: `now` of the call.
  MonoTime detected_at{};
  // When the cluster has no usable active and nothing can be done yet: what
  // the decider waits for ("lease of g1: 830 ms left", "fresh reports from 2
  // of the sync set {g2,g3}", "maintenance").
  std::string waiting_for;
  // An operator's request (DecideSwitchover/DecideFailover) that can never
  // succeed as asked: why ("g2 is behind g3 (4:10 < 4:12)"). Empty otherwise.
  std::string refused;
};

// What an operator's switchover or failover asks of the decider.
struct OperatorRequest {
  // The instance to promote.
  std::string to;
  // Failover only: promote `to` even if it is not in the sync set or is
  // behind other sync standbys (acknowledged writes it lacks are lost).
  bool force = false;
  // When the request was accepted: handover reports from before it are not
  // evidence for it.
  MonoTime started{};
};

// Decision memory for one cluster while this replica leads.
class ClusterDecider {
 public:
  // `leader_since`: when this replica became leader. No lease this replica
  // did not grant itself is assumed to outlast leader_since + lease + margin.
  ClusterDecider(DecisionTiming timing, MonoTime leader_since);

  // Whether the leader grants `instance` its assignment (and, for the active,
  // a lease renewal) in answer to `report`. Grants to the active are
  // remembered for the lease arithmetic. The active is refused while its
  // report is not healthy (health OK or DEGRADED, process not gone, stream
  // open), and while `state` is older than a promotion Decide() returned (the
  // caller has not persisted it yet); a standby or unassigned member is
  // granted when it is a member; a non-member is refused until Decide() has
  // added it.
  bool ShouldGrant(const ClusterState& state, const std::string& instance, const InstanceReport& report);

  // What to do now. Rules, in order:
  //  1. Membership: a reporting instance of this cluster that is not a member
  //     (or whose address changed) is added; while no member is pending, a
  //     member with priority >= 1 that reports ROLE_STANDBY at the state's
  //     epoch, is healthy, and has a durable position at or past the one the
  //     active (healthy, active at that epoch) last reported joins the sync
  //     set as pending (ClusterState::sync_pending). A pending member gets
  //     its bar from the first report of that active that lists it in
  //     sync_enforced (the active's durable position then: every write it
  //     acknowledged without the member is at or below it), and stops being
  //     pending once it reports a durable position at or past its bar.
  //     Removing never happens here.
  //  2. Bootstrap (epoch 0, no active): once leader_since + lease + margin
  //     has passed, promote the best healthy reporting member with priority
  //     >= 1; the other healthy reporting members with priority >= 1 form
  //     the sync set.
  //  3. Failure of the active: detected when its agent reports the process
  //     gone (fast path, no wait for the lease) or when the lease is surely
  //     expired (no grant for lease + margin, counting leader_since as a
  //     grant, and the first sight of a new (epoch, active) as one so that a
  //     new active has a lease's time to report). Epoch > 0 without an
  //     active is a failure detected when the lease is surely expired.
  //     Nobody is promoted before leader_since + lease + margin, not even on
  //     the fast path (docs/arbiter.md: a new leader waits one lease).
  //  4. Promotion: candidates are sync-set members whose healthy report
  //     was observed after the detection (see the top of this file). At
  //     least |sync_set| - k + 1 of them must have reported (k = effective sync_standbys), so that every
  //     acknowledged write is on one of them (k = 0 means no write is on
  //     any standby: all of them must report); the best is the highest
  //     durable position, then priority, then the lowest id. While members
  //     are pending, the fresh reports must also hold what the active may
  //     have acknowledged before it enforced them: one of them at or past a
  //     pending member's bar, or a quorum of the settled members by this
  //     same rule over their own set (none settled: wait). A promotion makes
  //     every remaining member pending with the winner's durable position as
  //     the bar. A priority-0
  //     member still counts for the quorum but is never promoted: if only
  //     such members hold the highest position, the decider waits. The new
  //     epoch is one above every epoch stored or reported (heartbeat,
  //     durable and applied epochs); the new active leaves the sync set.
  //  Maintenance skips 2-4. One change per call: a membership change is
  //  returned alone, and promotions wait for a later call.
  Decision Decide(const ClusterState& state, const ClusterConfig& config, const Reports& reports, MonoTime now);

  // A switchover to request.to from the healthy active (the caller grants the
  // active its assignment with handover_to meanwhile). Membership changes
  // and an automatic failover (the active fails meanwhile) come first, as
  // from Decide(); the caller tells them apart by Decision::promotion. Then
  // the switchover promotes once (a) the active has reported handing_over at
  // the current epoch in a report observed after request.started, so its
  // durable position D is final, and (b) request.to reports healthy as a
  // standby at the current epoch with durable >= D. The new state makes
  // request.to the active at a new epoch and puts the old active in the sync
  // set in its place (it holds every write, and it becomes request.to's
  // standby). Refused when request.to stops being a healthy member.
  Decision DecideSwitchover(const ClusterState& state, const ClusterConfig& config, const Reports& reports,
                            MonoTime now, const OperatorRequest& request);

  // A manual failover to request.to (the caller stops granting the active
  // meanwhile). Membership first, as in Decide(); then, once the active's
  // lease is surely over (or its process is gone, or there is none) and the
  // new leader's first lease has passed, promotes request.to. Without force
  // the rules of an automatic promotion hold, with the candidate fixed: it
  // must be in the sync set, a quorum of the sync set must report after the
  // detection, and nobody among them may be ahead of it (else refused,
  // naming who is). With force only a fresh healthy report of request.to is
  // needed. Maintenance does not stop it (the operator asked).
  Decision DecideFailover(const ClusterState& state, const ClusterConfig& config, const Reports& reports,
                          MonoTime now, const OperatorRequest& request);

  // The time after which any lease this replica (or a predecessor) granted
  // to the current active has surely run out.
  MonoTime lease_surely_expired_at() const { return lease_expired_at_; }

  // The caller withheld grants from the active on purpose (an operator's
  // failover that did not happen): its silence must not count as a failure
  // for another lease from `now`.
  void Reprieve(MonoTime now);

 private:
  DecisionTiming timing_;
  // Promotions wait for this even on the fast path: leader_since + lease +
  // margin.
  MonoTime first_promotion_at_;
  // Never moves backwards.
  MonoTime lease_expired_at_;
  // Epoch and active that lease_expired_at_ is for (set by a grant, or by
  // Decide() on first seeing them); a change restarts the failure detection
  // by counting the change as a grant. Unset (tracking_ false) until the
  // first call: leader_since already covers the state this leader found.
  bool tracking_ = false;
  uint64_t granted_epoch_ = 0;
  std::string granted_active_;
  // Highest epoch Decide() promoted to: a state below it is stale, and its
  // active is not granted (the promotion may be persisting right now).
  uint64_t decided_epoch_ = 0;
  // When the tracked active's agent first reported its process gone (reset
  // by a report that says otherwise, or a new active).
  std::optional<MonoTime> gone_since_;

  void Track(const ClusterState& state, MonoTime now);
  // Track() plus the fast-path bookkeeping every Decide* starts with.
  void Observe(const ClusterState& state, const Reports& reports, MonoTime now);
};

// Healthy enough to be granted the active role or to be promoted: health OK
// or DEGRADED, process not gone, stream open (an ended stream says nothing
// about the present).
bool IsHealthyReport(const InstanceReport& report);

// Effective priority of `instance`: the config's, else the one it reports.
uint32_t EffectivePriority(const ClusterConfig& config, const std::string& instance, const InstanceReport* report);

}  // namespace baton::arbiter

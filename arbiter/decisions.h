// The arbiter leader's decisions for one cluster, as pure functions of the
// stored state, the config, the agents' latest reports and the time the
// caller passes in: no I/O, no clock of its own, so every rule is unit-tested
// on a manual clock (docs/arbiter.md has the rules and why).
//
// Thread-safety: none; the leader's decision thread owns each decider.
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

// The latest heartbeat of one instance as the leader received it.
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
};
std::string_view PromotionReasonName(PromotionReason reason);

struct Decision {
  // State to persist before anyone is told (a guarded multi-op); nullopt when
  // nothing changes.
  std::optional<ClusterState> new_state;
  // One line for the log and the event history: "promote g2 to active at
  // epoch 4 (process_gone: g1's agent reports its gateway exited)".
  std::string reason;
  std::optional<PromotionReason> promotion;
  // When the failure that this promotion answers was detected (for the
  // detection-to-active metric).
  MonoTime detected_at{};
  // When the cluster has no usable active and nothing can be done yet: what
  // the decider waits for ("lease of g1: 830 ms left", "fresh reports from 2
  // of the sync set {g2,g3}", "maintenance").
  std::string waiting_for;
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
  // agent reports the gateway unhealthy or gone; a standby or unassigned
  // member is granted when it is a member; a non-member is refused until
  // Decide() has added it.
  bool ShouldGrant(const ClusterState& state, const std::string& instance, const InstanceReport& report);

  // What to do now. Rules, in order:
  //  1. Membership: a reporting instance of this cluster that is not a member
  //     (or whose address changed) is added; a member with priority >= 1
  //     that reports ROLE_STANDBY at the state's epoch and is healthy joins
  //     the sync set. (Adding to the sync set is always safe; removing never
  //     happens here.)
  //  2. Bootstrap (epoch 0, no active): once leader_since + lease + margin
  //     has passed, promote the best healthy reporting member with priority
  //     >= 1; the others with priority >= 1 form the sync set.
  //  3. Failure of the active: detected when its agent reports the process
  //     gone (fast path, no wait) or when the lease is surely expired (no
  //     grant for lease + margin, counting leader_since as a grant).
  //  4. Promotion: candidates are sync-set members whose healthy report
  //     arrived after the detection. At least |sync_set| - k + 1 of them
  //     must have reported (k = effective sync_standbys), so that every
  //     acknowledged write is on one of them; the best is the highest
  //     durable position, then priority, then the lowest id. The new epoch
  //     is one above every epoch stored or reported.
  //  Maintenance skips 2-4. Never more than one promotion per call.
  Decision Decide(const ClusterState& state, const ClusterConfig& config, const Reports& reports, MonoTime now);

  // The time after which any lease this replica (or a predecessor) granted
  // to the current active has surely run out.
  MonoTime lease_surely_expired_at() const { return lease_expired_at_; }

 private:
  DecisionTiming timing_;
  MonoTime lease_expired_at_;
  // Epoch and active the last grant was for; a change resets the failure
  // detection.
  uint64_t granted_epoch_ = 0;
  std::string granted_active_;
};

// Effective priority of `instance`: the config's, else the one it reports.
uint32_t EffectivePriority(const ClusterConfig& config, const std::string& instance, const InstanceReport* report);

}  // namespace baton::arbiter

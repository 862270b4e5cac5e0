// What the arbiter keeps in ZooKeeper for each cluster (docs/arbiter.md):
// `clusters/{c}/state` (who is active at which epoch, the members and the
// sync set) and `clusters/{c}/config` (operator settings). Both are JSON
// objects; decoding rejects unknown fields and wrong types with an error that
// names the field, so a hand-edited znode cannot silently change behaviour.
//
// Plain values: copy freely; no thread-safety of their own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/v1/control.pb.h"
#include "common/mirror_target.h"
#include "common/status.h"

namespace baton::arbiter {

// A log position as the arbiter stores it: (epoch, seq), ordered as the log.
struct StoredPosition {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  auto operator<=>(const StoredPosition&) const = default;
};

struct ClusterState {
  // Epoch of the current (or last) active; 0 before the first promotion.
  uint64_t epoch = 0;
  // Instance id of the active; empty while the cluster has none.
  std::string active;
  // Every instance of the cluster, the active included: id -> gRPC address.
  std::map<std::string, std::string> members;
  // Standby ids whose acks count for `sync_standbys` and from which a new
  // active is chosen. Sorted, no duplicates, never contains `active`.
  std::vector<std::string> sync_set;
  // Sync-set members not yet known to hold every acknowledged write
  // (docs/arbiter.md, "Joining the sync set"): id -> the durable position it
  // must reach. A member that joined at this epoch waits for the active to
  // report enforcing it (nullopt until then; the active's durable position in
  // that report is the bar); after a promotion every remaining member must
  // reach the new active's durable position. Every key is in sync_set.
  std::map<std::string, std::optional<StoredPosition>> sync_pending;
  // Automatic failover paused (issue 7 sets it through REST).
  bool maintenance = false;

  // ZooKeeper data version of the znode this was read from (-1: not stored
  // yet). Not serialized: it is the compare-and-set token.
  int32_t zk_version = -1;

  bool operator==(const ClusterState& other) const;
};

struct ClusterConfig {
  // Sync standbys that must have a write durable before it is acknowledged;
  // the effective value is min(sync_standbys, sync_set size).
  uint32_t sync_standbys = 1;
  // Instance id -> priority; overrides the priority the agent reports. A
  // priority of 0 keeps an instance out of the sync set and never promotes it.
  std::map<std::string, uint32_t> priorities;
  // "async" or "sync" (mirroring, issue 8).
  std::string mirror_mode = "async";
  // Increases with every change (compare-and-set from REST).
  uint64_t version = 1;

  int32_t zk_version = -1;  // as ClusterState::zk_version

  bool operator==(const ClusterConfig& other) const;
};

std::string EncodeClusterState(const ClusterState& state);
// INVALID_ARGUMENT naming the field on malformed input: not a JSON object,
// an unknown field, a wrong type, an active or sync-set id that is not a
// member, the active in the sync set, a pending id not in the sync set.
// Missing fields keep their defaults; the
// sync set comes back sorted and deduplicated. Never throws. Encode writes
// that normal form (dropping the active and duplicates from the sync set).
Result<ClusterState> DecodeClusterState(std::string_view json);

std::string EncodeClusterConfig(const ClusterConfig& config);
// As DecodeClusterState; also refuses a mirror_mode other than "async" or
// "sync" and values that do not fit uint32 (sync_standbys, priorities).
Result<ClusterConfig> DecodeClusterConfig(std::string_view json);

// The assignment every member of the cluster gets from `state` (without
// lease_ms and failsafe, which the caller sets): the active is told it is
// active with the standby and sync sets; every other member that it is a
// standby of the active. Members are matched by instance id; an id that is
// not a member gets ROLE_UNASSIGNED. Every member gets `mirror_targets` (the
// cluster's, see MirrorTargetsFor in arbiter/mirror_targets.h) in the order
// given: a standby has them ready when it is promoted, and a change of them
// changes the assignment, so agents apply it (AssignRole) at once.
v1::Assignment AssignmentFor(const ClusterState& state, const ClusterConfig& config, const std::string& instance,
                             const std::vector<MirrorTargetSpec>& mirror_targets = {});

}  // namespace baton::arbiter

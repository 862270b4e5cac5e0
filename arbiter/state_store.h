// StateStore: cluster state and config in ZooKeeper under `root`
// (docs/arbiter.md "ZooKeeper layout"). Reads are plain; every write is one
// multi-op that first checks the writer's election znode, so a replica that
// lost its leadership (znode gone with its session) cannot change anything,
// and is compare-and-set on the znode's version, so two writers cannot
// interleave.
//
// Thread-safety: thread-safe (ZkClient is). `zk` must outlive the store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "arbiter/cluster_state.h"
#include "arbiter/mirror_targets.h"
#include "common/mirror_target.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/zk_client.h"

namespace baton::arbiter {

// Events read so far, by sequence number. An event znode never changes once
// written, so readers keep what they read; the cache is only valid for one
// incarnation of the events znode (its czxid), since a recreated one
// numbers its children from 0 again. Thread-safe.
class EventCache {
 public:
  // Forgets everything unless `events_czxid` is the one cached for.
  void Validate(int64_t events_czxid) EXCLUDES(mu_);
  std::optional<std::string> Find(uint64_t seq) const EXCLUDES(mu_);
  // Keeps at most `keep` events, the newest.
  void Put(uint64_t seq, const std::string& json, size_t keep) EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  int64_t czxid_ GUARDED_BY(mu_) = 0;
  std::map<uint64_t, std::string> events_ GUARDED_BY(mu_);
};

class StateStore {
 public:
  StateStore(ZkClient& zk, std::string root);

  const std::string& root() const { return root_; }
  std::string ClusterPath(const std::string& cluster) const;
  std::string ElectionDir() const { return root_ + "/arbiter/election"; }

  // Names of the clusters that have a znode.
  Result<std::vector<std::string>> ListClusters();
  // A cluster without a state znode gets ClusterState{} with zk_version -1.
  Result<ClusterState> LoadState(const std::string& cluster);
  // A cluster without a config znode gets ClusterConfig{} with zk_version -1.
  Result<ClusterConfig> LoadConfig(const std::string& cluster);

  // Writes `state` if its zk_version is still the stored one (-1: creates
  // it) and `election_path` still exists. Returns the new zk_version.
  // ABORTED: someone else changed it (reload); NOT_FOUND naming the election
  // znode: this replica no longer leads; UNAVAILABLE: connection lost, the
  // write may or may not have happened (reload before deciding again).
  Result<int32_t> WriteState(const std::string& election_path, const std::string& cluster,
                             const ClusterState& state);
  // The same for the config.
  Result<int32_t> WriteConfig(const std::string& election_path, const std::string& cluster,
                              const ClusterConfig& config);

  // The leader's latest observation of the cluster (`clusters/{c}/observed`,
  // docs/operator-api.md "Who answers"): replaced whole, guarded by the
  // election znode, no version check (only the leader writes it).
  Status WriteObserved(const std::string& election_path, const std::string& cluster, const std::string& json);
  // nullopt when the leader never published one.
  Result<std::optional<std::string>> ReadObserved(const std::string& cluster);

  // Mirror targets under `mirror-targets/{name}`, one JSON znode each
  // (arbiter/mirror_targets.h). The directory znode's data records which
  // names the config seeded, so that a seeded target an operator deleted is
  // not seeded again.
  std::string MirrorTargetsDir() const { return root_ + "/mirror-targets"; }
  // Every target, sorted by name. One that does not decode (a hand edit) is
  // left out and its error, naming the znode, added to `unreadable` (when
  // given): one bad znode must not stop the delivery to every other target.
  Result<std::vector<StoredMirrorTarget>> ListMirrorTargets(std::vector<Status>* unreadable = nullptr);
  // nullopt when there is none of that name; INVALID_ARGUMENT naming the
  // znode when it does not decode.
  Result<std::optional<StoredMirrorTarget>> ReadMirrorTarget(const std::string& name);
  // Creates the target (zk_version -1) or replaces it if its znode is still
  // at zk_version; returns the new zk_version. ABORTED: it exists (create) or
  // changed or is gone (replace); UNAVAILABLE naming the election znode: this
  // replica no longer leads; other UNAVAILABLE: connection lost, the write may
  // have happened.
  Result<int32_t> WriteMirrorTarget(const std::string& election_path, const MirrorTargetSpec& target,
                                    int32_t zk_version);
  // Deletes it if its znode is at zk_version (-1: any). NOT_FOUND: there is
  // none; ABORTED: it changed; UNAVAILABLE as for WriteMirrorTarget.
  Status DeleteMirrorTarget(const std::string& election_path, const std::string& name, int32_t zk_version);
  // Creates each of `targets` whose name was never seeded before and does
  // not exist (operators' changes win over the config), and records the
  // names as seeded; guarded like every write. Returns the names created.
  Result<std::vector<std::string>> SeedMirrorTargets(const std::string& election_path,
                                                     const std::vector<MirrorTargetSpec>& targets);

  // Event history under `events/`: one persistent sequential znode per
  // event, created in guarded multi-ops (a deposed leader adds nothing).
  Status AppendEvents(const std::string& election_path, const std::vector<std::string>& events_json);
  // Deletes the oldest events beyond `keep`.
  Status TrimEvents(size_t keep);
  struct StoredEvent {
    uint64_t seq = 0;  // ZooKeeper's sequence number: increases with every event
    std::string json;
  };
  // The newest events, oldest first: up to `limit` of those `accept`
  // returns true for (all when unset), looking at no more than the whole
  // history. With a cache, only events it lacks are read from ZooKeeper.
  Result<std::vector<StoredEvent>> ReadEvents(size_t limit,
                                              const std::function<bool(const std::string& json)>& accept = {},
                                              EventCache* cache = nullptr);

 private:
  Result<int32_t> GuardedWrite(const std::string& election_path, const std::string& parent,
                               const std::string& path, const std::string& data, int32_t zk_version);
  // A failed guarded multi's status, with the election znode's absence (this
  // replica no longer leads) told apart from the change's own NOT_FOUND.
  Status LeadershipLost(const std::string& election_path, const Status& failed);

  ZkClient& zk_;
  const std::string root_;
};

}  // namespace baton::arbiter

// StateStore: cluster state and config in ZooKeeper under `root`
// (docs/arbiter.md "ZooKeeper layout"). Reads are plain; every write is one
// multi-op that first checks the writer's election znode, so a replica that
// lost its leadership (znode gone with its session) cannot change anything,
// and is compare-and-set on the znode's version, so two writers cannot
// interleave.
//
// Thread-safety: thread-safe (ZkClient is). `zk` must outlive the store.
#pragma once

#include <string>
#include <vector>

#include "arbiter/cluster_state.h"
#include "common/status.h"
#include "common/zk_client.h"

namespace baton::arbiter {

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

 private:
  Result<int32_t> GuardedWrite(const std::string& election_path, const std::string& cluster,
                               const std::string& path, const std::string& data, int32_t zk_version);

  ZkClient& zk_;
  const std::string root_;
};

}  // namespace baton::arbiter

#include "arbiter/state_store.h"

namespace baton::arbiter {

StateStore::StateStore(ZkClient& zk, std::string root) : zk_(zk), root_(std::move(root)) {}

std::string StateStore::ClusterPath(const std::string& cluster) const { return root_ + "/clusters/" + cluster; }

Result<std::vector<std::string>> StateStore::ListClusters() {
  auto children = zk_.GetChildren(root_ + "/clusters");
  if (!children.ok() && children.status().code() == StatusCode::kNotFound) return std::vector<std::string>{};
  return children;
}

Result<ClusterState> StateStore::LoadState(const std::string& cluster) {
  const std::string path = ClusterPath(cluster) + "/state";
  auto node = zk_.Get(path);
  if (!node.ok()) {
    if (node.status().code() == StatusCode::kNotFound) return ClusterState{};
    return node.status();
  }
  auto state = DecodeClusterState(node->data);
  if (!state.ok()) return state.status().WithContext(path);
  state->zk_version = node->stat.version;
  return state;
}

Result<ClusterConfig> StateStore::LoadConfig(const std::string& cluster) {
  const std::string path = ClusterPath(cluster) + "/config";
  auto node = zk_.Get(path);
  if (!node.ok()) {
    if (node.status().code() == StatusCode::kNotFound) return ClusterConfig{};
    return node.status();
  }
  auto config = DecodeClusterConfig(node->data);
  if (!config.ok()) return config.status().WithContext(path);
  config->zk_version = node->stat.version;
  return config;
}

Result<int32_t> StateStore::WriteState(const std::string& election_path, const std::string& cluster,
                                       const ClusterState& state) {
  return GuardedWrite(election_path, cluster, ClusterPath(cluster) + "/state", EncodeClusterState(state),
                      state.zk_version);
}

Result<int32_t> StateStore::WriteConfig(const std::string& election_path, const std::string& cluster,
                                        const ClusterConfig& config) {
  return GuardedWrite(election_path, cluster, ClusterPath(cluster) + "/config", EncodeClusterConfig(config),
                      config.zk_version);
}

Result<int32_t> StateStore::GuardedWrite(const std::string& election_path, const std::string& cluster,
                                         const std::string& path, const std::string& data, int32_t zk_version) {
  if (election_path.empty()) return Status::FailedPrecondition("not in the election; cannot write " + path);
  // The cluster's own znode carries nothing; creating it unguarded is
  // harmless and keeps the guarded multi to check + one change.
  BATON_RETURN_IF_ERROR(zk_.EnsurePath(ClusterPath(cluster)));
  std::vector<ZkOp> ops;
  ops.push_back(ZkOp::Check(election_path, -1));
  if (zk_version < 0) {
    ops.push_back(ZkOp::Create(path, data));
  } else {
    ops.push_back(ZkOp::Set(path, data, zk_version));
  }
  auto done = zk_.Multi(ops);
  if (!done.ok()) {
    // A create that finds the node was raced by another writer: the same
    // answer as a stale version.
    if (done.status().code() == StatusCode::kAlreadyExists) {
      return Status::Aborted(done.status().message());
    }
    return done.status();
  }
  return zk_version < 0 ? 0 : zk_version + 1;
}

}  // namespace baton::arbiter

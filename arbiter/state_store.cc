#include "arbiter/state_store.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

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
  return GuardedWrite(election_path, ClusterPath(cluster), ClusterPath(cluster) + "/state", EncodeClusterState(state),
                      state.zk_version);
}

Result<int32_t> StateStore::WriteConfig(const std::string& election_path, const std::string& cluster,
                                        const ClusterConfig& config) {
  return GuardedWrite(election_path, ClusterPath(cluster), ClusterPath(cluster) + "/config",
                      EncodeClusterConfig(config), config.zk_version);
}

Result<int32_t> StateStore::GuardedWrite(const std::string& election_path, const std::string& parent,
                                         const std::string& path, const std::string& data, int32_t zk_version) {
  if (election_path.empty()) return Status::FailedPrecondition("not in the election; cannot write " + path);
  // The parent (a cluster's znode, the mirror-targets directory) carries
  // nothing the writes depend on; creating it unguarded is harmless and keeps
  // the guarded multi to check + one change.
  BATON_RETURN_IF_ERROR(zk_.EnsurePath(parent));
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

Status StateStore::LeadershipLost(const std::string& election_path, const Status& failed) {
  if (failed.code() != StatusCode::kNotFound) return failed;
  auto election = zk_.Exists(election_path);
  if (election.ok() && !election->has_value()) {
    return Status::Unavailable("this arbiter replica no longer leads (" + election_path + " is gone); retry");
  }
  return failed;
}

namespace {

// The mirror-targets directory's data: {"seeded": [names]}. Anything else
// (empty data of a directory created by EnsurePath) is "nothing seeded".
std::set<std::string> SeededNames(const std::string& data) {
  std::set<std::string> names;
  nlohmann::json doc = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("seeded") || !doc["seeded"].is_array()) return names;
  for (const nlohmann::json& name : doc["seeded"]) {
    if (name.is_string()) names.insert(name.get<std::string>());
  }
  return names;
}

}  // namespace

Result<std::vector<StoredMirrorTarget>> StateStore::ListMirrorTargets(std::vector<Status>* unreadable) {
  auto children = zk_.GetChildren(MirrorTargetsDir());
  if (!children.ok()) {
    if (children.status().code() == StatusCode::kNotFound) return std::vector<StoredMirrorTarget>{};
    return children.status();
  }
  std::vector<StoredMirrorTarget> targets;
  for (const std::string& name : *children) {  // sorted by the client
    auto target = ReadMirrorTarget(name);
    if (!target.ok()) {
      if (target.status().code() != StatusCode::kInvalidArgument) return target.status();
      if (unreadable != nullptr) unreadable->push_back(target.status());
      continue;
    }
    if (*target) targets.push_back(std::move(**target));  // absent: deleted meanwhile
  }
  return targets;
}

Result<std::optional<StoredMirrorTarget>> StateStore::ReadMirrorTarget(const std::string& name) {
  const std::string path = MirrorTargetsDir() + "/" + name;
  auto node = zk_.Get(path);
  if (!node.ok()) {
    if (node.status().code() == StatusCode::kNotFound) return std::optional<StoredMirrorTarget>();
    return node.status();
  }
  auto spec = DecodeMirrorTarget(node->data);
  if (!spec.ok()) return spec.status().WithContext(path);
  if (spec->name != name) {
    return Status::InvalidArgument(path + ": mirror target: field \"name\": \"" + spec->name +
                                   "\" differs from the znode's name");
  }
  return std::optional<StoredMirrorTarget>(StoredMirrorTarget{std::move(spec).value(), node->stat.version});
}

Result<int32_t> StateStore::WriteMirrorTarget(const std::string& election_path, const MirrorTargetSpec& target,
                                              int32_t zk_version) {
  auto written = GuardedWrite(election_path, MirrorTargetsDir(), MirrorTargetsDir() + "/" + target.name,
                              EncodeMirrorTarget(target), zk_version);
  if (written.ok()) return written;
  Status failed = LeadershipLost(election_path, written.status());
  // Replacing a target deleted meanwhile: it changed under the caller.
  if (failed.code() == StatusCode::kNotFound) return Status::Aborted(failed.message());
  return failed;
}

Status StateStore::DeleteMirrorTarget(const std::string& election_path, const std::string& name, int32_t zk_version) {
  if (election_path.empty()) return Status::FailedPrecondition("not in the election; cannot delete " + name);
  auto done = zk_.Multi({ZkOp::Check(election_path, -1), ZkOp::Delete(MirrorTargetsDir() + "/" + name, zk_version)});
  if (done.ok()) return Status::Ok();
  return LeadershipLost(election_path, done.status());
}

Result<std::vector<std::string>> StateStore::SeedMirrorTargets(const std::string& election_path,
                                                                const std::vector<MirrorTargetSpec>& targets) {
  if (election_path.empty()) return Status::FailedPrecondition("not in the election; cannot seed mirror targets");
  std::vector<std::string> created;
  if (targets.empty()) return created;
  const std::string dir = MirrorTargetsDir();
  BATON_RETURN_IF_ERROR(zk_.EnsurePath(dir));
  BATON_ASSIGN_OR_RETURN(ZkNode node, zk_.Get(dir));
  std::set<std::string> seeded = SeededNames(node.data);
  std::vector<ZkOp> ops{ZkOp::Check(election_path, -1)};
  for (const MirrorTargetSpec& target : targets) {
    if (seeded.contains(target.name)) continue;
    seeded.insert(target.name);
    BATON_ASSIGN_OR_RETURN(std::optional<ZkStat> exists, zk_.Exists(dir + "/" + target.name));
    if (exists) continue;  // created through REST first: that one stays
    ops.push_back(ZkOp::Create(dir + "/" + target.name, EncodeMirrorTarget(target)));
    created.push_back(target.name);
  }
  const nlohmann::json record = {{"seeded", seeded}};
  if (record.dump() == node.data) return created;  // nothing new to seed
  // The directory's version makes this a compare-and-set: a racing seed (a
  // previous leader's, still running) fails it and the caller retries.
  ops.push_back(ZkOp::Set(dir, record.dump(), node.stat.version));
  auto done = zk_.Multi(ops);
  if (!done.ok()) {
    Status failed = LeadershipLost(election_path, done.status());
    if (failed.code() == StatusCode::kAlreadyExists) return Status::Aborted(failed.message());
    return failed;
  }
  return created;
}

Status StateStore::WriteObserved(const std::string& election_path, const std::string& cluster,
                                 const std::string& json) {
  if (election_path.empty()) return Status::FailedPrecondition("not in the election; cannot publish status");
  const std::string path = ClusterPath(cluster) + "/observed";
  auto set = zk_.Multi({ZkOp::Check(election_path, -1), ZkOp::Set(path, json, -1)});
  if (set.ok() || set.status().code() != StatusCode::kNotFound) return set.status();
  BATON_RETURN_IF_ERROR(zk_.EnsurePath(ClusterPath(cluster)));
  auto created = zk_.Multi({ZkOp::Check(election_path, -1), ZkOp::Create(path, json)});
  // Lost a race with our own earlier attempt: the next publication sets it.
  if (!created.ok() && created.status().code() == StatusCode::kAlreadyExists) return Status::Ok();
  return created.status();
}

Result<std::optional<std::string>> StateStore::ReadObserved(const std::string& cluster) {
  auto node = zk_.Get(ClusterPath(cluster) + "/observed");
  if (!node.ok()) {
    if (node.status().code() == StatusCode::kNotFound) return std::optional<std::string>();
    return node.status();
  }
  return std::optional<std::string>(std::move(node->data));
}

Status StateStore::AppendEvents(const std::string& election_path, const std::vector<std::string>& events_json) {
  if (election_path.empty()) return Status::FailedPrecondition("not in the election; cannot record events");
  if (events_json.empty()) return Status::Ok();
  BATON_RETURN_IF_ERROR(zk_.EnsurePath(root_ + "/events"));
  // Bounded multi-ops: ZooKeeper caps a request at jute.maxbuffer (1 MB).
  constexpr size_t kPerMulti = 50;
  for (size_t begin = 0; begin < events_json.size(); begin += kPerMulti) {
    std::vector<ZkOp> ops{ZkOp::Check(election_path, -1)};
    for (size_t i = begin; i < std::min(events_json.size(), begin + kPerMulti); ++i) {
      ops.push_back(ZkOp::Create(root_ + "/events/e-", events_json[i], CreateMode::kPersistentSequential));
    }
    BATON_RETURN_IF_ERROR(zk_.Multi(ops).status());
  }
  return Status::Ok();
}

namespace {

// "e-0000000041" -> 41; nullopt for a name we did not create.
std::optional<uint64_t> EventSeq(const std::string& name) {
  if (name.size() <= 2 || name.compare(0, 2, "e-") != 0) return std::nullopt;
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(name.data() + 2, name.data() + name.size(), seq);
  if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return seq;
}

// Event znode names, oldest first.
Result<std::vector<std::pair<uint64_t, std::string>>> EventNames(ZkClient& zk, const std::string& dir) {
  auto children = zk.GetChildren(dir);
  if (!children.ok()) {
    if (children.status().code() == StatusCode::kNotFound) return std::vector<std::pair<uint64_t, std::string>>{};
    return children.status();
  }
  std::vector<std::pair<uint64_t, std::string>> names;
  for (std::string& child : *children) {
    if (auto seq = EventSeq(child)) names.emplace_back(*seq, std::move(child));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Status StateStore::TrimEvents(size_t keep) {
  BATON_ASSIGN_OR_RETURN(auto names, EventNames(zk_, root_ + "/events"));
  if (names.size() <= keep) return Status::Ok();
  for (size_t i = 0; i < names.size() - keep; ++i) {
    Status deleted = zk_.Delete(root_ + "/events/" + names[i].second);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return deleted;
  }
  return Status::Ok();
}

Result<std::vector<StateStore::StoredEvent>> StateStore::ReadEvents(
    size_t limit, const std::function<bool(const std::string& json)>& accept, EventCache* cache) {
  const std::string dir = root_ + "/events";
  if (cache != nullptr) {
    BATON_ASSIGN_OR_RETURN(std::optional<ZkStat> stat, zk_.Exists(dir));
    if (!stat) return std::vector<StoredEvent>{};
    cache->Validate(stat->czxid);
  }
  BATON_ASSIGN_OR_RETURN(auto names, EventNames(zk_, dir));
  std::vector<StoredEvent> newest_first;
  for (auto it = names.rbegin(); it != names.rend() && newest_first.size() < limit; ++it) {
    std::optional<std::string> json = cache != nullptr ? cache->Find(it->first) : std::nullopt;
    if (!json) {
      auto node = zk_.Get(dir + "/" + it->second);
      if (!node.ok()) {
        if (node.status().code() == StatusCode::kNotFound) continue;  // trimmed meanwhile
        return node.status();
      }
      json = std::move(node->data);
      if (cache != nullptr) cache->Put(it->first, *json, names.size());
    }
    if (accept && !accept(*json)) continue;
    newest_first.push_back({it->first, std::move(*json)});
  }
  return std::vector<StoredEvent>(newest_first.rbegin(), newest_first.rend());
}

void EventCache::Validate(int64_t events_czxid) {
  MutexLock lock(&mu_);
  if (czxid_ == events_czxid) return;
  czxid_ = events_czxid;
  events_.clear();
}

std::optional<std::string> EventCache::Find(uint64_t seq) const {
  MutexLock lock(&mu_);
  auto it = events_.find(seq);
  if (it == events_.end()) return std::nullopt;
  return it->second;
}

void EventCache::Put(uint64_t seq, const std::string& json, size_t keep) {
  MutexLock lock(&mu_);
  events_[seq] = json;
  while (events_.size() > std::max<size_t>(keep, 1)) events_.erase(events_.begin());
}

}  // namespace baton::arbiter

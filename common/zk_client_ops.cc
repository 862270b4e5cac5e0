// ZkClient data calls: thin synchronous wrappers over zoo_* that turn return
// codes into Status. Lifecycle and watches are in zk_client.cc.
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include <spdlog/fmt/fmt.h>

#include "common/zk_client.h"

namespace baton {
namespace {

// First guess for Get(); larger nodes are read again with the exact size.
constexpr int kInitialGetBuffer = 16 * 1024;
// Room for the 10-digit suffix a sequential create appends, plus NUL.
constexpr size_t kSequenceSuffix = 16;

int ModeToZk(CreateMode mode) {
  switch (mode) {
    case CreateMode::kPersistent: return ZOO_PERSISTENT;
    case CreateMode::kEphemeral: return ZOO_EPHEMERAL;
    case CreateMode::kPersistentSequential: return ZOO_PERSISTENT_SEQUENTIAL;
    case CreateMode::kEphemeralSequential: return ZOO_EPHEMERAL_SEQUENTIAL;
  }
  return ZOO_PERSISTENT;
}

ZkStat StatFromZk(const Stat& s) {
  return ZkStat{s.version, s.cversion, s.czxid, s.mzxid, s.ephemeralOwner, s.numChildren, s.dataLength};
}

std::string_view OpName(ZkOp::Type type) {
  switch (type) {
    case ZkOp::Type::kCheck: return "check";
    case ZkOp::Type::kCreate: return "create";
    case ZkOp::Type::kSet: return "set";
    case ZkOp::Type::kDelete: return "delete";
  }
  return "op";
}

// ZooKeeper takes data lengths as int.
Status CheckDataSize(std::string_view op, const std::string& path, std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return Status::InvalidArgument(fmt::format("zookeeper {} {}: {} bytes of data is too large", op, path, data.size()));
  }
  return Status::Ok();
}

}  // namespace

Status ZkClient::ZkError(int rc, std::string_view op, std::string_view path) {
  std::string message = fmt::format("zookeeper {} {}: {}", op, path, zerror(rc));
  switch (rc) {
    case ZOK: return Status::Ok();
    case ZNONODE: return Status::NotFound(std::move(message));
    case ZNODEEXISTS: return Status::AlreadyExists(std::move(message));
    case ZBADVERSION: return Status::Aborted(std::move(message));
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT: return Status::Unavailable(std::move(message));
    // ZINVALIDSTATE: the C client refuses calls once the handle is expired
    // (or auth failed); for the caller that is the same as an expired session.
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZNOTEMPTY: return Status::FailedPrecondition(std::move(message));
    case ZBADARGUMENTS: return Status::InvalidArgument(std::move(message));
    default: return Status::Internal(std::move(message));
  }
}

Result<std::string> ZkClient::Create(const std::string& path, std::string_view data, CreateMode mode) {
  BATON_RETURN_IF_ERROR(CheckDataSize("create", path, data));
  std::string created(path.size() + kSequenceSuffix, '\0');
  int rc = zoo_create(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE,
                      ModeToZk(mode), created.data(), static_cast<int>(created.size()));
  if (rc != ZOK) return ZkError(rc, "create", path);
  created.resize(std::strlen(created.c_str()));
  return created;
}

Result<ZkNode> ZkClient::GetW(const std::string& path, ZkWatchCallback watch) {
  uint64_t id = watch ? AddWatch(path, std::move(watch)) : 0;
  watcher_fn fn = id != 0 ? &ZkClient::OnWatchEvent : nullptr;
  void* ctx = reinterpret_cast<void*>(static_cast<uintptr_t>(id));
  std::string buffer(kInitialGetBuffer, '\0');
  // A node can grow between reads; a few rounds settle it. Re-reading with the
  // same watcher context does not register the watch twice.
  for (int attempt = 0; attempt < 4; ++attempt) {
    int len = static_cast<int>(buffer.size());
    Stat stat{};
    int rc = zoo_wget(zh_, path.c_str(), fn, ctx, buffer.data(), &len, &stat);
    if (rc != ZOK) {
      if (id != 0) RemoveWatch(id);
      return ZkError(rc, "get", path);
    }
    if (stat.dataLength <= static_cast<int>(buffer.size())) {
      buffer.resize(static_cast<size_t>(std::max(len, 0)));
      return ZkNode{std::move(buffer), StatFromZk(stat)};
    }
    buffer.assign(static_cast<size_t>(stat.dataLength), '\0');
  }
  if (id != 0) RemoveWatch(id);
  return Status::Aborted(fmt::format("zookeeper get {}: data kept changing size while read", path));
}

Result<int32_t> ZkClient::Set(const std::string& path, std::string_view data, int32_t expected_version) {
  BATON_RETURN_IF_ERROR(CheckDataSize("set", path, data));
  Stat stat{};
  int rc = zoo_set2(zh_, path.c_str(), data.data(), static_cast<int>(data.size()), expected_version, &stat);
  if (rc != ZOK) return ZkError(rc, "set", path);
  return stat.version;
}

Status ZkClient::Delete(const std::string& path, int32_t expected_version) {
  return ZkError(zoo_delete(zh_, path.c_str(), expected_version), "delete", path);
}

Result<std::optional<ZkStat>> ZkClient::ExistsW(const std::string& path, ZkWatchCallback watch) {
  uint64_t id = watch ? AddWatch(path, std::move(watch)) : 0;
  Stat stat{};
  int rc = zoo_wexists(zh_, path.c_str(), id != 0 ? &ZkClient::OnWatchEvent : nullptr,
                       reinterpret_cast<void*>(static_cast<uintptr_t>(id)), &stat);
  // On ZNONODE the watch is set too: it fires when the node is created.
  if (rc == ZNONODE) return std::optional<ZkStat>();
  if (rc != ZOK) {
    if (id != 0) RemoveWatch(id);
    return ZkError(rc, "exists", path);
  }
  return std::optional<ZkStat>(StatFromZk(stat));
}

Result<std::vector<std::string>> ZkClient::GetChildrenW(const std::string& path, ZkWatchCallback watch) {
  uint64_t id = watch ? AddWatch(path, std::move(watch)) : 0;
  String_vector children{};
  int rc = zoo_wget_children(zh_, path.c_str(), id != 0 ? &ZkClient::OnWatchEvent : nullptr,
                             reinterpret_cast<void*>(static_cast<uintptr_t>(id)), &children);
  if (rc != ZOK) {
    if (id != 0) RemoveWatch(id);
    return ZkError(rc, "get_children", path);
  }
  std::vector<std::string> names(children.data, children.data + children.count);
  deallocate_String_vector(&children);
  std::sort(names.begin(), names.end());
  return names;
}

Status ZkClient::EnsurePath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument(fmt::format("zookeeper ensure_path {}: path must start with '/'", path));
  }
  if (path == "/") return Status::Ok();
  BATON_ASSIGN_OR_RETURN(std::optional<ZkStat> existing, Exists(path));
  if (existing.has_value()) return Status::Ok();
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    auto created = Create(path.substr(0, end), "", CreateMode::kPersistent);
    // ALREADY_EXISTS: a parent, or a racing EnsurePath got there first.
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) return created.status();
    if (end == std::string::npos) return Status::Ok();
  }
}

Result<std::vector<std::string>> ZkClient::Multi(const std::vector<ZkOp>& ops) {
  const size_t n = ops.size();
  if (n == 0) return std::vector<std::string>();
  std::vector<zoo_op_t> zops(n);
  std::vector<std::string> created(n);  // path buffers for creates
  std::vector<Stat> stats(n);
  std::vector<zoo_op_result_t> results(n);  // zeroed: err stays ZOK if never filled
  for (size_t i = 0; i < n; ++i) {
    const ZkOp& op = ops[i];
    const char* path = op.path.c_str();
    BATON_RETURN_IF_ERROR(CheckDataSize("multi", op.path, op.data));
    int len = static_cast<int>(op.data.size());
    switch (op.type) {
      case ZkOp::Type::kCheck:
        zoo_check_op_init(&zops[i], path, op.version);
        break;
      case ZkOp::Type::kCreate:
        created[i].assign(op.path.size() + kSequenceSuffix, '\0');
        zoo_create_op_init(&zops[i], path, op.data.data(), len, &ZOO_OPEN_ACL_UNSAFE, ModeToZk(op.mode),
                           created[i].data(), static_cast<int>(created[i].size()));
        break;
      case ZkOp::Type::kSet:
        zoo_set_op_init(&zops[i], path, op.data.data(), len, op.version, &stats[i]);
        break;
      case ZkOp::Type::kDelete:
        zoo_delete_op_init(&zops[i], path, op.version);
        break;
    }
  }
  int rc = zoo_multi(zh_, static_cast<int>(n), zops.data(), results.data());
  if (rc != ZOK) {
    // The op that failed carries its own error; the others report ZOK (before
    // it) or ZRUNTIMEINCONSISTENCY (after it, not attempted).
    for (size_t i = 0; i < n; ++i) {
      int err = results[i].err;
      if (err != ZOK && err != ZRUNTIMEINCONSISTENCY) {
        return ZkError(err, fmt::format("multi op {} ({})", i, OpName(ops[i].type)), ops[i].path);
      }
    }
    return ZkError(rc, "multi", fmt::format("({} ops, first {})", n, ops[0].path));
  }
  std::vector<std::string> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (ops[i].type == ZkOp::Type::kCreate) out[i] = created[i].c_str();
  }
  return out;
}

}  // namespace baton

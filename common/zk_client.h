// ZkClient: a synchronous, Status-returning wrapper over the ZooKeeper C client
// (zookeeper_mt). One object = one ZooKeeper session.
//
// Contract
// - Every call blocks the calling thread until the server answers or the
//   connection is lost, and returns Status / Result<T>; nothing throws.
//   Codes: ZNONODE -> NOT_FOUND; ZNODEEXISTS -> ALREADY_EXISTS; ZBADVERSION ->
//   ABORTED (redo the read-modify-write); ZCONNECTIONLOSS, ZOPERATIONTIMEOUT ->
//   UNAVAILABLE (retry; a write may or may not have been applied);
//   ZSESSIONEXPIRED, and ZINVALIDSTATE once the handle is expired ->
//   FAILED_PRECONDITION (session gone: build a new client); ZNOTEMPTY ->
//   FAILED_PRECONDITION; ZBADARGUMENTS -> INVALID_ARGUMENT; others INTERNAL.
//   Messages name the operation, the path and zerror()'s text.
// - Watches are one-shot: a callback passed to GetW/ExistsW/GetChildrenW runs
//   exactly once, with the node event that triggered it, or with a kSession
//   event if the session expires first. A failed *W call never runs its
//   callback. Disconnects do not fire watches: the C client re-arms them when
//   it reconnects within the session.
// - Watch and state callbacks run one at a time, in the order ZooKeeper
//   delivered them, on a dispatcher thread owned by the client, never on the
//   C client's threads; so they may call back into this client synchronously.
//   They should not block for long: they delay all later callbacks.
//   Exceptions they throw are logged and swallowed.
//
// Thread-safety: thread-safe. The destructor must not run concurrently with
// other calls, nor on the dispatcher thread (i.e. not from inside a callback).
// It closes the session (ephemerals go away at once), waits for a running
// callback to return and drops callbacks not yet run. `options.clock` must
// outlive the client.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

struct _zhandle;  // zhandle_t from <zookeeper/zookeeper.h>

namespace baton {

enum class ZkState {
  kConnecting,    // before the first session is established
  kConnected,     // session established, requests flow
  kDisconnected,  // connection lost; the session may still be alive and the
                  // C client is reconnecting on its own
  kExpired,       // session expired (or auth failed): ephemerals are gone,
                  // every call fails; build a new client
};
std::string_view ZkStateName(ZkState state);

enum class CreateMode { kPersistent, kEphemeral, kPersistentSequential, kEphemeralSequential };

// The subset of ZooKeeper's Stat we use.
struct ZkStat {
  int32_t version = 0;          // data version, the CAS token for Set/Delete
  int32_t cversion = 0;         // children version
  int64_t czxid = 0;            // zxid of the create
  int64_t mzxid = 0;            // zxid of the last data change
  int64_t ephemeral_owner = 0;  // session id of the owner, 0 if persistent
  int32_t num_children = 0;
  int32_t data_length = 0;
};

struct ZkNode {
  std::string data;
  ZkStat stat;
};

enum class ZkEventType { kCreated, kDeleted, kChanged, kChild, kSession };
std::string_view ZkEventTypeName(ZkEventType type);

struct ZkWatchEvent {
  ZkEventType type;
  std::string path;  // the watched path (empty for kSession)
  ZkState state;     // connection state when the event was delivered
};

using ZkWatchCallback = std::function<void(const ZkWatchEvent&)>;

// One operation of an atomic Multi(). Build with the factories.
struct ZkOp {
  enum class Type { kCheck, kCreate, kSet, kDelete };

  static ZkOp Check(std::string path, int32_t version) {
    return {Type::kCheck, std::move(path), {}, version, CreateMode::kPersistent};
  }
  static ZkOp Create(std::string path, std::string data, CreateMode mode = CreateMode::kPersistent) {
    return {Type::kCreate, std::move(path), std::move(data), -1, mode};
  }
  static ZkOp Set(std::string path, std::string data, int32_t version = -1) {
    return {Type::kSet, std::move(path), std::move(data), version, CreateMode::kPersistent};
  }
  static ZkOp Delete(std::string path, int32_t version = -1) {
    return {Type::kDelete, std::move(path), {}, version, CreateMode::kPersistent};
  }

  Type type;
  std::string path;
  std::string data;     // kCreate, kSet
  int32_t version;      // kCheck, kSet, kDelete; -1 = any
  CreateMode mode;      // kCreate
};

struct ZkOptions {
  // "host:port,host:port".
  std::string connect_string;
  // Requested session timeout; the server clamps it to [2, 20] * tickTime
  // unless configured otherwise.
  int session_timeout_ms = 4000;
  // How long Connect() waits for the first session; 0 = session_timeout_ms.
  int connect_timeout_ms = 0;
  // Receives kConnected, kDisconnected and kExpired on the dispatcher thread.
  std::function<void(ZkState)> on_state;
  // Deadlines and retry delays; must outlive the client.
  Clock* clock = &RealClock();
};

class ZkClient {
 public:
  // Returns once the session is established. UNAVAILABLE, naming the connect
  // string, if that takes longer than the connect timeout.
  static Result<std::unique_ptr<ZkClient>> Connect(const ZkOptions& options);

  // Connect() until it succeeds, sleeping (on options.clock) 200 ms, 400 ms,
  // ... capped at 5 s, plus up to 20% jitter, between attempts; logs a warn
  // line per failed attempt. `stop` is polled after each attempt and every
  // 100 ms between attempts (not during one: an attempt lasts up to the
  // connect timeout); once true, returns CANCELLED with the last error.
  static Result<std::unique_ptr<ZkClient>> ConnectWithRetry(const ZkOptions& options,
                                                             const std::function<bool()>& stop);

  ~ZkClient();
  ZkClient(const ZkClient&) = delete;
  ZkClient& operator=(const ZkClient&) = delete;

  // Returns the created path (differs from `path` for sequential modes).
  Result<std::string> Create(const std::string& path, std::string_view data,
                             CreateMode mode = CreateMode::kPersistent);
  Result<ZkNode> Get(const std::string& path) { return GetW(path, nullptr); }
  // Watch fires on kChanged / kDeleted; not registered if the node is missing.
  Result<ZkNode> GetW(const std::string& path, ZkWatchCallback watch);
  // Returns the new version. ABORTED if `expected_version` (!= -1) is stale.
  Result<int32_t> Set(const std::string& path, std::string_view data, int32_t expected_version = -1);
  Status Delete(const std::string& path, int32_t expected_version = -1);
  // nullopt if the node does not exist.
  Result<std::optional<ZkStat>> Exists(const std::string& path) { return ExistsW(path, nullptr); }
  // Watch fires on kCreated / kChanged / kDeleted, also when the node is missing.
  Result<std::optional<ZkStat>> ExistsW(const std::string& path, ZkWatchCallback watch);
  // Child names (not paths), sorted.
  Result<std::vector<std::string>> GetChildren(const std::string& path) { return GetChildrenW(path, nullptr); }
  // Watch fires on kChild (a child created or deleted) / kDeleted.
  Result<std::vector<std::string>> GetChildrenW(const std::string& path, ZkWatchCallback watch);
  // Creates `path` and missing parents as empty persistent nodes. OK if it
  // already exists.
  Status EnsurePath(const std::string& path);
  // Applies all ops atomically or none. On success returns one string per op:
  // the created path for kCreate, empty for the others. On failure nothing
  // changed, the code is the failing op's and the message names it:
  // "zookeeper multi op 1 (check) /a: bad version" -> ABORTED.
  Result<std::vector<std::string>> Multi(const std::vector<ZkOp>& ops);

  ZkState state() const EXCLUDES(mu_);
  // 0 before the first session is established.
  int64_t session_id() const EXCLUDES(mu_);
  const std::string& connect_string() const { return options_.connect_string; }

 private:
  struct Watch {
    std::string path;
    ZkWatchCallback callback;
  };

  explicit ZkClient(const ZkOptions& options);

  // C callbacks; they run on the C client's threads and only enqueue.
  static void OnGlobalEvent(_zhandle* zh, int type, int state, const char* path, void* ctx);
  static void OnWatchEvent(_zhandle* zh, int type, int state, const char* path, void* ctx);
  void HandleSessionEvent(_zhandle* zh, int zk_state) EXCLUDES(mu_);
  void HandleWatchEvent(uint64_t id, int type) EXCLUDES(mu_);

  Status WaitConnected() EXCLUDES(mu_);
  uint64_t AddWatch(const std::string& path, ZkWatchCallback callback) EXCLUDES(mu_);
  void RemoveWatch(uint64_t id) EXCLUDES(mu_);
  // Turns a ZooKeeper return code into a Status naming `op` and `path`.
  static Status ZkError(int rc, std::string_view op, std::string_view path);

  void Post(std::function<void()> fn) REQUIRES(mu_);
  void PostState(ZkState state) REQUIRES(mu_);
  void DispatchLoop() EXCLUDES(mu_);

  const ZkOptions options_;
  _zhandle* zh_ = nullptr;  // set once in Connect(), closed in the destructor

  mutable Mutex mu_;
  CondVar state_cv_{&mu_};
  CondVar queue_cv_{&mu_};
  ZkState state_ GUARDED_BY(mu_) = ZkState::kConnecting;
  int64_t session_id_ GUARDED_BY(mu_) = 0;
  uint64_t next_watch_id_ GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Watch> watches_ GUARDED_BY(mu_);
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool closing_ GUARDED_BY(mu_) = false;
  std::thread dispatcher_;  // runs DispatchLoop(); started in the constructor
};

}  // namespace baton

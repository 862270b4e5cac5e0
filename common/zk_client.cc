// ZkClient lifecycle: session, connection state, watches and the dispatcher
// thread. The data calls are in zk_client_ops.cc.
#include "common/zk_client.h"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace baton {
namespace {

using std::chrono::milliseconds;

// The C client's own log lines. Its errors repeat on every reconnect attempt
// while a server is down, so they go to debug; ZkClient itself logs the state
// changes an operator cares about.
void LogToSpdlog(const char* message) {
  std::string_view line = message != nullptr ? message : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  spdlog::debug("zookeeper-c: {}", line);
}

void SetUpCLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    // Build spdlog's registry here, before the C client starts its threads,
    // rather than lazily on one of them (keeps TSan quiet; spdlog's static
    // initialisation is not instrumented).
    spdlog::default_logger_raw();
  });
}

ZkEventType EventTypeFromZk(int type) {
  if (type == ZOO_CREATED_EVENT) return ZkEventType::kCreated;
  if (type == ZOO_DELETED_EVENT) return ZkEventType::kDeleted;
  if (type == ZOO_CHANGED_EVENT) return ZkEventType::kChanged;
  if (type == ZOO_CHILD_EVENT) return ZkEventType::kChild;
  return ZkEventType::kSession;
}

// Runs a user callback; nothing it throws may unwind into our threads.
void RunGuarded(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::error("zookeeper callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("zookeeper callback threw a non-standard exception");
  }
}

}  // namespace

std::string_view ZkStateName(ZkState state) {
  switch (state) {
    case ZkState::kConnecting: return "connecting";
    case ZkState::kConnected: return "connected";
    case ZkState::kDisconnected: return "disconnected";
    case ZkState::kExpired: return "expired";
  }
  return "unknown";
}

std::string_view ZkEventTypeName(ZkEventType type) {
  switch (type) {
    case ZkEventType::kCreated: return "created";
    case ZkEventType::kDeleted: return "deleted";
    case ZkEventType::kChanged: return "changed";
    case ZkEventType::kChild: return "child";
    case ZkEventType::kSession: return "session";
  }
  return "unknown";
}

ZkClient::ZkClient(const ZkOptions& options) : options_(options), dispatcher_([this] { DispatchLoop(); }) {}

ZkClient::~ZkClient() {
  if (std::this_thread::get_id() == dispatcher_.get_id()) {
    // Joining ourselves would deadlock; this is a bug in the caller.
    spdlog::critical("ZkClient {} destroyed from its own callback", options_.connect_string);
    std::abort();
  }
  std::deque<std::function<void()>> dropped;
  std::unordered_map<uint64_t, Watch> dropped_watches;
  {
    MutexLock lock(&mu_);
    closing_ = true;
    dropped.swap(queue_);
    dropped_watches.swap(watches_);
  }
  queue_cv_.SignalAll();
  state_cv_.SignalAll();
  // A callback still running may use the handle, so close it only after the
  // dispatcher has stopped. Events the C client delivers while closing see
  // closing_ and are dropped.
  dispatcher_.join();
  if (zh_ != nullptr) {
    int rc = zookeeper_close(zh_);
    if (rc != ZOK) spdlog::debug("zookeeper {}: close: {}", options_.connect_string, zerror(rc));
  }
}

Result<std::unique_ptr<ZkClient>> ZkClient::Connect(const ZkOptions& options) {
  SetUpCLibraryOnce();
  // Not make_unique: the constructor is private so that only Connect() builds one.
  std::unique_ptr<ZkClient> client(new ZkClient(options));
  zhandle_t* zh = zookeeper_init2(options.connect_string.c_str(), &ZkClient::OnGlobalEvent,
                                  options.session_timeout_ms, nullptr, client.get(), 0, &LogToSpdlog);
  if (zh == nullptr) {
    return Status::Unavailable(
        fmt::format("zookeeper {}: cannot create handle: {}", options.connect_string, std::strerror(errno)));
  }
  client->zh_ = zh;
  BATON_RETURN_IF_ERROR(client->WaitConnected());
  return client;
}

Result<std::unique_ptr<ZkClient>> ZkClient::ConnectWithRetry(const ZkOptions& options,
                                                             const std::function<bool()>& stop) {
  constexpr Duration kFirstDelay = milliseconds(200);
  constexpr Duration kMaxDelay = milliseconds(5000);
  thread_local std::minstd_rand rng{std::random_device{}()};
  Clock& clock = *options.clock;
  Duration delay = kFirstDelay;
  for (int attempt = 1;; ++attempt) {
    auto client = Connect(options);
    if (client.ok()) {
      if (attempt > 1) spdlog::info("zookeeper {} reachable after {} attempts", options.connect_string, attempt);
      return client;
    }
    Status last = client.status();
    if (stop && stop()) {
      return Status::Cancelled(fmt::format("gave up after {} attempts: {}", attempt, last.message()));
    }
    // Jitter keeps a fleet that lost ZooKeeper together from retrying in lockstep.
    Duration wait = delay + std::chrono::duration_cast<Duration>(
                                delay * std::uniform_real_distribution<double>(0.0, 0.2)(rng));
    spdlog::warn("zookeeper {} unreachable, retrying in {}ms (attempt {}): {}", options.connect_string,
                 std::chrono::duration_cast<milliseconds>(wait).count(), attempt, last.message());
    MonoTime wake = clock.Now() + wait;
    for (MonoTime now = clock.Now(); now < wake; now = clock.Now()) {
      if (stop && stop()) {
        return Status::Cancelled(fmt::format("gave up after {} attempts: {}", attempt, last.message()));
      }
      clock.SleepFor(std::min<Duration>(wake - now, milliseconds(100)));
    }
    delay = std::min(delay * 2, kMaxDelay);
  }
}

Status ZkClient::WaitConnected() {
  int timeout_ms = options_.connect_timeout_ms > 0 ? options_.connect_timeout_ms : options_.session_timeout_ms;
  // The deadline follows the injected clock; the condition variable waits in
  // short real-time slices so that a ManualClock advanced by a test is seen.
  MonoTime deadline = options_.clock->Now() + milliseconds(timeout_ms);
  MutexLock lock(&mu_);
  while (state_ == ZkState::kConnecting) {
    MonoTime now = options_.clock->Now();
    if (now >= deadline) break;
    state_cv_.WaitFor(std::min<Duration>(deadline - now, milliseconds(50)));
  }
  switch (state_) {
    case ZkState::kConnected:
    case ZkState::kDisconnected:  // established, then lost again: the C client reconnects
      return Status::Ok();
    case ZkState::kExpired:
      return Status::Unavailable(
          fmt::format("zookeeper {}: session rejected (expired or auth failed)", options_.connect_string));
    case ZkState::kConnecting:
      break;
  }
  return Status::Unavailable(
      fmt::format("zookeeper {}: no session within {} ms (server unreachable?)", options_.connect_string, timeout_ms));
}

ZkState ZkClient::state() const {
  MutexLock lock(&mu_);
  return state_;
}

int64_t ZkClient::session_id() const {
  MutexLock lock(&mu_);
  return session_id_;
}

void ZkClient::OnGlobalEvent(zhandle_t* zh, int type, int state, const char* path, void* ctx) {
  // Only session events arrive here: every watch we set names its own watcher.
  if (type != ZOO_SESSION_EVENT) return;
  try {
    static_cast<ZkClient*>(ctx)->HandleSessionEvent(zh, state);
  } catch (...) {
    spdlog::error("zookeeper session event handler threw");
  }
}

void ZkClient::OnWatchEvent(zhandle_t* zh, int type, int state, const char* path, void* ctx) {
  // Session events reach every registered watcher; expiry is handled once, for
  // all watches, in HandleSessionEvent(), and on disconnects the C client
  // re-arms the watches, so both are ignored here.
  if (type == ZOO_SESSION_EVENT) return;
  try {
    auto* client = static_cast<ZkClient*>(const_cast<void*>(zoo_get_context(zh)));
    client->HandleWatchEvent(reinterpret_cast<uintptr_t>(ctx), type);
  } catch (...) {
    spdlog::error("zookeeper watch event handler threw");
  }
}

void ZkClient::HandleSessionEvent(zhandle_t* zh, int zk_state) {
  ZkState next;
  if (zk_state == ZOO_CONNECTED_STATE || zk_state == ZOO_READONLY_STATE) {
    next = ZkState::kConnected;
  } else if (zk_state == ZOO_EXPIRED_SESSION_STATE || zk_state == ZOO_AUTH_FAILED_STATE) {
    next = ZkState::kExpired;
  } else {
    next = ZkState::kDisconnected;  // connecting, associating, not connected
  }
  ZkState prev;
  int64_t session_id;
  {
    MutexLock lock(&mu_);
    prev = state_;
    if (closing_ || prev == next || prev == ZkState::kExpired) return;
    // Failed attempts before the first session are not disconnects.
    if (next == ZkState::kDisconnected && prev == ZkState::kConnecting) return;
    state_ = next;
    if (next == ZkState::kConnected) {
      const clientid_t* id = zoo_client_id(zh);
      if (id != nullptr) session_id_ = id->client_id;
    }
    session_id = session_id_;
    if (next == ZkState::kExpired) {
      // The server dropped the session and its watches: fire each once.
      for (auto& [id, watch] : watches_) {
        Post([cb = std::move(watch.callback)] { cb(ZkWatchEvent{ZkEventType::kSession, "", ZkState::kExpired}); });
      }
      watches_.clear();
    }
    PostState(next);
  }
  state_cv_.SignalAll();
  const std::string& cs = options_.connect_string;
  switch (next) {
    case ZkState::kConnected:
      if (prev == ZkState::kConnecting) {
        spdlog::info("zookeeper connected servers={} session={:#x}", cs, session_id);
      } else {
        spdlog::info("zookeeper reconnected servers={} session={:#x}", cs, session_id);
      }
      break;
    case ZkState::kDisconnected:
      spdlog::warn("zookeeper disconnected servers={} session={:#x}, reconnecting", cs, session_id);
      break;
    case ZkState::kExpired:
      spdlog::warn("zookeeper session expired servers={} session={:#x}", cs, session_id);
      break;
    case ZkState::kConnecting:
      break;
  }
}

void ZkClient::HandleWatchEvent(uint64_t id, int type) {
  MutexLock lock(&mu_);
  auto it = watches_.find(id);
  if (it == watches_.end()) return;  // already fired, expired, or its *W call failed
  Watch watch = std::move(it->second);
  watches_.erase(it);
  if (type == ZOO_NOTWATCHING_EVENT) return;
  ZkWatchEvent event{EventTypeFromZk(type), std::move(watch.path), state_};
  Post([cb = std::move(watch.callback), event = std::move(event)] { cb(event); });
}

uint64_t ZkClient::AddWatch(const std::string& path, ZkWatchCallback callback) {
  MutexLock lock(&mu_);
  uint64_t id = next_watch_id_++;
  watches_.emplace(id, Watch{path, std::move(callback)});
  return id;
}

void ZkClient::RemoveWatch(uint64_t id) {
  ZkWatchCallback doomed;  // destroyed outside the lock
  MutexLock lock(&mu_);
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  doomed = std::move(it->second.callback);
  watches_.erase(it);
}

void ZkClient::Post(std::function<void()> fn) {
  if (closing_) return;
  queue_.push_back(std::move(fn));
  queue_cv_.Signal();
}

void ZkClient::PostState(ZkState state) {
  if (!options_.on_state) return;
  Post([this, state] { options_.on_state(state); });
}

void ZkClient::DispatchLoop() {
  MutexLock lock(&mu_);
  while (true) {
    while (queue_.empty() && !closing_) queue_cv_.Wait();
    if (closing_) return;
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    RunGuarded(fn);
    fn = nullptr;  // captured state is released outside the lock
    mu_.Lock();
  }
}

}  // namespace baton

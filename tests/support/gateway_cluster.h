// GatewayCluster: N real baton-gateway processes on loopback, for tests of
// replication, fencing and failover that stand in for the arbiter and the
// instance agents by calling GatewayControl directly.
//
// Member i (0-based) has instance id "g<i+1>", cluster `Options::cluster`,
// its own data dir, log file and a gRPC and an HTTP port picked when the
// fixture is built; restarts keep all of them. Every member's output (all
// runs, each preceded by a "=== gatewaycluster: start N ===" line) goes to
// one log file. Gateways start without arbiter.addresses, i.e. standalone
// and active until their first AssignRole.
//
//   GatewayCluster cluster({.size = 3});
//   ASSERT_TRUE(cluster.StartAll().ok());
//   ASSERT_TRUE(cluster.AssignActiveWithStandbys(0, {1, 2}, 1, 1).ok());
//   auto r = cluster.Insert(0, GatewayCluster::MakeObject("a", {1, 2, 3, 4}));
//
// Thread-safety: process control (Start*, Stop, Kill, Pause, Resume,
// Restart, the destructor) is confined to the thread that built the fixture:
// children die with the thread that forked them (PR_SET_PDEATHSIG), so they
// must be forked by the test's main thread. Everything else (stubs, RPC
// helpers, GetState, Log, addresses) is thread-safe and may run on load
// threads while the main thread restarts other members. Stubs handed out
// stay valid objects after a restart or stop, but use the old channel; ask
// again for one on the new channel.
//
// The destructor stops every member (SIGCONT, then SIGTERM, SIGKILL after
// 10 s) and, when the current test has failed, prints the tail of every
// member's log. The temp dir is removed unless BATON_KEEP_TEMP=1.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "baton/v1/control.grpc.pb.h"
#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "common/status.h"
#include "tests/support/binaries.h"
#include "tests/support/temp_dir.h"

namespace baton::testing {

class GatewayCluster {
 public:
  struct Options {
    int size = 3;
    int dimension = 4;
    std::string cluster = "c1";
    std::string log_level = "debug";
    // Extra flags for every member, then per member (index -> flags), e.g.
    // {"--replication.sync_timeout_ms", "500"}. Later flags win.
    std::vector<std::string> extra_args;
    std::map<int, std::vector<std::string>> member_args;
    // How long Start() waits for a member to be ready.
    std::chrono::milliseconds start_timeout{30000};
  };

  // What Start() waits for: /readyz 200 (a standalone gateway is active, so
  // this is the default), or just /healthz 200 (for a member that may come
  // up not taking writes). Both also wait until the gRPC port connects.
  enum class Readiness { kReadyz, kHealthz };

  // An assignment in member indexes; Assign() turns it into addresses.
  struct Spec {
    v1::Role role = v1::ROLE_STANDBY;
    uint64_t epoch = 1;
    // Member index of the cluster's active; -1: the member itself when
    // `role` is active, none (empty active_address) otherwise.
    int active = -1;
    std::vector<int> standbys;
    std::vector<int> sync_set;
    uint32_t sync_standbys = 0;
    uint32_t lease_ms = 0;
    bool failsafe = false;
  };

  explicit GatewayCluster(Options options);
  ~GatewayCluster();
  GatewayCluster(const GatewayCluster&) = delete;
  GatewayCluster& operator=(const GatewayCluster&) = delete;

  // --- members ---------------------------------------------------------------
  int size() const { return static_cast<int>(members_.size()); }
  std::string id(int i) const { return "g" + std::to_string(i + 1); }
  // "127.0.0.1:port" of the gRPC services (client, control, replication).
  std::string address(int i) const;
  uint16_t grpc_port(int i) const { return members_[i]->grpc_port; }
  uint16_t http_port(int i) const { return members_[i]->http_port; }
  std::string data_dir(int i) const { return members_[i]->data_dir; }
  std::string log_path(int i) const { return members_[i]->log_path; }
  // Whole output of every run so far / of the current (or last) run only.
  std::string Log(int i) const;
  std::string CurrentRunLog(int i) const;
  // Last `lines` lines of every member's log, for failure messages.
  std::string DescribeLogs(size_t lines = 40) const;

  // "127.0.0.1:a+127.0.0.1:b..." of every member: the HOST:PORT list of a
  // mirror target naming this cluster (NAME=CLUSTER@<this>).
  std::string addresses_joined() const;

  // --- processes (test thread only) -----------------------------------------
  // Flags for member i (-1: every member) that every later Start() passes
  // after the Options' flags: for flags that need what exists only once the
  // fixture is built, e.g. mirror targets naming another fixture's ports.
  void AddArgs(std::vector<std::string> args, int member = -1);
  // Spawns member i and waits until it is ready. On failure (it exited, or
  // start_timeout) the error carries the log tail and the child is killed.
  Status Start(int i, Readiness readiness = Readiness::kReadyz);
  Status StartAll(Readiness readiness = Readiness::kReadyz);
  // SIGCONT + SIGTERM, waits up to `grace` for exit 0. INTERNAL when it exits
  // otherwise or needs SIGKILL (it is killed then). First replaces the
  // fixture's channel: an open client connection holds the gateway's gRPC
  // shutdown up to its shutdown deadline (2 s).
  Status Stop(int i, std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL and reap. INTERNAL if it had already died on its own.
  Status Kill(int i);
  // SIGSTOP (returns once every thread of the member is stopped) / SIGCONT.
  Status Pause(int i);
  Status Resume(int i);
  // Stop (graceful) then Start, same data dir and ports.
  Status Restart(int i, Readiness readiness = Readiness::kReadyz);
  // Running = started and not yet seen to exit (a paused member is running).
  bool running(int i);
  pid_t pid(int i) const;
  bool paused(int i) const { return members_[i]->paused; }

  // --- stubs (thread-safe) --------------------------------------------------
  // New stubs on the member's current channel (recreated by every Start, with
  // short reconnect backoff).
  std::shared_ptr<v1::Gateway::Stub> client(int i) const;
  std::shared_ptr<v1::GatewayControl::Stub> control(int i) const;

  // --- control (thread-safe) ------------------------------------------------
  v1::Assignment MakeAssignment(int i, const Spec& spec) const;
  // AssignRole; remembers the spec for Reassign(). The gRPC status becomes a
  // Status with the same code and message.
  Status Assign(int i, const Spec& spec);
  Status AssignRaw(int i, const v1::Assignment& assignment);
  // Active `i` (active_address = its own address).
  Status AssignActive(int i, uint64_t epoch, const std::vector<int>& standbys = {},
                      const std::vector<int>& sync_set = {}, uint32_t sync_standbys = 0, uint32_t lease_ms = 0,
                      bool failsafe = false);
  // Standby `i` of active `active`.
  Status AssignStandby(int i, uint64_t epoch, int active);
  // Sends member i the last spec Assign() gave it (after a restart: roles are
  // never read from disk). FAILED_PRECONDITION if it never had one.
  Status Reassign(int i);
  // Assigns every standby (active_address = `active`, same standby and sync
  // sets), then the active, then waits until the active's GetState lists
  // every standby as connected. `sync_set` nullopt = all of `standbys`.
  Status AssignActiveWithStandbys(int active, const std::vector<int>& standbys, uint64_t epoch, uint32_t sync_standbys,
                                  std::optional<std::vector<int>> sync_set = std::nullopt, uint32_t lease_ms = 0,
                                  bool failsafe = false, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // RenewLease; `deadline_monotonic_ns` as in RenewLeaseRequest (0 = none;
  // CLOCK_MONOTONIC of this host, which the members share).
  Status RenewLease(int i, uint64_t epoch, uint32_t lease_ms, int64_t deadline_monotonic_ns = 0);
  Result<v1::GetStateResponse> GetState(int i) const;

  // --- waiting (thread-safe) ------------------------------------------------
  // test_util.h's WaitFor, polling every 20 ms.
  static bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);
  // Polls GetState(i) until `pred` holds. On timeout the error carries the
  // last state (or the last GetState error).
  Status WaitForState(int i, const std::function<bool(const v1::GetStateResponse&)>& pred,
                      std::chrono::milliseconds timeout, const std::string& what);
  // Waits until member `standby` has durable == applied == the active's
  // durable position and both report the same digest and object count.
  Status WaitCaughtUp(int active, int standby, std::chrono::milliseconds timeout);
  // GET /readyz; -1 when nothing answered within `timeout`.
  int ReadyzStatus(int i, std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const;

  // --- client API (thread-safe) ---------------------------------------------
  struct Outcome {
    grpc::Status status;
    v1::WriteResult result;    // writes
    v1::Object object;         // GetObject
    std::string baton_active;  // trailing metadata, when present
  };
  static v1::Object MakeObject(const std::string& id, std::vector<float> vector, std::string metadata = "");
  Outcome Insert(int i, const v1::Object& object, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  Outcome Upsert(int i, const v1::Object& object, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  Outcome GetObject(int i, const std::string& id, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // "role=ACTIVE epoch=2 durable=2:17 ..." for messages.
  static std::string Describe(const v1::GetStateResponse& state);

 private:
  struct Member {
    uint16_t grpc_port = 0;
    uint16_t http_port = 0;
    std::string data_dir;
    std::string log_path;
    int starts = 0;
    std::atomic<uint64_t> run_log_offset{0};  // where the current run's output begins (read by any thread)
    std::optional<Daemon> daemon;             // test thread only
    bool paused = false;                      // test thread only
  };
  std::vector<std::string> Args(int i) const;
  void NewChannel(int i) EXCLUDES(mu_);
  std::shared_ptr<grpc::Channel> channel(int i) const EXCLUDES(mu_);

  const Options options_;
  // AddArgs(): for every member / per member. Test thread only.
  std::vector<std::string> added_args_;
  std::map<int, std::vector<std::string>> added_member_args_;
  TempDir dir_;
  std::vector<std::unique_ptr<Member>> members_;

  mutable Mutex mu_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_ GUARDED_BY(mu_);
  std::map<int, Spec> last_spec_ GUARDED_BY(mu_);
};

}  // namespace baton::testing

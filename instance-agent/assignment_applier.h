// AssignmentApplier: carries the arbiter's grants to the gateway.
//
// A grant whose assignment (lease_ms aside) differs from the last one the
// gateway accepted goes out as AssignRole; the same assignment again goes
// out as RenewLease. Every other field counts, handover_to and
// mirror_targets included: a switchover starting or being abandoned, or a
// mirror target added, changed or deleted, at the same epoch and config
// version is an AssignRole (RenewLease carries only the epoch and the lease). Both carry the lease as
// an absolute deadline on the host's monotonic clock, counted from when the
// answered heartbeat was *sent* (docs/arbiter.md, Heartbeats and
// assignments), and as the milliseconds left at the moment of the call.
//
// At most one control RPC is in flight. A renewal that arrives while one is
// in flight is dropped, not queued: a hung gateway must not build up a
// backlog of renewals that would all land, stale, when it wakes. A changed
// assignment is never dropped: the newest one waits as the single pending
// item and replaces any older pending one.
#pragma once

#include <optional>
#include <string>
#include <thread>

#include "baton/v1/control.pb.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "instance-agent/agent_metrics.h"
#include "instance-agent/gateway_client.h"

namespace baton::agent {

struct ApplierOptions {
  // Deadline of each AssignRole / RenewLease call.
  Duration rpc_timeout = std::chrono::milliseconds(200);
};

// Offer(), ForgetApplied(), CheckGatewayState(), SetIdentity() and the
// accessors are thread-safe and never block on the gateway. The RPCs run on
// the "applier" thread started by Start(). `client`, `clock` and `metrics`
// must outlive the applier.
class AssignmentApplier {
 public:
  AssignmentApplier(ApplierOptions options, GatewayClient& client, Clock& clock, AgentMetrics& metrics);
  ~AssignmentApplier();  // Stop()
  AssignmentApplier(const AssignmentApplier&) = delete;
  AssignmentApplier& operator=(const AssignmentApplier&) = delete;

  void Start();
  // Waits for an RPC in flight (at most rpc_timeout); drops what is pending.
  void Stop() EXCLUDES(mu_);

  // A grant answering the heartbeat sent at `sent_at`; its lease ends at
  // sent_at + assignment.lease_ms (lease_ms 0: no lease).
  void Offer(const v1::Assignment& assignment, MonoTime sent_at) EXCLUDES(mu_);

  // The gateway no longer runs under what it was given (it exited or
  // restarted): the next grant goes out as AssignRole again.
  void ForgetApplied(std::string_view why) EXCLUDES(mu_);
  // Same, when a probe that began at `probe_started` (after the last
  // AssignRole returned) shows another role or epoch than was applied.
  void CheckGatewayState(v1::Role role, uint64_t epoch, MonoTime probe_started) EXCLUDES(mu_);

  // Ids for the log lines only.
  void SetIdentity(const std::string& cluster, const std::string& instance) EXCLUDES(mu_);

  // config_version of the assignment the gateway accepted last (0: none).
  uint64_t applied_version() const EXCLUDES(mu_);
  std::optional<v1::Assignment> applied() const EXCLUDES(mu_);

  // The comparison key: the assignment with lease_ms cleared, serialized
  // deterministically (map order fixed).
  static std::string KeyOf(const v1::Assignment& assignment);

 private:
  enum class Kind { kAssign, kRenew };
  struct Work {
    Kind kind = Kind::kAssign;
    v1::Assignment assignment;
    std::string key;
    std::optional<MonoTime> deadline;
  };

  void Loop() EXCLUDES(mu_);
  void Run(const Work& work) EXCLUDES(mu_);
  void RunAssign(const Work& work) EXCLUDES(mu_);
  void RunRenew(const Work& work) EXCLUDES(mu_);
  void ForgetLocked(std::string_view why) REQUIRES(mu_);

  const ApplierOptions options_;
  GatewayClient& client_;
  Clock& clock_;
  AgentMetrics& metrics_;

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stop_ GUARDED_BY(mu_) = false;
  std::optional<Work> pending_ GUARDED_BY(mu_);
  bool in_flight_ GUARDED_BY(mu_) = false;
  Kind in_flight_kind_ GUARDED_BY(mu_) = Kind::kRenew;
  std::string in_flight_key_ GUARDED_BY(mu_);
  std::optional<v1::Assignment> applied_ GUARDED_BY(mu_);
  std::string applied_key_ GUARDED_BY(mu_);
  MonoTime applied_at_ GUARDED_BY(mu_);
  std::string last_failure_ GUARDED_BY(mu_);  // of AssignRole, to log each distinct one once
  std::string cluster_ GUARDED_BY(mu_);
  std::string instance_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace baton::agent

// Fakes and helpers shared by the agent tests: a GatewayClient that can hang
// or fail, a scripted ProcessWatch, and reading one sample from /metrics.
#pragma once

#include "tests/support/metrics_text.h"

#include <map>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "instance-agent/gateway_client.h"
#include "instance-agent/process_watch.h"

namespace baton::agent::testing {

// One control call the fake received.
struct ControlCall {
  std::string method;  // "AssignRole" | "RenewLease"
  v1::Assignment assignment;  // AssignRole
  uint64_t epoch = 0;         // RenewLease
  uint32_t lease_ms = 0;      // either
  int64_t deadline_monotonic_ns = 0;
};

// Thread-safe. AssignRole/RenewLease block while Hang(true) is in effect, so
// a test can hold one call "in flight" and watch what queues behind it.
class FakeGatewayClient : public GatewayClient {
 public:
  Result<v1::GetStateResponse> GetState(Duration timeout) override;
  Status AssignRole(const v1::AssignRoleRequest& request, Duration timeout) override;
  Status RenewLease(const v1::RenewLeaseRequest& request, Duration timeout) override;
  bool ConnectRefused(Duration timeout) override;

  void SetState(Result<v1::GetStateResponse> state) EXCLUDES(mu_);
  void SetRefused(bool refused) EXCLUDES(mu_);
  void SetAssignStatus(Status status) EXCLUDES(mu_);
  void SetRenewStatus(Status status) EXCLUDES(mu_);
  void Hang(bool hang) EXCLUDES(mu_);

  std::vector<ControlCall> calls() const EXCLUDES(mu_);
  int connect_checks() const EXCLUDES(mu_);
  // Calls blocked in Hang right now.
  int blocked() const EXCLUDES(mu_);

 private:
  Status Control(ControlCall call, const Status& result) EXCLUDES(mu_);

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  Result<v1::GetStateResponse> state_ GUARDED_BY(mu_) = Status::Unavailable("fake: no state set");
  bool refused_ GUARDED_BY(mu_) = false;
  Status assign_status_ GUARDED_BY(mu_);
  Status renew_status_ GUARDED_BY(mu_);
  bool hang_ GUARDED_BY(mu_) = false;
  int blocked_ GUARDED_BY(mu_) = 0;
  int connect_checks_ GUARDED_BY(mu_) = 0;
  std::vector<ControlCall> calls_ GUARDED_BY(mu_);
};

// Confined to the probing thread, like the real one. Returns what the test set.
class FakeProcessWatch : public ProcessWatch {
 public:
  Liveness Check() override { return liveness; }
  bool WaitForExit(Duration) override { return false; }
  Liveness liveness = Liveness::kAlive;
};

using baton::testing::MetricValue;

}  // namespace baton::agent::testing

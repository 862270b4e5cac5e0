#include "tests/agent/agent_test_util.h"

#include <sstream>

namespace baton::agent::testing {

Result<v1::GetStateResponse> FakeGatewayClient::GetState(Duration) {
  MutexLock lock(&mu_);
  return state_;
}

Status FakeGatewayClient::Control(ControlCall call, const Status& result) {
  MutexLock lock(&mu_);
  calls_.push_back(std::move(call));
  ++blocked_;
  while (hang_) cv_.Wait();
  --blocked_;
  return result;
}

Status FakeGatewayClient::AssignRole(const v1::AssignRoleRequest& request, Duration) {
  ControlCall call{.method = "AssignRole",
                   .assignment = request.assignment(),
                   .lease_ms = request.assignment().lease_ms(),
                   .deadline_monotonic_ns = request.deadline_monotonic_ns()};
  Status result;
  {
    MutexLock lock(&mu_);
    result = assign_status_;
  }
  return Control(std::move(call), result);
}

Status FakeGatewayClient::RenewLease(const v1::RenewLeaseRequest& request, Duration) {
  ControlCall call{.method = "RenewLease",
                   .epoch = request.epoch(),
                   .lease_ms = request.lease_ms(),
                   .deadline_monotonic_ns = request.deadline_monotonic_ns()};
  Status result;
  {
    MutexLock lock(&mu_);
    result = renew_status_;
  }
  return Control(std::move(call), result);
}

bool FakeGatewayClient::ConnectRefused(Duration) {
  MutexLock lock(&mu_);
  ++connect_checks_;
  return refused_;
}

void FakeGatewayClient::SetState(Result<v1::GetStateResponse> state) {
  MutexLock lock(&mu_);
  state_ = std::move(state);
}

void FakeGatewayClient::SetRefused(bool refused) {
  MutexLock lock(&mu_);
  refused_ = refused;
}

void FakeGatewayClient::SetAssignStatus(Status status) {
  MutexLock lock(&mu_);
  assign_status_ = std::move(status);
}

void FakeGatewayClient::SetRenewStatus(Status status) {
  MutexLock lock(&mu_);
  renew_status_ = std::move(status);
}

void FakeGatewayClient::Hang(bool hang) {
  MutexLock lock(&mu_);
  hang_ = hang;
  cv_.SignalAll();
}

std::vector<ControlCall> FakeGatewayClient::calls() const {
  MutexLock lock(&mu_);
  return calls_;
}

int FakeGatewayClient::connect_checks() const {
  MutexLock lock(&mu_);
  return connect_checks_;
}

int FakeGatewayClient::blocked() const {
  MutexLock lock(&mu_);
  return blocked_;
}

}  // namespace baton::agent::testing

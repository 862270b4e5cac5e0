// baton.v1.GatewayControl: how the instance agent (or a test, or
// `batonctl control`) sets this gateway's role and reads its state. A thin
// adapter: the gateway server does the work.
//
// Lease deadlines arrive as CLOCK_MONOTONIC nanoseconds of the host
// (deadline_monotonic_ns, 0 = none) and are handed on as MonoTime: the
// gateway's production clock is steady_clock, which is CLOCK_MONOTONIC on
// Linux, so the two share an origin.
//
// Thread-safe; `handler` must outlive the service.
#pragma once

#include <optional>

#include "baton/v1/control.grpc.pb.h"
#include "common/clock.h"
#include "common/status.h"

namespace baton::gateway {

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // `deadline`: absolute bound on the lease (RoleState::Assign/RenewLease).
  virtual Status ApplyAssignment(const v1::Assignment& assignment, std::optional<MonoTime> deadline) = 0;
  virtual Status RenewLease(uint64_t epoch, uint32_t lease_ms, std::optional<MonoTime> deadline) = 0;
  virtual v1::GetStateResponse State() = 0;
};

// deadline_monotonic_ns as a MonoTime; nullopt for 0 (none).
std::optional<MonoTime> MonotonicDeadline(int64_t deadline_monotonic_ns);

class ControlService final : public v1::GatewayControl::Service {
 public:
  explicit ControlService(ControlHandler& handler) : handler_(handler) {}

  grpc::Status AssignRole(grpc::ServerContext*, const v1::AssignRoleRequest*, v1::AssignRoleResponse*) override;
  grpc::Status RenewLease(grpc::ServerContext*, const v1::RenewLeaseRequest*, v1::RenewLeaseResponse*) override;
  grpc::Status GetState(grpc::ServerContext*, const v1::GetStateRequest*, v1::GetStateResponse*) override;

 private:
  ControlHandler& handler_;
};

}  // namespace baton::gateway

// baton.v1.GatewayControl: how the instance agent (or a test, or
// `batonctl control`) sets this gateway's role and reads its state. A thin
// adapter: the gateway server does the work.
//
// Thread-safe; `handler` must outlive the service.
#pragma once

#include "baton/v1/control.grpc.pb.h"
#include "common/status.h"

namespace baton::gateway {

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  virtual Status ApplyAssignment(const v1::Assignment& assignment) = 0;
  virtual Status RenewLease(uint64_t epoch, uint32_t lease_ms) = 0;
  virtual v1::GetStateResponse State() = 0;
};

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

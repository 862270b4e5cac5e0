#include "gateway/control_service.h"

#include "gateway/client_service.h"

namespace baton::gateway {

std::optional<MonoTime> MonotonicDeadline(int64_t deadline_monotonic_ns) {
  if (deadline_monotonic_ns == 0) return std::nullopt;
  return MonoTime(std::chrono::duration_cast<MonoTime::duration>(std::chrono::nanoseconds(deadline_monotonic_ns)));
}

grpc::Status ControlService::AssignRole(grpc::ServerContext*, const v1::AssignRoleRequest* request,
                                        v1::AssignRoleResponse*) {
  if (!request->has_assignment()) return ToGrpc(Status::InvalidArgument("assignment: missing"));
  return ToGrpc(handler_.ApplyAssignment(request->assignment(), MonotonicDeadline(request->deadline_monotonic_ns())));
}

grpc::Status ControlService::RenewLease(grpc::ServerContext*, const v1::RenewLeaseRequest* request,
                                        v1::RenewLeaseResponse*) {
  return ToGrpc(
      handler_.RenewLease(request->epoch(), request->lease_ms(), MonotonicDeadline(request->deadline_monotonic_ns())));
}

grpc::Status ControlService::GetState(grpc::ServerContext*, const v1::GetStateRequest*,
                                      v1::GetStateResponse* response) {
  *response = handler_.State();
  return grpc::Status::OK;
}

}  // namespace baton::gateway

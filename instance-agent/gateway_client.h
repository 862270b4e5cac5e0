// How the agent talks to its gateway: the three GatewayControl calls plus a
// raw TCP connect that tells "nothing listens on the port" apart from "the
// gateway does not answer". The probe and the assignment applier depend on
// this interface only, so unit tests give them a fake that hangs or fails.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "baton/v1/control.grpc.pb.h"
#include "common/clock.h"
#include "common/status.h"

namespace baton::agent {

// Thread-safe: the probe thread and the applier thread call it at once.
class GatewayClient {
 public:
  virtual ~GatewayClient() = default;

  // Each call waits at most `timeout`. Errors keep the gRPC code:
  // UNAVAILABLE (not connected), DEADLINE_EXCEEDED (did not answer in time),
  // FAILED_PRECONDITION (the gateway refused, e.g. stale epoch).
  virtual Result<v1::GetStateResponse> GetState(Duration timeout) = 0;
  virtual Status AssignRole(const v1::AssignRoleRequest& request, Duration timeout) = 0;
  virtual Status RenewLease(const v1::RenewLeaseRequest& request, Duration timeout) = 0;

  // A fresh TCP connect to the gateway's address: true only when the kernel
  // answered ECONNREFUSED (nothing listens). A stopped process still accepts
  // connections into its backlog, so this stays false for SIGSTOP.
  virtual bool ConnectRefused(Duration timeout) = 0;
};

// GatewayControl over one gRPC channel to `address` ("host:port"), with a
// reconnect backoff of tens of milliseconds so that a restarted gateway is
// seen again within a few probes. Thread-safe.
class GrpcGatewayClient : public GatewayClient {
 public:
  explicit GrpcGatewayClient(std::string address);

  Result<v1::GetStateResponse> GetState(Duration timeout) override;
  Status AssignRole(const v1::AssignRoleRequest& request, Duration timeout) override;
  Status RenewLease(const v1::RenewLeaseRequest& request, Duration timeout) override;
  bool ConnectRefused(Duration timeout) override;

 private:
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::GatewayControl::Stub> stub_;
};

// gRPC status -> Status with the same code, prefixed with `what`.
Status FromGrpc(const grpc::Status& status, std::string_view what);

// Splits "host:port" / "[v6]:port". INVALID_ARGUMENT when malformed.
Result<std::pair<std::string, std::string>> SplitHostPort(const std::string& address);

}  // namespace baton::agent

// A client of baton.v1.Gateway that follows the active: when a standby
// answers UNAVAILABLE with trailing metadata `baton-active`, the call is
// retried once against the address it names (and later calls go there).
//
// Thread-safe; one instance may be shared by threads (gRPC stubs are).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"

namespace baton::tools {

class GatewayClient {
 public:
  explicit GatewayClient(std::string address, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Runs `call(stub, context)`, following `baton-active` once.
  grpc::Status Call(const std::function<grpc::Status(v1::Gateway::Stub&, grpc::ClientContext&)>& call);

  std::string address() const EXCLUDES(mu_);

 private:
  std::shared_ptr<v1::Gateway::Stub> Stub() const EXCLUDES(mu_);
  void Redirect(const std::string& address) EXCLUDES(mu_);

  const std::chrono::milliseconds timeout_;
  mutable Mutex mu_;
  std::string address_ GUARDED_BY(mu_);
  std::shared_ptr<v1::Gateway::Stub> stub_ GUARDED_BY(mu_);
};

// "NOT_FOUND" etc. for a gRPC code.
std::string GrpcCodeName(grpc::StatusCode code);

}  // namespace baton::tools

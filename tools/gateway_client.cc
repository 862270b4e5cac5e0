#include "tools/gateway_client.h"

#include "common/status.h"

namespace baton::tools {

GatewayClient::GatewayClient(std::string address, std::chrono::milliseconds timeout) : timeout_(timeout) {
  Redirect(address);
}

void GatewayClient::Redirect(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = std::shared_ptr<v1::Gateway::Stub>(v1::Gateway::NewStub(channel));
  MutexLock lock(&mu_);
  address_ = address;
  stub_ = std::move(stub);
}

std::shared_ptr<v1::Gateway::Stub> GatewayClient::Stub() const {
  MutexLock lock(&mu_);
  return stub_;
}

std::string GatewayClient::address() const {
  MutexLock lock(&mu_);
  return address_;
}

grpc::Status GatewayClient::Call(
    const std::function<grpc::Status(v1::Gateway::Stub&, grpc::ClientContext&)>& call) {
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    auto stub = Stub();
    grpc::Status status = call(*stub, context);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt > 0) return status;
    const auto& trailers = context.GetServerTrailingMetadata();
    auto it = trailers.find("baton-active");
    if (it == trailers.end()) return status;
    std::string active(it->second.data(), it->second.size());
    if (active.empty() || active == address()) return status;
    Redirect(active);
  }
}

std::string GrpcCodeName(grpc::StatusCode code) {
  return std::string(StatusCodeName(static_cast<StatusCode>(code)));
}

}  // namespace baton::tools

#include "instance-agent/gateway_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace baton::agent {
namespace {

void SetDeadline(grpc::ClientContext& context, Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
}

// Closes the fd on every return path.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Status FromGrpc(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return Status::Ok();
  return Status(static_cast<StatusCode>(status.error_code()), std::string(what) + ": " + status.error_message());
}

Result<std::pair<std::string, std::string>> SplitHostPort(const std::string& address) {
  std::string host;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return Status::InvalidArgument("address " + address + ": expected [v6addr]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("address " + address + ": expected host:port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (port.empty()) return Status::InvalidArgument("address " + address + ": missing port");
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, port);
}

GrpcGatewayClient::GrpcGatewayClient(std::string address) : address_(std::move(address)) {
  grpc::ChannelArguments args;
  // gRPC's default reconnect backoff (1 s, growing to 120 s) would hide a
  // restarted gateway from the probe for seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::GatewayControl::NewStub(channel_);
}

Result<v1::GetStateResponse> GrpcGatewayClient::GetState(Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  v1::GetStateResponse response;
  grpc::Status status = stub_->GetState(&context, v1::GetStateRequest(), &response);
  if (!status.ok()) return FromGrpc(status, "GetState " + address_);
  return response;
}

Status GrpcGatewayClient::AssignRole(const v1::AssignRoleRequest& request, Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  v1::AssignRoleResponse response;
  return FromGrpc(stub_->AssignRole(&context, request, &response), "AssignRole " + address_);
}

Status GrpcGatewayClient::RenewLease(const v1::RenewLeaseRequest& request, Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  v1::RenewLeaseResponse response;
  return FromGrpc(stub_->RenewLease(&context, request, &response), "RenewLease " + address_);
}

bool GrpcGatewayClient::ConnectRefused(Duration timeout) {
  auto host_port = SplitHostPort(address_);
  if (!host_port.ok()) return false;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host_port->first.c_str(), host_port->second.c_str(), &hints, &found) != 0 || found == nullptr) {
    return false;  // cannot tell: not evidence that the process is gone
  }
  FdGuard fd(::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, found->ai_protocol));
  int rc = fd.get() < 0 ? -1 : ::connect(fd.get(), found->ai_addr, found->ai_addrlen);
  const int connect_errno = errno;
  ::freeaddrinfo(found);
  if (fd.get() < 0) return false;
  if (rc == 0) return false;
  if (connect_errno == ECONNREFUSED) return true;
  if (connect_errno != EINPROGRESS) return false;
  pollfd pfd{fd.get(), POLLOUT, 0};
  const int wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  if (::poll(&pfd, 1, wait_ms) <= 0) return false;
  int error = 0;
  socklen_t len = sizeof(error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) return false;
  return error == ECONNREFUSED;
}

}  // namespace baton::agent

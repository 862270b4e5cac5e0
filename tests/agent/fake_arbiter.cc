#include "tests/agent/fake_arbiter.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace baton::agent::testing {

class FakeArbiter::Service final : public v1::Arbiter::Service {
 public:
  explicit Service(FakeArbiter& owner) : owner_(owner) {}

  grpc::Status Heartbeats(grpc::ServerContext* context,
                          grpc::ServerReaderWriter<v1::HeartbeatResponse, v1::Heartbeat>* stream) override {
    int number = 0;
    {
      MutexLock lock(&owner_.mu_);
      number = ++owner_.streams_;
    }
    v1::Heartbeat heartbeat;
    while (stream->Read(&heartbeat)) {
      v1::HeartbeatResponse answer;
      answer.set_sequence(heartbeat.sequence());
      answer.set_arbiter_id(owner_.id_);
      Mode mode;
      {
        MutexLock lock(&owner_.mu_);
        owner_.received_.push_back({heartbeat, std::chrono::steady_clock::now(), number});
        owner_.cv_.SignalAll();
        mode = owner_.mode_;
        if (mode == Mode::kGrant) *answer.mutable_assignment() = owner_.grant_;
        if (mode == Mode::kRedirect) answer.set_leader_address(owner_.leader_);
        if (owner_.ask_report_ && mode != Mode::kSilent) {
          answer.set_report_now(true);
          owner_.ask_report_ = false;
          owner_.report_asked_sequence_ = heartbeat.sequence();
        }
      }
      if (mode == Mode::kSilent) continue;
      if (!stream->Write(answer)) break;
      if (mode == Mode::kRedirect) return grpc::Status::OK;  // a follower ends the stream
    }
    return context->IsCancelled() ? grpc::Status::CANCELLED : grpc::Status::OK;
  }

 private:
  FakeArbiter& owner_;
};

FakeArbiter::FakeArbiter(std::string id, uint16_t port) : id_(std::move(id)), service_(std::make_unique<Service>(*this)) {
  int bound = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || bound == 0) {
    ADD_FAILURE() << "fake arbiter " << id_ << " cannot listen on port " << port;
    std::abort();
  }
  port_ = static_cast<uint16_t>(bound);
}

FakeArbiter::~FakeArbiter() { Shutdown(); }

void FakeArbiter::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // Immediate deadline: open streams are cancelled, as when the process dies.
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

void FakeArbiter::AnswerEmpty() {
  MutexLock lock(&mu_);
  mode_ = Mode::kEmpty;
}

void FakeArbiter::Grant(const v1::Assignment& assignment) {
  MutexLock lock(&mu_);
  mode_ = Mode::kGrant;
  grant_ = assignment;
}

void FakeArbiter::RedirectTo(const std::string& leader_address) {
  MutexLock lock(&mu_);
  mode_ = Mode::kRedirect;
  leader_ = leader_address;
}

void FakeArbiter::AskForReportOnce() {
  MutexLock lock(&mu_);
  ask_report_ = true;
}

std::optional<uint64_t> FakeArbiter::report_asked_sequence() const {
  MutexLock lock(&mu_);
  return report_asked_sequence_;
}

void FakeArbiter::Silence() {
  MutexLock lock(&mu_);
  mode_ = Mode::kSilent;
}

std::vector<FakeArbiter::Received> FakeArbiter::heartbeats() const {
  MutexLock lock(&mu_);
  return received_;
}

int FakeArbiter::streams() const {
  MutexLock lock(&mu_);
  return streams_;
}

std::optional<FakeArbiter::Received> FakeArbiter::WaitForHeartbeat(const std::function<bool(const Received&)>& pred,
                                                                   std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  size_t checked = 0;
  while (true) {
    for (; checked < received_.size(); ++checked) {
      if (pred(received_[checked])) return received_[checked];
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    cv_.WaitFor(deadline - now);
  }
}

}  // namespace baton::agent::testing

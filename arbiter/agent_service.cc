#include "arbiter/agent_service.h"

#include <optional>

#include <spdlog/spdlog.h>

#include "common/mutex.h"

namespace baton::arbiter {
namespace {

constexpr size_t kMaxIdBytes = 128;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxIdBytes || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

grpc::Status ValidateHeartbeat(const v1::Heartbeat& heartbeat) {
  if (!ValidName(heartbeat.instance_id())) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "heartbeat.instance_id: must be 1-128 characters of [A-Za-z0-9._-], got \"" + heartbeat.instance_id() +
                "\""};
  }
  if (!ValidName(heartbeat.cluster())) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "heartbeat.cluster: must be 1-128 characters of [A-Za-z0-9._-], got \"" + heartbeat.cluster() + "\""};
  }
  return grpc::Status::OK;
}

// One agent's stream. Reads and writes overlap; mu_ orders the write side and
// the decision to finish. Deletes itself in OnDone (the callback API's
// ownership model: gRPC calls OnDone exactly once, after everything else).
class AgentService::Stream : public grpc::ServerBidiReactor<v1::Heartbeat, v1::HeartbeatResponse> {
 public:
  Stream(AgentService& service, uint64_t id) : service_(service), id_(id) {
    service_.open_streams_.fetch_add(1);
    {
      MutexLock lock(&service_.streams_mu_);
      service_.streams_[id_] = this;
    }
    StartRead(&in_);
  }

  // An answer not prompted by a heartbeat; false when the stream is ending.
  bool Push(v1::HeartbeatResponse answer) {
    MutexLock lock(&mu_);
    if (finishing_) return false;
    WriteLocked(std::move(answer));
    return true;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the agent closed its side, or the call was cancelled
      MutexLock lock(&mu_);
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (grpc::Status valid = ValidateHeartbeat(in_); !valid.ok()) {
      spdlog::warn("agent stream {}: {}", id_, valid.error_message());
      MutexLock lock(&mu_);
      FinishLocked(valid);
      return;
    }
    v1::HeartbeatResponse answer;
    try {
      answer = service_.handler_.OnHeartbeat(in_, id_);
    } catch (const std::exception& e) {
      spdlog::error("agent stream {}: heartbeat handler failed: {}", id_, e.what());
      MutexLock lock(&mu_);
      FinishLocked({grpc::StatusCode::INTERNAL, "arbiter failed to handle the heartbeat"});
      return;
    }
    const bool last = !answer.leader_address().empty();
    MutexLock lock(&mu_);
    cluster_ = in_.cluster();
    instance_ = in_.instance_id();
    if (finishing_) return;
    WriteLocked(std::move(answer));
    if (last) {
      finish_after_write_ = true;
      return;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (pending_ && !finishing_) {
      out_ = std::move(*pending_);
      pending_.reset();
      writing_ = true;
      StartWrite(&out_);
      return;
    }
    if (finish_after_write_) FinishLocked(grpc::Status::OK);
  }

  void OnDone() override {
    {
      MutexLock lock(&service_.streams_mu_);
      service_.streams_.erase(id_);
    }
    service_.handler_.OnStreamClosed(cluster_, instance_, id_);
    service_.open_streams_.fetch_sub(1);
    delete this;  // gRPC callback reactors own themselves
  }

 private:
  void WriteLocked(v1::HeartbeatResponse answer) REQUIRES(mu_) {
    if (writing_) {
      // A request for a report outlives the answer it rode on.
      if (pending_ && pending_->report_now()) answer.set_report_now(true);
      pending_ = std::move(answer);
    } else {
      out_ = std::move(answer);
      writing_ = true;
      StartWrite(&out_);
    }
  }

  // Finishes once, and only when no write is in flight (a write must not
  // race the final status); OnWriteDone finishes a deferred one.
  void FinishLocked(const grpc::Status& status) REQUIRES(mu_) {
    if (finished_) return;
    finishing_ = true;
    if (writing_) {
      finish_after_write_ = true;
      final_status_ = status;
      return;
    }
    finished_ = true;
    Finish(final_status_.ok() ? status : final_status_);
  }

  AgentService& service_;
  const uint64_t id_;
  v1::Heartbeat in_;  // only the read side touches it
  Mutex mu_;
  v1::HeartbeatResponse out_ GUARDED_BY(mu_);
  std::optional<v1::HeartbeatResponse> pending_ GUARDED_BY(mu_);
  bool writing_ GUARDED_BY(mu_) = false;
  bool finishing_ GUARDED_BY(mu_) = false;
  bool finish_after_write_ GUARDED_BY(mu_) = false;
  bool finished_ GUARDED_BY(mu_) = false;
  grpc::Status final_status_ GUARDED_BY(mu_);
  // Written by the read side under mu_, read in OnDone after all callbacks.
  std::string cluster_;
  std::string instance_;
};

bool AgentService::Push(uint64_t stream_id, v1::HeartbeatResponse answer) {
  // Held while writing: a stream cannot be deleted meanwhile (OnDone takes
  // this lock first). Lock order: streams_mu_, then the stream's mu_.
  MutexLock lock(&streams_mu_);
  auto it = streams_.find(stream_id);
  return it != streams_.end() && it->second->Push(std::move(answer));
}

grpc::ServerBidiReactor<v1::Heartbeat, v1::HeartbeatResponse>* AgentService::Heartbeats(
    grpc::CallbackServerContext*) {
  return new Stream(*this, next_stream_id_.fetch_add(1));  // owned by gRPC until OnDone
}

}  // namespace baton::arbiter

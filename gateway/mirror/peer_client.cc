#include "gateway/mirror/peer_client.h"

#include <grpcpp/support/channel_arguments.h>
#include <spdlog/spdlog.h>

namespace baton::gateway {
namespace {

std::shared_ptr<v1::Gateway::Stub> NewStub(const std::string& address) {
  grpc::ChannelArguments args;
  // A peer that comes back is found within a second, not after gRPC's
  // default reconnect backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return v1::Gateway::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

void FillObject(const WriteRequest& item, v1::Object* object) {
  object->set_id(item.id);
  object->mutable_vector()->Add(item.vector.begin(), item.vector.end());
  object->set_timestamp(item.timestamp);
  object->set_metadata(item.metadata);
}

}  // namespace

struct PeerClient::Call {
  grpc::ClientContext context;
  std::string address;
  std::shared_ptr<v1::Gateway::Stub> stub;  // keeps the channel alive for the call
  v1::MultiInsertRequest insert;
  v1::MultiUpdateRequest update;
  v1::MultiUpsertRequest upsert;
  v1::MultiRemoveRequest remove;
  v1::RemoveByTimestampRequest remove_by_timestamp;
  v1::MultiWriteResult result;
};

PeerClient::PeerClient(std::string own_cluster, MirrorTargetSpec target, Duration timeout)
    : own_cluster_(std::move(own_cluster)), target_(std::move(target)), timeout_(timeout) {
  for (const std::string& address : target_.addresses) stubs_.push_back(NewStub(address));
}

std::string PeerClient::address() const {
  MutexLock lock(&mu_);
  return redirect_.empty() ? target_.addresses[current_] : redirect_;
}

std::shared_ptr<PeerClient::Call> PeerClient::StartCall(MirrorBatch* batch) {
  auto call = std::make_shared<Call>();
  {
    MutexLock lock(&mu_);
    if (!redirect_.empty()) {
      call->address = redirect_;
      call->stub = redirect_stub_;
    } else {
      call->address = target_.addresses[current_];
      call->stub = stubs_[current_];
    }
  }
  call->context.AddMetadata(kMirrorOriginMetadata, batch->origin.empty() ? own_cluster_ : batch->origin);
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout_));
  for (const WriteRequest& item : batch->items) {
    switch (batch->op) {
      case v1::WRITE_OP_INSERT: FillObject(item, call->insert.add_requests()->mutable_object()); break;
      case v1::WRITE_OP_UPDATE: FillObject(item, call->update.add_requests()->mutable_object()); break;
      case v1::WRITE_OP_UPSERT: FillObject(item, call->upsert.add_requests()->mutable_object()); break;
      case v1::WRITE_OP_REMOVE: {
        v1::RemoveRequest* r = call->remove.add_requests();
        r->set_id(item.id);
        r->set_timestamp(item.timestamp);
        break;
      }
      case v1::WRITE_OP_REMOVE_BY_TIMESTAMP: call->remove_by_timestamp.set_before(item.before); break;
      default: break;
    }
  }
  return call;
}

void PeerClient::NoteFailure(const Call& call, const grpc::Status& status) {
  std::string active;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    const auto& trailers = call.context.GetServerTrailingMetadata();
    if (auto it = trailers.find(kActiveMetadata); it != trailers.end()) {
      active.assign(it->second.data(), it->second.size());
    }
  }
  MutexLock lock(&mu_);
  const std::string now = redirect_.empty() ? target_.addresses[current_] : redirect_;
  if (now != call.address) return;  // another call moved the guess already
  if (!active.empty() && active != call.address) {
    for (size_t i = 0; i < target_.addresses.size(); ++i) {
      if (target_.addresses[i] == active) {
        current_ = i;
        redirect_.clear();
        redirect_stub_.reset();
        return;
      }
    }
    // The peer names an active the target does not list (its topology
    // changed): follow it, and fall back to the list when it fails.
    redirect_ = active;
    redirect_stub_ = NewStub(active);
    return;
  }
  if (!redirect_.empty()) {
    redirect_.clear();
    redirect_stub_.reset();
    return;
  }
  current_ = (current_ + 1) % target_.addresses.size();
}

void PeerClient::SendAsync(MirrorBatch* batch, std::function<void(Status)> done) {
  batch->answers.clear();
  if (batch->items.empty()) {
    done(Status::Ok());
    return;
  }
  if (batch->op < v1::WRITE_OP_INSERT || batch->op > v1::WRITE_OP_REMOVE_BY_TIMESTAMP) {
    done(Status::InvalidArgument("op " + std::to_string(static_cast<int>(batch->op)) + " is not a write"));
    return;
  }
  if (batch->op == v1::WRITE_OP_REMOVE_BY_TIMESTAMP && batch->items.size() != 1) {
    done(Status::Internal("a RemoveByTimestamp batch holds exactly one request"));
    return;
  }
  std::shared_ptr<Call> call = StartCall(batch);
  {
    MutexLock lock(&mu_);
    in_flight_.insert(&call->context);
  }
  auto finish = [this, call, batch, done = std::move(done)](grpc::Status status) {
    {
      MutexLock lock(&mu_);
      in_flight_.erase(&call->context);
    }
    const bool by_timestamp = batch->op == v1::WRITE_OP_REMOVE_BY_TIMESTAMP;
    // RemoveByTimestamp answers NOT_FOUND as its call status: an answer, not a failure.
    if (by_timestamp && (status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND)) {
      batch->answers.emplace_back(static_cast<StatusCode>(status.error_code()), status.error_message());
      done(Status::Ok());
      return;
    }
    if (!status.ok()) {
      if (status.error_code() != grpc::StatusCode::CANCELLED) NoteFailure(*call, status);
      done(Status(static_cast<StatusCode>(status.error_code()),
                  "mirror target " + target_.name + " at " + call->address + ": " + status.error_message()));
      return;
    }
    if (static_cast<size_t>(call->result.results_size()) != batch->items.size()) {
      done(Status::Internal("mirror target " + target_.name + " answered " +
                            std::to_string(call->result.results_size()) + " results for " +
                            std::to_string(batch->items.size()) + " writes"));
      return;
    }
    for (const v1::ItemResult& item : call->result.results()) {
      batch->answers.emplace_back(static_cast<StatusCode>(item.code()), item.message());
    }
    done(Status::Ok());
  };
  auto* async = call->stub->async();
  switch (batch->op) {
    case v1::WRITE_OP_INSERT: async->MultiInsert(&call->context, &call->insert, &call->result, finish); break;
    case v1::WRITE_OP_UPDATE: async->MultiUpdate(&call->context, &call->update, &call->result, finish); break;
    case v1::WRITE_OP_UPSERT: async->MultiUpsert(&call->context, &call->upsert, &call->result, finish); break;
    case v1::WRITE_OP_REMOVE: async->MultiRemove(&call->context, &call->remove, &call->result, finish); break;
    default:
      async->RemoveByTimestamp(&call->context, &call->remove_by_timestamp, &call->result, finish);
      break;
  }
}

void PeerClient::CancelInFlight() {
  MutexLock lock(&mu_);
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
}

Status PeerClient::Send(MirrorBatch* batch) {
  Mutex mu;
  CondVar cv(&mu);
  bool finished = false;
  Status result;
  SendAsync(batch, [&](Status status) {
    MutexLock lock(&mu);
    result = std::move(status);
    finished = true;
    cv.Signal();
  });
  MutexLock lock(&mu);
  while (!finished) cv.Wait();
  return result;
}

}  // namespace baton::gateway

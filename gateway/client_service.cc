#include "gateway/client_service.h"

#include <atomic>
#include <chrono>

#include <spdlog/spdlog.h>

#include "gateway/mirror/mirror_manager.h"
#include "gateway/mirror/status_rules.h"

namespace baton::gateway {
namespace {

constexpr const char* kActiveKey = kActiveMetadata;
constexpr const char* kMirrorOriginKey = kMirrorOriginMetadata;

// Built once: Family::Add copies them only when a label set is new.
const std::vector<double> kLatencyBuckets = LatencyBuckets();

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void FillItem(const WriteOutcome& outcome, v1::ItemResult* item) {
  item->set_id(outcome.id);
  item->set_timestamp(outcome.timestamp);
  item->set_code(static_cast<int32_t>(outcome.code));
  item->set_message(outcome.message);
}

}  // namespace

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
}

ClientService::ClientService(ClientServiceOptions options, WritePath& writes, const ObjectStore& store,
                             const VectorIndex& index, ServingGate& gate, Metrics& metrics, MirrorManager* mirror)
    : options_(std::move(options)),
      writes_(writes),
      store_(store),
      index_(index),
      gate_(gate),
      mirror_(mirror),
      writes_total_(prometheus::BuildCounter()
                        .Name("baton_gateway_writes_total")
                        .Help("Client write calls by operation and status code")
                        .Register(metrics.registry())),
      reads_total_(prometheus::BuildCounter()
                       .Name("baton_gateway_reads_total")
                       .Help("Client read calls (search, get, exists) by operation and status code")
                       .Register(metrics.registry())),
      write_seconds_(prometheus::BuildHistogram()
                         .Name("baton_gateway_write_duration_seconds")
                         .Help("Client write latency, from arrival to durable and applied")
                         .Register(metrics.registry())),
      read_seconds_(prometheus::BuildHistogram()
                        .Name("baton_gateway_read_duration_seconds")
                        .Help("Client read latency (search, get, exists)")
                        .Register(metrics.registry())) {}

struct ClientService::SyncMirrorCall {
  Context* context = nullptr;
  Reactor* reactor = nullptr;
  std::string_view op;
  std::chrono::steady_clock::time_point start;
  FillResponse fill;
  std::vector<WriteRequest> requests;
  std::vector<WriteOutcome> outcomes;  // the local target's final answers
  std::vector<std::shared_ptr<PeerClient>> peers;
  // Per peer: the first call, the follow-ups by op, and the final answer per item.
  struct PeerState {
    MirrorBatch first;
    std::map<v1::WriteOp, MirrorBatch> follow_ups;
    std::vector<Status> answers;
  };
  std::vector<PeerState> peer_states;
  std::atomic<size_t> peers_left{0};
};

std::pair<std::string, bool> ClientService::Origin(grpc::ServerContextBase* context) const {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kMirrorOriginKey);
  if (it == metadata.end()) return {options_.cluster_id, false};
  return {std::string(it->second.data(), it->second.size()), true};
}

void ClientService::CountWrite(std::string_view op, StatusCode code) {
  writes_total_.Add({{"op", std::string(op)}, {"code", std::string(StatusCodeName(code))}}).Increment();
}

grpc::Status ClientService::Finish(grpc::ServerContextBase* context, std::string_view op, const Status& status,
                                   bool write) {
  if (status.code() == StatusCode::kUnavailable) {
    std::string active = gate_.active_address();
    if (!active.empty()) context->AddTrailingMetadata(kActiveKey, active);
  }
  if (status.code() == StatusCode::kInternal) spdlog::error("{} failed: {}", op, status.ToString());
  if (write) {
    CountWrite(op, status.code());
  } else {
    reads_total_.Add({{"op", std::string(op)}, {"code", std::string(StatusCodeName(status.code()))}}).Increment();
  }
  return ToGrpc(status);
}

ClientService::Reactor* ClientService::StartWrite(Context* context, std::string_view op, const Status& validation,
                                                  std::vector<WriteRequest> requests, FillResponse fill) {
  Reactor* reactor = context->DefaultReactor();
  Status admitted = validation;
  if (admitted.ok()) admitted = gate_.CheckWrite();
  if (!admitted.ok()) {
    reactor->Finish(Finish(context, op, admitted, true));
    return reactor;
  }
  const auto start = std::chrono::steady_clock::now();
  if (mirror_ != nullptr && !requests.empty() && !requests.front().mirrored && mirror_->sync_mode()) {
    std::vector<std::shared_ptr<PeerClient>> peers = mirror_->peers();
    if (!peers.empty()) {
      auto call = std::make_shared<SyncMirrorCall>();
      call->context = context;
      call->reactor = reactor;
      call->op = op;
      call->start = start;
      call->fill = std::move(fill);
      call->requests = std::move(requests);
      call->peers = std::move(peers);
      StartSyncMirror(std::move(call));
      return reactor;
    }
  }
  writes_.WriteAsync(std::move(requests), [this, context, reactor, op, start, fill = std::move(fill)](
                                              Result<std::vector<WriteOutcome>> outcomes) {
    write_seconds_.Add({{"op", std::string(op)}}, kLatencyBuckets).Observe(SecondsSince(start));
    Status status = outcomes.status();
    try {
      if (status.ok()) status = fill(*outcomes);
    } catch (const std::exception& e) {
      status = Status::Internal(std::string("unexpected exception: ") + e.what());
    }
    reactor->Finish(Finish(context, op, status, true));
  });
  return reactor;
}


void ClientService::StartSyncMirror(std::shared_ptr<SyncMirrorCall> call) {
  std::vector<WriteRequest> first = call->requests;
  writes_.WriteAsync(std::move(first), [this, call](Result<std::vector<WriteOutcome>> outcomes) {
    if (!outcomes.ok()) {
      write_seconds_.Add({{"op", std::string(call->op)}}, kLatencyBuckets).Observe(SecondsSince(call->start));
      call->reactor->Finish(Finish(call->context, call->op, outcomes.status(), true));
      return;
    }
    call->outcomes = std::move(outcomes).value();
    // The local store is a target too: Insert -> ALREADY_EXISTS becomes an
    // Update here, Update -> NOT_FOUND an Insert.
    std::vector<size_t> indexes;
    std::vector<WriteRequest> follow_ups;
    for (size_t i = 0; i < call->outcomes.size(); ++i) {
      if (std::optional<v1::WriteOp> next = MirrorFollowUp(call->requests[i].op, call->outcomes[i].code)) {
        indexes.push_back(i);
        follow_ups.push_back(call->requests[i]);
        follow_ups.back().op = *next;
      }
    }
    if (follow_ups.empty()) {
      ForwardToPeers(call);
      return;
    }
    writes_.WriteAsync(std::move(follow_ups), [this, call, indexes](Result<std::vector<WriteOutcome>> more) {
      if (!more.ok()) {
        write_seconds_.Add({{"op", std::string(call->op)}}, kLatencyBuckets).Observe(SecondsSince(call->start));
        call->reactor->Finish(Finish(call->context, call->op, more.status(), true));
        return;
      }
      for (size_t k = 0; k < indexes.size(); ++k) call->outcomes[indexes[k]] = std::move((*more)[k]);
      ForwardToPeers(call);
    });
  });
}

void ClientService::ForwardToPeers(std::shared_ptr<SyncMirrorCall> call) {
  // Every cluster gets the version the local store took, so that they agree
  // on it; what the local store did not take goes out as the client sent it.
  std::vector<WriteRequest> items = call->requests;
  for (size_t i = 0; i < items.size(); ++i) {
    if (call->outcomes[i].applied() && items[i].op != v1::WRITE_OP_REMOVE_BY_TIMESTAMP) {
      items[i].timestamp = call->outcomes[i].timestamp;
    }
  }
  call->peer_states.resize(call->peers.size());
  call->peers_left = call->peers.size();
  for (size_t p = 0; p < call->peers.size(); ++p) {
    SyncMirrorCall::PeerState& state = call->peer_states[p];
    state.first.op = items.front().op;
    state.first.items = items;
    call->peers[p]->SendAsync(&state.first, [this, call, p](Status sent) {
      SyncMirrorCall::PeerState& state = call->peer_states[p];
      const size_t n = state.first.items.size();
      if (!sent.ok()) {
        state.answers.assign(n, sent);
        if (--call->peers_left == 0) FinishSyncMirror(*call);
        return;
      }
      state.answers = state.first.answers;
      for (size_t i = 0; i < n; ++i) {
        if (std::optional<v1::WriteOp> next = MirrorFollowUp(state.first.op, state.answers[i].code())) {
          MirrorBatch& f = state.follow_ups[*next];
          f.op = *next;
          f.items.push_back(state.first.items[i]);
          f.items.back().op = *next;
        }
      }
      if (state.follow_ups.empty()) {
        if (--call->peers_left == 0) FinishSyncMirror(*call);
        return;
      }
      auto batches_left = std::make_shared<std::atomic<size_t>>(state.follow_ups.size());
      for (auto& [follow_up_op, follow_up] : state.follow_ups) {
        // A named copy: clang 14 cannot capture a structured binding.
        const auto op = follow_up_op;
        call->peers[p]->SendAsync(&follow_up, [this, call, p, op, batches_left](Status again) {
          SyncMirrorCall::PeerState& state = call->peer_states[p];
          const MirrorBatch& batch = state.follow_ups.at(op);
          // The follow-up's answer is the target's answer for those items.
          size_t k = 0;
          for (size_t i = 0; i < state.answers.size() && k < batch.items.size(); ++i) {
            if (MirrorFollowUp(state.first.op, state.first.answers[i].code()) != op) continue;
            state.answers[i] = again.ok() ? batch.answers[k] : again;
            ++k;
          }
          if (--*batches_left == 0 && --call->peers_left == 0) FinishSyncMirror(*call);
        });
      }
    });
  }
}

void ClientService::FinishSyncMirror(SyncMirrorCall& call) {
  Status status;
  try {
    for (size_t i = 0; i < call.outcomes.size(); ++i) {
      std::vector<Status> answers;
      answers.emplace_back(call.outcomes[i].code, call.outcomes[i].message);
      for (const SyncMirrorCall::PeerState& peer : call.peer_states) answers.push_back(peer.answers[i]);
      Status aggregate = AggregateMirrorStatus(call.requests[i].op, answers);
      call.outcomes[i].code = aggregate.code();
      call.outcomes[i].message = aggregate.message();
    }
    status = call.fill(call.outcomes);
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("unexpected exception: ") + e.what());
  }
  write_seconds_.Add({{"op", std::string(call.op)}}, kLatencyBuckets).Observe(SecondsSince(call.start));
  call.reactor->Finish(Finish(call.context, call.op, status, true));
}

ClientService::Reactor* ClientService::SingleWrite(Context* context, std::string_view op, const Status& validation,
                                                   WriteRequest request, v1::WriteResult* response) {
  std::vector<WriteRequest> requests;
  requests.push_back(std::move(request));
  return StartWrite(context, op, validation, std::move(requests), [response](std::vector<WriteOutcome>& outcomes) {
    const WriteOutcome& outcome = outcomes.front();
    response->set_id(outcome.id);
    response->set_timestamp(outcome.timestamp);
    return Status(outcome.code, outcome.message);
  });
}

ClientService::Reactor* ClientService::MultiWrite(Context* context, std::string_view op, const Status& validation,
                                                  std::vector<WriteRequest> requests,
                                                  v1::MultiWriteResult* response) {
  return StartWrite(context, op, validation, std::move(requests), [response](std::vector<WriteOutcome>& outcomes) {
    for (const WriteOutcome& outcome : outcomes) FillItem(outcome, response->add_results());
    return Status::Ok();
  });
}

ClientService::Reactor* ClientService::Insert(Context* c, const v1::InsertRequest* r, v1::WriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  return SingleWrite(c, "insert", ValidateInsert(*r, options_.validation),
                     WriteRequest::Put(v1::WRITE_OP_INSERT, r->object(), origin, mirrored), out);
}

ClientService::Reactor* ClientService::Update(Context* c, const v1::UpdateRequest* r, v1::WriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  return SingleWrite(c, "update", ValidateUpdate(*r, options_.validation),
                     WriteRequest::Put(v1::WRITE_OP_UPDATE, r->object(), origin, mirrored), out);
}

ClientService::Reactor* ClientService::Upsert(Context* c, const v1::UpsertRequest* r, v1::WriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  return SingleWrite(c, "upsert", ValidateUpsert(*r, options_.validation),
                     WriteRequest::Put(v1::WRITE_OP_UPSERT, r->object(), origin, mirrored), out);
}

ClientService::Reactor* ClientService::Remove(Context* c, const v1::RemoveRequest* r, v1::WriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  return SingleWrite(c, "remove", ValidateRemove(*r), WriteRequest::Remove(r->id(), r->timestamp(), origin, mirrored),
                     out);
}

ClientService::Reactor* ClientService::RemoveByTimestamp(Context* c, const v1::RemoveByTimestampRequest* r,
                                                         v1::MultiWriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  std::vector<WriteRequest> requests;
  requests.push_back(WriteRequest::RemoveByTimestamp(r->before(), origin, mirrored));
  return StartWrite(c, "remove_by_timestamp", ValidateRemoveByTimestamp(*r), std::move(requests),
                    [out](std::vector<WriteOutcome>& outcomes) {
                      const WriteOutcome& outcome = outcomes.front();
                      // One item per removed object; "nothing matched" is the call's NOT_FOUND.
                      for (const v1::Mutation& m : outcome.mutations) {
                        v1::ItemResult* item = out->add_results();
                        item->set_id(m.remove().id());
                        item->set_timestamp(m.remove().timestamp());
                        item->set_code(0);
                      }
                      return Status(outcome.code, outcome.message);
                    });
}

ClientService::Reactor* ClientService::MultiInsert(Context* c, const v1::MultiInsertRequest* r,
                                                   v1::MultiWriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  std::vector<WriteRequest> requests;
  for (const auto& item : r->requests()) {
    requests.push_back(WriteRequest::Put(v1::WRITE_OP_INSERT, item.object(), origin, mirrored));
  }
  return MultiWrite(c, "multi_insert", ValidateMultiInsert(*r, options_.validation), std::move(requests), out);
}

ClientService::Reactor* ClientService::MultiUpdate(Context* c, const v1::MultiUpdateRequest* r,
                                                   v1::MultiWriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  std::vector<WriteRequest> requests;
  for (const auto& item : r->requests()) {
    requests.push_back(WriteRequest::Put(v1::WRITE_OP_UPDATE, item.object(), origin, mirrored));
  }
  return MultiWrite(c, "multi_update", ValidateMultiUpdate(*r, options_.validation), std::move(requests), out);
}

ClientService::Reactor* ClientService::MultiUpsert(Context* c, const v1::MultiUpsertRequest* r,
                                                   v1::MultiWriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  std::vector<WriteRequest> requests;
  for (const auto& item : r->requests()) {
    requests.push_back(WriteRequest::Put(v1::WRITE_OP_UPSERT, item.object(), origin, mirrored));
  }
  return MultiWrite(c, "multi_upsert", ValidateMultiUpsert(*r, options_.validation), std::move(requests), out);
}

ClientService::Reactor* ClientService::MultiRemove(Context* c, const v1::MultiRemoveRequest* r,
                                                   v1::MultiWriteResult* out) {
  auto [origin, mirrored] = Origin(c);
  std::vector<WriteRequest> requests;
  for (const auto& item : r->requests()) {
    requests.push_back(WriteRequest::Remove(item.id(), item.timestamp(), origin, mirrored));
  }
  return MultiWrite(c, "multi_remove", ValidateMultiRemove(*r), std::move(requests), out);
}

grpc::Status ClientService::Read(grpc::ServerContext* context, std::string_view op, const Status& validation,
                                 const std::function<Status()>& body) {
  const auto start = std::chrono::steady_clock::now();
  Status status = validation;
  try {
    if (status.ok()) status = gate_.CheckRead();
    if (status.ok()) status = body();
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("unexpected exception: ") + e.what());
  }
  read_seconds_.Add({{"op", std::string(op)}}, kLatencyBuckets).Observe(SecondsSince(start));
  return Finish(context, op, status, false);
}

namespace {
void FillNeighbors(const std::vector<Neighbor>& neighbors, v1::SearchResponse* out) {
  for (const Neighbor& n : neighbors) {
    v1::Neighbor* result = out->add_results();
    result->set_id(n.id);
    result->set_distance(n.distance);
  }
}
}  // namespace

grpc::Status ClientService::Search(grpc::ServerContext* c, const v1::SearchRequest* r, v1::SearchResponse* out) {
  return Read(c, "search", ValidateSearch(*r, options_.validation), [&]() -> Status {
    BATON_ASSIGN_OR_RETURN(auto neighbors, index_.Search(std::span(r->vector().data(), r->vector_size()), r->k()));
    FillNeighbors(neighbors, out);
    return Status::Ok();
  });
}

grpc::Status ClientService::SearchByID(grpc::ServerContext* c, const v1::SearchByIDRequest* r,
                                       v1::SearchResponse* out) {
  return Read(c, "search_by_id", ValidateSearchByID(*r, options_.validation), [&]() -> Status {
    BATON_ASSIGN_OR_RETURN(auto neighbors, index_.SearchByID(r->id(), r->k()));
    FillNeighbors(neighbors, out);
    return Status::Ok();
  });
}

grpc::Status ClientService::GetObject(grpc::ServerContext* c, const v1::GetObjectRequest* r, v1::Object* out) {
  return Read(c, "get_object", ValidateGetObject(*r), [&]() -> Status {
    std::optional<Object> object = store_.Get(r->id());
    if (!object) return Status::NotFound("object " + r->id() + " does not exist");
    out->set_id(object->id);
    out->mutable_vector()->Add(object->vector.begin(), object->vector.end());
    out->set_timestamp(object->timestamp);
    out->set_metadata(object->metadata);
    return Status::Ok();
  });
}

grpc::Status ClientService::Exists(grpc::ServerContext* c, const v1::ExistsRequest* r, v1::ExistsResponse* out) {
  return Read(c, "exists", ValidateExists(*r), [&]() -> Status {
    out->set_exists(store_.Exists(r->id()));
    return Status::Ok();
  });
}

}  // namespace baton::gateway

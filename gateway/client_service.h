// baton.v1.Gateway: the client API (PRODUCT.md §2, §9). Writes use gRPC's
// callback API: a handler hands its requests to the write path and returns;
// the committer thread finishes the call once the batch is durable, so no
// thread is parked per write in flight. Reads use the synchronous API (a
// search is CPU work that must not stall gRPC's event threads), go straight
// to the store and index, and never wait for a write's fsync.
//
// Thread-safe: gRPC calls the handlers on its own threads, concurrently.
// Everything passed to the constructor must outlive the service.
#pragma once

#include <functional>
#include <string>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "baton/v1/gateway.grpc.pb.h"
#include "common/metrics.h"
#include "common/status.h"
#include "gateway/store/store.h"
#include "gateway/store/validation.h"
#include "gateway/store/vector_index.h"
#include "gateway/write_path.h"

namespace baton::gateway {

class MirrorManager;

// Whether this instance may serve, decided by its role (standalone: always).
// Thread-safe; called on every request.
class ServingGate {
 public:
  virtual ~ServingGate() = default;
  // OK, UNAVAILABLE (not the active) or FAILED_PRECONDITION (lease expired).
  virtual Status CheckWrite() = 0;
  virtual Status CheckRead() = 0;
  // Address of the cluster's active, for `baton-active`; empty when unknown.
  virtual std::string active_address() = 0;
};

grpc::Status ToGrpc(const Status& status);

struct ClientServiceOptions {
  ValidationOptions validation;
  std::string cluster_id;  // origin of local writes (last-writer-wins tie-break)
};

// Write methods on the callback API, reads on the synchronous one.
using GatewayServiceBase = v1::Gateway::WithCallbackMethod_Insert<v1::Gateway::WithCallbackMethod_Update<
    v1::Gateway::WithCallbackMethod_Upsert<v1::Gateway::WithCallbackMethod_Remove<
        v1::Gateway::WithCallbackMethod_RemoveByTimestamp<v1::Gateway::WithCallbackMethod_MultiInsert<
            v1::Gateway::WithCallbackMethod_MultiUpdate<v1::Gateway::WithCallbackMethod_MultiUpsert<
                v1::Gateway::WithCallbackMethod_MultiRemove<v1::Gateway::Service>>>>>>>>>;

class ClientService final : public GatewayServiceBase {
 public:
  // `mirror` (may be null) supplies the peers of mirror.mode sync.
  ClientService(ClientServiceOptions options, WritePath& writes, const ObjectStore& store, const VectorIndex& index,
                ServingGate& gate, Metrics& metrics, MirrorManager* mirror = nullptr);

  using Reactor = grpc::ServerUnaryReactor;
  using Context = grpc::CallbackServerContext;
  Reactor* Insert(Context*, const v1::InsertRequest*, v1::WriteResult*) override;
  Reactor* Update(Context*, const v1::UpdateRequest*, v1::WriteResult*) override;
  Reactor* Upsert(Context*, const v1::UpsertRequest*, v1::WriteResult*) override;
  Reactor* Remove(Context*, const v1::RemoveRequest*, v1::WriteResult*) override;
  Reactor* RemoveByTimestamp(Context*, const v1::RemoveByTimestampRequest*, v1::MultiWriteResult*) override;
  Reactor* MultiInsert(Context*, const v1::MultiInsertRequest*, v1::MultiWriteResult*) override;
  Reactor* MultiUpdate(Context*, const v1::MultiUpdateRequest*, v1::MultiWriteResult*) override;
  Reactor* MultiUpsert(Context*, const v1::MultiUpsertRequest*, v1::MultiWriteResult*) override;
  Reactor* MultiRemove(Context*, const v1::MultiRemoveRequest*, v1::MultiWriteResult*) override;
  grpc::Status Search(grpc::ServerContext*, const v1::SearchRequest*, v1::SearchResponse*) override;
  grpc::Status SearchByID(grpc::ServerContext*, const v1::SearchByIDRequest*, v1::SearchResponse*) override;
  grpc::Status GetObject(grpc::ServerContext*, const v1::GetObjectRequest*, v1::Object*) override;
  grpc::Status Exists(grpc::ServerContext*, const v1::ExistsRequest*, v1::ExistsResponse*) override;

 private:
  // Per-item outcomes into the response; returns the call's status.
  using FillResponse = std::function<Status(std::vector<WriteOutcome>&)>;
  // Validation, role check, then the write; `fill` and the call's Finish run
  // on the committer thread once the write is durable. Counts and times it.
  // `op` must be a string literal (it outlives the call).
  Reactor* StartWrite(Context* context, std::string_view op, const Status& validation,
                      std::vector<WriteRequest> requests, FillResponse fill);
  // mirror.mode sync (docs/mirroring.md): the local write with its
  // follow-up (status_rules.h), then every peer with theirs; the call ends
  // with the aggregated status per item once all have answered.
  struct SyncMirrorCall;
  void StartSyncMirror(std::shared_ptr<SyncMirrorCall> call);
  void ForwardToPeers(std::shared_ptr<SyncMirrorCall> call);
  void FinishSyncMirror(SyncMirrorCall& call);
  Reactor* SingleWrite(Context* context, std::string_view op, const Status& validation, WriteRequest request,
                       v1::WriteResult* response);
  Reactor* MultiWrite(Context* context, std::string_view op, const Status& validation,
                      std::vector<WriteRequest> requests, v1::MultiWriteResult* response);
  // Sets `baton-active` on UNAVAILABLE and converts.
  grpc::Status Finish(grpc::ServerContextBase* context, std::string_view op, const Status& status, bool write);
  grpc::Status Read(grpc::ServerContext* context, std::string_view op, const Status& validation,
                    const std::function<Status()>& body);
  // Origin cluster and the mirrored flag from `baton-mirror-origin`.
  std::pair<std::string, bool> Origin(grpc::ServerContextBase* context) const;
  void CountWrite(std::string_view op, StatusCode code);

  const ClientServiceOptions options_;
  WritePath& writes_;
  const ObjectStore& store_;
  const VectorIndex& index_;
  ServingGate& gate_;
  MirrorManager* const mirror_;
  prometheus::Family<prometheus::Counter>& writes_total_;
  prometheus::Family<prometheus::Counter>& reads_total_;
  prometheus::Family<prometheus::Histogram>& write_seconds_;
  prometheus::Family<prometheus::Histogram>& read_seconds_;
};

}  // namespace baton::gateway

// baton.v1.Gateway: the client API (PRODUCT.md §2, §9) on gRPC's synchronous
// server. Write handlers block until their batch is durable (group commit
// batches concurrent callers); reads go straight to the store and index and
// never wait for a write's fsync.
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

// A standalone gateway is always the active.
class AlwaysActive : public ServingGate {
 public:
  Status CheckWrite() override { return Status::Ok(); }
  Status CheckRead() override { return Status::Ok(); }
  std::string active_address() override { return ""; }
};

grpc::Status ToGrpc(const Status& status);

struct ClientServiceOptions {
  ValidationOptions validation;
  std::string cluster_id;  // origin of local writes (last-writer-wins tie-break)
};

class ClientService final : public v1::Gateway::Service {
 public:
  ClientService(ClientServiceOptions options, WritePath& writes, const ObjectStore& store, const VectorIndex& index,
                ServingGate& gate, Metrics& metrics);

  grpc::Status Insert(grpc::ServerContext*, const v1::InsertRequest*, v1::WriteResult*) override;
  grpc::Status Update(grpc::ServerContext*, const v1::UpdateRequest*, v1::WriteResult*) override;
  grpc::Status Upsert(grpc::ServerContext*, const v1::UpsertRequest*, v1::WriteResult*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveRequest*, v1::WriteResult*) override;
  grpc::Status RemoveByTimestamp(grpc::ServerContext*, const v1::RemoveByTimestampRequest*,
                                 v1::MultiWriteResult*) override;
  grpc::Status MultiInsert(grpc::ServerContext*, const v1::MultiInsertRequest*, v1::MultiWriteResult*) override;
  grpc::Status MultiUpdate(grpc::ServerContext*, const v1::MultiUpdateRequest*, v1::MultiWriteResult*) override;
  grpc::Status MultiUpsert(grpc::ServerContext*, const v1::MultiUpsertRequest*, v1::MultiWriteResult*) override;
  grpc::Status MultiRemove(grpc::ServerContext*, const v1::MultiRemoveRequest*, v1::MultiWriteResult*) override;
  grpc::Status Search(grpc::ServerContext*, const v1::SearchRequest*, v1::SearchResponse*) override;
  grpc::Status SearchByID(grpc::ServerContext*, const v1::SearchByIDRequest*, v1::SearchResponse*) override;
  grpc::Status GetObject(grpc::ServerContext*, const v1::GetObjectRequest*, v1::Object*) override;
  grpc::Status Exists(grpc::ServerContext*, const v1::ExistsRequest*, v1::ExistsResponse*) override;

 private:
  // Role check, validation, write, per-item outcomes; counts and times it.
  Result<std::vector<WriteOutcome>> DoWrite(grpc::ServerContext* context, std::string_view op,
                                            const Status& validation, std::vector<WriteRequest> requests);
  grpc::Status SingleWrite(grpc::ServerContext* context, std::string_view op, const Status& validation,
                           WriteRequest request, v1::WriteResult* response);
  grpc::Status MultiWrite(grpc::ServerContext* context, std::string_view op, const Status& validation,
                          std::vector<WriteRequest> requests, v1::MultiWriteResult* response);
  // Sets `baton-active` on UNAVAILABLE and converts.
  grpc::Status Finish(grpc::ServerContext* context, std::string_view op, const Status& status, bool write);
  grpc::Status Read(grpc::ServerContext* context, std::string_view op, const Status& validation,
                    const std::function<Status()>& body);
  // Origin cluster and the mirrored flag from `baton-mirror-origin`.
  std::pair<std::string, bool> Origin(grpc::ServerContext* context) const;
  void CountWrite(std::string_view op, StatusCode code);

  const ClientServiceOptions options_;
  WritePath& writes_;
  const ObjectStore& store_;
  const VectorIndex& index_;
  ServingGate& gate_;
  prometheus::Family<prometheus::Counter>& writes_total_;
  prometheus::Family<prometheus::Counter>& reads_total_;
  prometheus::Family<prometheus::Histogram>& write_seconds_;
  prometheus::Family<prometheus::Histogram>& read_seconds_;
};

}  // namespace baton::gateway

// baton.v1.Replication, both ends served by every gateway:
//  - Replicate (standby side): checks the stream's epoch against its own,
//    finds the common prefix with the active's epoch history and cuts its
//    divergent tail, asks for a snapshot when the active's log no longer
//    reaches back, then persists entries in its own log at the same
//    positions, applies them in order and acks its durable position.
//  - FetchSnapshot (active side): streams its newest snapshot in chunks.
// A standby fetches a snapshot itself (a background thread) when its
// handshake answer was needs_snapshot. Every ack a standby sends says
// whether it has arbiter contact (RoleState::arbiter_contact()), which the
// active's failsafe needs. Protocol: docs/replication.md.
//
// Thread-safe: gRPC calls handlers concurrently; only the newest stream
// appends (a new stream supersedes the one before it). `wal`, `history`,
// `role`, `writes` and `host` must outlive the service.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "baton/v1/replication.grpc.pb.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/log/wal.h"
#include "gateway/replication/epoch_history.h"
#include "gateway/role.h"
#include "gateway/write_path.h"

namespace baton::gateway {

// What only the gateway as a whole can do to its state.
class ReplicaHost {
 public:
  virtual ~ReplicaHost() = default;
  // Drops every log record after `seq` and rebuilds the store and index from
  // what is left. FAILED_PRECONDITION when the local snapshots and log cannot
  // go back there (then a snapshot from the active is needed).
  virtual Status TruncateAndReload(uint64_t seq) = 0;
  // Replaces the whole state with the active's snapshot (file bytes as
  // SnapshotFiles writes them) and its epoch history up to the snapshot.
  virtual Status InstallSnapshot(std::string_view file_bytes, std::vector<EpochStartEntry> history) = 0;
  // The newest snapshot as file bytes, taking one first if there is none.
  virtual Result<std::string> SnapshotForPeer() = 0;
};

class ReplicationService final : public v1::Replication::Service {
 public:
  ReplicationService(std::string instance_id, Wal& wal, EpochHistory& history, RoleState& role, WritePath& writes,
                     ReplicaHost& host);
  ~ReplicationService() override;

  grpc::Status Replicate(grpc::ServerContext* context,
                         grpc::ServerReaderWriter<v1::ReplicateResponse, v1::ReplicateRequest>* stream) override;
  grpc::Status FetchSnapshot(grpc::ServerContext* context, const v1::FetchSnapshotRequest* request,
                             grpc::ServerWriter<v1::SnapshotChunk>* writer) override;

  // Ends the current stream (the role changed); once it returns no append
  // is in progress and none follows until the next handshake.
  void EndStreams() EXCLUDES(apply_mu_) {
    MutexLock lock(&apply_mu_);
    generation_.fetch_add(1);
  }
  // Cancels every open Replicate and FetchSnapshot call and this standby's
  // own snapshot fetch, and refuses new ones (UNAVAILABLE), so that the gRPC
  // server's shutdown need not wait for streams that never end by
  // themselves. Call before grpc::Server::Shutdown(); idempotent.
  void Shutdown() EXCLUDES(calls_mu_, fetch_mu_);
  // Snapshots installed since start.
  uint64_t snapshots_installed() const { return snapshots_installed_.load(); }

 private:
  // Answers the handshake; false ends the stream (the answer says why).
  bool Handshake(const v1::ReplicateRequest& hello, v1::ReplicateResponse* answer) EXCLUDES(apply_mu_);
  // Persists and applies one message's entries; error text on failure.
  std::string Append(const v1::ReplicateRequest& request, uint64_t generation) EXCLUDES(apply_mu_);
  void StartSnapshotFetch(std::vector<EpochStartEntry> active_history) EXCLUDES(fetch_mu_);
  void FetchAndInstall(std::string address, uint64_t epoch, std::vector<EpochStartEntry> active_history)
      EXCLUDES(fetch_mu_);
  // Open server calls, so Shutdown() can cancel them; Register() is false
  // once shut down.
  bool Register(grpc::ServerContext* context) EXCLUDES(calls_mu_);
  void Unregister(grpc::ServerContext* context) EXCLUDES(calls_mu_);
  // Unregisters a registered call when the handler returns.
  struct CallRegistration {
    ReplicationService* service;
    grpc::ServerContext* context;
    ~CallRegistration() { service->Unregister(context); }
  };

  const std::string instance_id_;
  Wal& wal_;
  EpochHistory& history_;
  RoleState& role_;
  WritePath& writes_;
  ReplicaHost& host_;

  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> snapshots_installed_{0};
  // Serializes appends, truncation and snapshot installs.
  Mutex apply_mu_;

  Mutex calls_mu_;
  std::set<grpc::ServerContext*> calls_ GUARDED_BY(calls_mu_);
  bool shut_down_ GUARDED_BY(calls_mu_) = false;

  Mutex fetch_mu_;
  bool fetching_ GUARDED_BY(fetch_mu_) = false;
  bool stopping_ GUARDED_BY(fetch_mu_) = false;
  grpc::ClientContext* fetch_context_ GUARDED_BY(fetch_mu_) = nullptr;  // the fetch in progress
  std::thread fetcher_;
};

}  // namespace baton::gateway

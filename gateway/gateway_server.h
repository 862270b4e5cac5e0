// One gateway process: recovers the store from the newest snapshot plus the
// log, serves the client API, the control service and replication over gRPC
// and /healthz, /readyz, /metrics over HTTP, and writes snapshots in the
// background so recovery time and log size stay bounded. Its role comes
// from assignments (control service); before the first one it is a
// standalone active (no arbiter.addresses) or unassigned (serves no client
// call). With `pid_file` set, the file holds this process's pid from the
// moment it serves until a clean Stop() (the agent watches that pid).
//
// Start() and Stop() from one thread (main); accessors from any thread.
// Stop() returns within a few seconds: replication streams are cancelled
// and client calls get at most 2 s to finish.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/file_system.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/client_service.h"
#include "gateway/control_service.h"
#include "common/mirror_target.h"
#include "gateway/log/wal.h"
#include "gateway/mirror/mirror_manager.h"
#include "gateway/replication/epoch_history.h"
#include "gateway/replication/replication_service.h"
#include "gateway/replication/replication_source.h"
#include "gateway/role.h"
#include "gateway/snapshot.h"
#include "gateway/store/store.h"
#include "gateway/store/vector_index.h"
#include "gateway/write_path.h"

namespace baton::gateway {

class GatewayServer final : public ControlHandler, public ReplicaHost {
 public:
  // `config` follows GatewayConfigSchema(). `fs` and `clock` must outlive
  // the server (tests pass a FaultFileSystem or a ManualClock).
  static Result<std::unique_ptr<GatewayServer>> Start(const Config& config, FileSystem& fs = PosixFileSystem(),
                                                      Clock& clock = RealClock());
  ~GatewayServer();
  void Stop();

  uint16_t grpc_port() const { return grpc_port_; }
  uint16_t http_port() const;
  const ObjectStore& store() const { return *store_; }
  Wal& wal() { return *wal_; }
  // For the systemd watchdog (common/daemon.h): OK while the log is not
  // poisoned and the committer thread completes a batch of its own (nothing
  // is logged); blocks while that thread is stuck, e.g. in an fsync that does
  // not return, so that a wedged gateway stops pinging. Any thread.
  Status CheckAlive();
  // Writes a snapshot now (also what the background snapshotter calls).
  Status TakeSnapshot();

  // ControlHandler (role changes are serialized).
  Status ApplyAssignment(const v1::Assignment& assignment, std::optional<MonoTime> deadline) override
      EXCLUDES(role_change_mu_);
  Status RenewLease(uint64_t epoch, uint32_t lease_ms, std::optional<MonoTime> deadline) override;
  v1::GetStateResponse State() override;

  // ReplicaHost.
  Status TruncateAndReload(uint64_t seq) override;
  Status InstallSnapshot(std::string_view file_bytes, std::vector<EpochStartEntry> history) override;
  Result<std::string> SnapshotForPeer() override;

 private:
  GatewayServer(const Config& config, FileSystem& fs, Clock& clock);
  Status Recover();
  Status ReplayLog(uint64_t from_seq);
  // Store and index from the newest snapshot plus the log (start-up, divergence).
  Status LoadState();
  Status StartServing();
  void SnapshotLoop();
  void RegisterMetrics();
  // pid_file: written once serving, removed by Stop() if it still names us.
  Status WritePid();
  void RemovePid();
  // What GetState and the gauge report: handing over, and the write that was
  // being logged when it began is durable (so the durable position is final).
  bool HandingOver() const;
  // Mirror targets and mode an assignment stands for (docs/mirroring.md):
  // the assignment's, under an arbiter or when it names any; else config's.
  std::vector<MirrorTargetSpec> MirrorTargetsFor(const v1::Assignment& assignment) const;
  std::string MirrorModeFor(const v1::Assignment& assignment) const;
  // Drops tombstones older than mirror.tombstone_ttl, at most once a minute.
  void MaybeCompactTombstones();

  const Config config_;
  FileSystem& fs_;
  Clock& clock_;
  Metrics metrics_;
  std::unique_ptr<SnapshotFiles> snapshots_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<VectorIndex> index_;
  std::unique_ptr<WritePath> writes_;
  std::unique_ptr<EpochHistory> history_;
  std::unique_ptr<RoleState> role_;
  std::unique_ptr<ReplicationSource> source_;
  std::unique_ptr<ReplicationService> replication_;
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<MirrorManager> mirror_;
  std::vector<MirrorTargetSpec> config_mirror_targets_;  // mirror.targets
  Duration tombstone_ttl_{};
  MonoTime last_compaction_{};  // snapshotter thread
  Mutex role_change_mu_;
  // Set once a handover's Flush() returned, cleared by the assignment that
  // ends it (written under role_change_mu_, read anywhere).
  std::atomic<bool> handover_flushed_{false};
  std::unique_ptr<ClientService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<HttpServer> http_;
  uint16_t grpc_port_ = 0;
  bool pid_written_ = false;  // Start()/Stop() thread

  Mutex snapshot_mu_;  // one snapshot at a time
  // Written by TakeSnapshot() (any thread), read by the snapshotter.
  std::atomic<uint64_t> records_at_last_snapshot_{0};
  Mutex stop_mu_;
  CondVar stop_cv_{&stop_mu_};
  bool stopping_ GUARDED_BY(stop_mu_) = false;
  std::thread snapshotter_;

  prometheus::Histogram* fsync_seconds_ = nullptr;
  prometheus::Histogram* batch_records_ = nullptr;
  prometheus::Gauge* objects_ = nullptr;
  prometheus::Gauge* index_pending_ = nullptr;
  prometheus::Counter* snapshots_total_ = nullptr;
  prometheus::Gauge* fenced_ = nullptr;
  prometheus::Gauge* handing_over_ = nullptr;
  prometheus::Gauge* role_gauge_ = nullptr;
  prometheus::Gauge* epoch_gauge_ = nullptr;
};

}  // namespace baton::gateway

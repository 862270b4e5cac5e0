#include "gateway/gateway_server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include "baton/v1/storage.pb.h"
#include "common/process.h"
#include "gateway/gateway_config.h"
#include "gateway/log/wal_reader.h"
#include "gateway/store/metric.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace baton::gateway {

GatewayServer::GatewayServer(const Config& config, FileSystem& fs, Clock& clock)
    : config_(config), fs_(fs), clock_(clock), metrics_("gateway") {}

GatewayServer::~GatewayServer() { Stop(); }

Result<std::unique_ptr<GatewayServer>> GatewayServer::Start(const Config& config, FileSystem& fs, Clock& clock) {
  std::unique_ptr<GatewayServer> server(new GatewayServer(config, fs, clock));
  server->RegisterMetrics();
  BATON_RETURN_IF_ERROR(server->Recover());
  BATON_RETURN_IF_ERROR(server->StartServing());
  server->snapshotter_ = std::thread([s = server.get()] { s->SnapshotLoop(); });
  BATON_RETURN_IF_ERROR(server->WritePid());
  return server;
}

void GatewayServer::RegisterMetrics() {
  auto& registry = metrics_.registry();
  fsync_seconds_ = &prometheus::BuildHistogram()
                        .Name("baton_wal_fsync_duration_seconds")
                        .Help("Time spent in fdatasync per group-commit batch")
                        .Register(registry)
                        .Add({}, LatencyBuckets());
  batch_records_ = &prometheus::BuildHistogram()
                        .Name("baton_wal_group_commit_batch_records")
                        .Help("Records written by one fdatasync (group-commit batch size)")
                        .Register(registry)
                        .Add({}, ExponentialBuckets(1, 2, 13));
  objects_ = &prometheus::BuildGauge()
                  .Name("baton_gateway_objects")
                  .Help("Live objects in the store")
                  .Register(registry)
                  .Add({});
  index_pending_ = &prometheus::BuildGauge()
                        .Name("baton_gateway_index_pending_objects")
                        .Help("Objects written but not yet in the approximate index (served by exact scan)")
                        .Register(registry)
                        .Add({});
  fenced_ = &prometheus::BuildGauge()
                .Name("baton_gateway_fenced")
                .Help("1 while this active's lease has expired and it refuses writes")
                .Register(registry)
                .Add({});
  handing_over_ = &prometheus::BuildGauge()
                       .Name("baton_gateway_handing_over")
                       .Help("1 while this active hands over to a switchover candidate and refuses writes")
                       .Register(registry)
                       .Add({});
  role_gauge_ = &prometheus::BuildGauge()
                    .Name("baton_gateway_role")
                    .Help("Role: 1 active, 2 standby, 3 unassigned (baton.v1.Role)")
                    .Register(registry)
                    .Add({});
  epoch_gauge_ = &prometheus::BuildGauge()
                     .Name("baton_gateway_epoch")
                     .Help("Current epoch")
                     .Register(registry)
                     .Add({});
  snapshots_total_ = &prometheus::BuildCounter()
                          .Name("baton_gateway_snapshots_total")
                          .Help("Snapshots written")
                          .Register(registry)
                          .Add({});
}

Status GatewayServer::Recover() {
  const std::string data_dir = config_.GetString("data_dir");
  BATON_RETURN_IF_ERROR(fs_.CreateDirs(data_dir));
  const int dimension = static_cast<int>(config_.GetInt("index.dimension"));
  store_ = std::make_unique<ObjectStore>(clock_, ObjectStoreOptions{.dimension = dimension});
  snapshots_ = std::make_unique<SnapshotFiles>(fs_, data_dir + "/snapshots");
  BATON_RETURN_IF_ERROR(snapshots_->Init());

  WalOptions wal_options;
  wal_options.dir = data_dir + "/log";
  wal_options.segment_bytes = static_cast<uint64_t>(config_.GetInt("wal.segment_bytes"));
  wal_options.initial_epoch = 1;
  wal_options.on_sync = [this](const WalSyncSample& sample) {
    fsync_seconds_->Observe(ToSeconds(sample.sync_duration));
    batch_records_->Observe(static_cast<double>(sample.records));
  };
  BATON_ASSIGN_OR_RETURN(wal_, Wal::Open(fs_, wal_options, clock_));

  history_ = std::make_unique<EpochHistory>(fs_, data_dir);
  BATON_RETURN_IF_ERROR(history_->Load());
  // Logs from before replication (and new ones) are epoch 1 from the start.
  if (history_->entries().empty()) BATON_RETURN_IF_ERROR(history_->Begin(1, 1));
  if (wal_->epoch() > history_->last_epoch()) {
    return Status::DataLoss("log in " + wal_options.dir + " is at epoch " + std::to_string(wal_->epoch()) +
                            " but the epoch history in " + data_dir + "/epochs ends at epoch " +
                            std::to_string(history_->last_epoch()) + "; resync this instance from a peer");
  }

  VectorIndexOptions index_options;
  index_options.dimension = dimension;
  BATON_ASSIGN_OR_RETURN(index_options.metric, ParseMetric(config_.GetString("index.metric")));
  index_options.ef_search = static_cast<size_t>(config_.GetInt("index.ef_search"));
  index_options.exact_threshold = static_cast<size_t>(config_.GetInt("index.exact_threshold"));
  index_options.indexer_nice = static_cast<int>(config_.GetInt("index.indexer_nice"));
  BATON_ASSIGN_OR_RETURN(index_, VectorIndex::Create(*store_, index_options));
  BATON_RETURN_IF_ERROR(LoadState());

  writes_ = std::make_unique<WritePath>(*wal_, *store_, *index_);
  writes_->set_on_batch([this](size_t) {
    objects_->Set(static_cast<double>(store_->size()));
    index_pending_->Set(static_cast<double>(index_->pending_count()));
  });
  const bool standalone = config_.GetStringList("arbiter.addresses").empty();
  // Under an arbiter it starts unassigned at the highest epoch it was ever
  // told, so that it refuses what an older epoch sends it even after a
  // restart; standalone it is active at its log's epoch.
  role_ = std::make_unique<RoleState>(clock_, standalone ? history_->last_epoch() : history_->highest_epoch(),
                                      standalone);
  if (!standalone) spdlog::info("arbiter.addresses is set: no role until the first assignment");
  objects_->Set(static_cast<double>(store_->size()));
  spdlog::info("recovered: {} objects, {} tombstones, log at {}, digest {:016x}", store_->size(),
               store_->tombstone_count(), wal_->durable_position().ToString(), store_->digest());
  return Status::Ok();
}

Status GatewayServer::LoadState() {
  BATON_ASSIGN_OR_RETURN(std::optional<Snapshot> snapshot, snapshots_->LoadNewest());
  uint64_t covered_seq = 0;
  if (snapshot) {
    BATON_RETURN_IF_ERROR(store_->LoadFrom(snapshot->payload, snapshot->covers).WithContext(snapshot->path));
    covered_seq = snapshot->covers.seq;
  } else {
    store_->Clear();
  }
  // Segments are deleted only once a snapshot covers them; if the snapshot
  // we found is older than the log's start, records in between are gone.
  if (wal_->first_seq() > covered_seq + 1 && wal_->durable_position().seq >= wal_->first_seq()) {
    return Status::DataLoss("log in " + wal_->dir() + " starts at seq " + std::to_string(wal_->first_seq()) +
                            " but the newest usable snapshot covers only up to " + std::to_string(covered_seq) +
                            "; resync this instance from a peer");
  }
  BATON_RETURN_IF_ERROR(ReplayLog(std::max(covered_seq + 1, wal_->first_seq())));
  return index_->Rebuild();
}

Status GatewayServer::ReplayLog(uint64_t from_seq) {
  const uint64_t last = wal_->durable_position().seq;
  if (from_seq > last) return Status::Ok();
  spdlog::info("replaying log records {}..{}", from_seq, last);
  auto reader = wal_->NewReader(from_seq);
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  uint64_t replayed = 0;
  v1::WriteRecord record;
  while (true) {
    BATON_ASSIGN_OR_RETURN(std::optional<LogRecord> entry, reader->Next(std::chrono::milliseconds(0)));
    if (!entry) break;
    if (entry->type == RecordType::kWrite) {
      if (!record.ParseFromString(entry->payload)) {
        return Status::DataLoss("log record " + entry->pos.ToString() + " has a valid crc but does not decode");
      }
      BATON_RETURN_IF_ERROR(store_->Apply(record, entry->pos).WithContext("replaying " + entry->pos.ToString()));
    } else if (entry->type == RecordType::kCursor) {
      v1::MirrorCursorRecord cursors;
      if (!cursors.ParseFromString(entry->payload)) {
        return Status::DataLoss("log record " + entry->pos.ToString() + " has a valid crc but does not decode");
      }
      store_->ApplyCursors(cursors, entry->pos);
    }
    ++replayed;
    auto now = std::chrono::steady_clock::now();
    if (now - last_report >= std::chrono::seconds(1)) {
      spdlog::info("replay: {} of {} records ({:.0f}%)", replayed, last - from_seq + 1,
                   100.0 * static_cast<double>(replayed) / static_cast<double>(last - from_seq + 1));
      last_report = now;
    }
  }
  spdlog::info("replayed {} records in {:.2f} s", replayed,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return Status::Ok();
}

Status GatewayServer::StartServing() {
  ClientServiceOptions options;
  options.validation.dimension = static_cast<int>(config_.GetInt("index.dimension"));
  options.cluster_id = config_.GetString("instance.cluster");
  {
    auto targets = ParseMirrorTargets(config_.GetStringList("mirror.targets"));
    if (!targets.ok()) return targets.status().WithContext("mirror.targets");
    config_mirror_targets_ = std::move(targets).value();
  }
  {
    Result<std::chrono::seconds> ttl = ParseDurationText(config_.GetString("mirror.tombstone_ttl"));
    if (!ttl.ok()) return ttl.status().WithContext("mirror.tombstone_ttl");
    tombstone_ttl_ = *ttl;
  }
  last_compaction_ = clock_.Now();

  const std::string instance_id = config_.GetString("instance.id");
  ReplicationSourceOptions source_options;
  source_options.instance_id = instance_id;
  source_options.heartbeat = std::chrono::milliseconds(config_.GetInt("replication.heartbeat_ms"));
  source_options.sync_timeout = std::chrono::milliseconds(config_.GetInt("replication.sync_timeout_ms"));
  source_options.ack_window = std::max<Duration>(source_options.heartbeat * 10, std::chrono::milliseconds(200));
  source_ = std::make_unique<ReplicationSource>(*wal_, *history_, *role_, clock_, metrics_, source_options);
  role_->set_failsafe_probe([this] { return source_->FailsafeHolds(); });
  writes_->set_ack_gate([this](LogPosition position, std::function<void(Status)> ack) {
    source_->Await(position, std::move(ack));
  });
  writes_->set_append_gate([this] { return role_->CheckAppend(); });
  MirrorManagerOptions mirror_options;
  mirror_options.own_cluster = options.cluster_id;
  mirror_options.cursor_interval = std::chrono::milliseconds(config_.GetInt("mirror.cursor_interval_ms"));
  mirror_options.sender.max_batch = static_cast<size_t>(config_.GetInt("mirror.max_batch"));
  mirror_options.sender.timeout = std::chrono::milliseconds(config_.GetInt("mirror.timeout_ms"));
  mirror_options.sender.await_committed = [this](uint64_t seq, const std::function<bool()>& stopping) {
    // Shared: the answer may come after a stopping sender gave up on it.
    struct Wait {
      Mutex mu;
      CondVar cv{&mu};
      std::optional<Status> result GUARDED_BY(mu);
    };
    auto wait = std::make_shared<Wait>();
    source_->Await(LogPosition{0, seq}, [wait](Status status) {
      MutexLock lock(&wait->mu);
      wait->result = std::move(status);
      wait->cv.Signal();
    });
    MutexLock lock(&wait->mu);
    while (!wait->result) {
      if (stopping()) return Status::Cancelled("mirror sender stopping");
      wait->cv.WaitFor(std::chrono::milliseconds(50));
    }
    return *wait->result;
  };
  mirror_ = std::make_unique<MirrorManager>(*wal_, *store_, *writes_, clock_, metrics_, mirror_options);
  service_ = std::make_unique<ClientService>(options, *writes_, *store_, *index_, *role_, metrics_, mirror_.get());
  if (config_.GetStringList("arbiter.addresses").empty()) {
    // Standalone: the active from the start, with the configured targets.
    mirror_->Configure(config_mirror_targets_, role_->role() == v1::ROLE_ACTIVE, config_.GetString("mirror.mode"));
  }
  replication_ = std::make_unique<ReplicationService>(instance_id, *wal_, *history_, *role_, *writes_, *this);
  control_ = std::make_unique<ControlService>(*this);

  const std::string listen = config_.GetString("grpc.listen");
  int selected_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(service_.get());
  builder.RegisterService(control_.get());
  builder.RegisterService(replication_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  // The sync server's default (1..2 idle pollers) makes gRPC create and join a
  // thread for nearly every concurrent request; keeping a pool of idle pollers
  // removes that churn, which cost more CPU than the write itself.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || selected_port == 0) return Status::Unavailable("grpc.listen: cannot listen on " + listen);
  grpc_port_ = static_cast<uint16_t>(selected_port);

  HttpServerOptions http_options;
  http_options.listen_address = config_.GetString("http.listen");
  http_options.metrics = &metrics_;
  http_options.ready = [this] { return role_->CheckWrite().ok() && wal_->poison_status().ok(); };
  http_options.healthy = [this] { return wal_->poison_status().ok(); };
  auto http = HttpServer::Start(http_options, Router());
  if (!http.ok()) return http.status().WithContext("http.listen");
  http_ = std::move(http).value();
  spdlog::info("serving: grpc on port {}, http on port {}", grpc_port_, http_->port());
  return Status::Ok();
}

uint16_t GatewayServer::http_port() const { return http_ ? http_->port() : 0; }

Status GatewayServer::CheckAlive() {
  BATON_RETURN_IF_ERROR(wal_->poison_status());
  return writes_->Flush();
}

Status GatewayServer::TakeSnapshot() {
  MutexLock lock(&snapshot_mu_);
  const uint64_t records = writes_->applied_records();
  std::string payload;
  LogPosition covers;  // exactly what the payload holds (divergence repair relies on it)
  BATON_RETURN_IF_ERROR(store_->SerializeTo(&payload, &covers));
  BATON_RETURN_IF_ERROR(snapshots_->Write(covers, payload));
  snapshots_total_->Increment();
  records_at_last_snapshot_ = records;
  // Mirror targets still need the records after their cursors.
  auto deleted = wal_->DeleteSegmentsBefore(std::min(covers.seq + 1, mirror_ ? mirror_->RetainFrom() : covers.seq + 1));
  if (!deleted.ok()) spdlog::warn("cannot delete log segments a snapshot covers: {}", deleted.status().ToString());
  return Status::Ok();
}

void GatewayServer::SnapshotLoop() {
  const uint64_t interval = static_cast<uint64_t>(config_.GetInt("snapshot.interval_records"));
  MutexLock lock(&stop_mu_);
  while (!stopping_) {
    stop_cv_.WaitFor(std::chrono::seconds(1));
    if (stopping_) break;
    // The indexer drains without writes; refresh the gauge it moves.
    index_pending_->Set(static_cast<double>(index_->pending_count()));
    fenced_->Set(role_->fenced() ? 1 : 0);
    handing_over_->Set(HandingOver() ? 1 : 0);
    role_gauge_->Set(static_cast<double>(role_->role()));
    epoch_gauge_->Set(static_cast<double>(role_->epoch()));
    stop_mu_.Unlock();
    MaybeCompactTombstones();
    stop_mu_.Lock();
    if (stopping_) break;
    if (writes_->applied_records() - records_at_last_snapshot_ < interval) continue;
    stop_mu_.Unlock();
    Status s = TakeSnapshot();
    if (!s.ok()) spdlog::error("snapshot failed (will retry): {}", s.ToString());
    stop_mu_.Lock();
  }
}

void GatewayServer::MaybeCompactTombstones() {
  const MonoTime now = clock_.Now();
  if (now - last_compaction_ < std::min<Duration>(tombstone_ttl_ / 10 + std::chrono::seconds(1), std::chrono::minutes(1))) {
    return;
  }
  last_compaction_ = now;
  Result<size_t> dropped = writes_->CompactTombstones(clock_.WallNow() - tombstone_ttl_);
  if (!dropped.ok()) {
    spdlog::warn("tombstone compaction failed (will retry): {}", dropped.status().ToString());
  } else if (*dropped > 0) {
    spdlog::info("compacted {} tombstones older than {} s", *dropped,
                 std::chrono::duration_cast<std::chrono::seconds>(tombstone_ttl_).count());
  }
}

std::vector<MirrorTargetSpec> GatewayServer::MirrorTargetsFor(const v1::Assignment& assignment) const {
  const bool standalone = config_.GetStringList("arbiter.addresses").empty();
  if (standalone && assignment.mirror_targets_size() == 0) return config_mirror_targets_;
  std::vector<MirrorTargetSpec> targets;
  for (const v1::MirrorTarget& t : assignment.mirror_targets()) {
    MirrorTargetSpec spec{t.name(), t.cluster(), {t.addresses().begin(), t.addresses().end()}};
    Status valid = ValidateMirrorTarget(spec);
    if (!valid.ok()) {
      spdlog::error("assignment names an invalid mirror target {}: {} (ignored)", t.name(), valid.ToString());
      continue;
    }
    targets.push_back(std::move(spec));
  }
  return targets;
}

std::string GatewayServer::MirrorModeFor(const v1::Assignment& assignment) const {
  return assignment.mirror_mode().empty() ? config_.GetString("mirror.mode") : assignment.mirror_mode();
}

Status GatewayServer::ApplyAssignment(const v1::Assignment& assignment, std::optional<MonoTime> deadline) {
  MutexLock lock(&role_change_mu_);
  const v1::Role before = role_->role();
  const uint64_t before_epoch = role_->epoch();
  if (assignment.epoch() < before_epoch) {
    return Status::FailedPrecondition("assignment at epoch " + std::to_string(assignment.epoch()) +
                                      " is older than this gateway's epoch " + std::to_string(before_epoch));
  }
  // Durable before the gateway acts on it (found by the chaos runner, seed
  // 20261924: a standby killed after it was told of epoch 96, before any
  // record of it arrived, came back at epoch 95).
  BATON_RETURN_IF_ERROR(history_->RecordAssigned(assignment.epoch()).WithContext("recording the assigned epoch"));
  const bool handover = assignment.role() == v1::ROLE_ACTIVE && !assignment.handover_to().empty();
  if (assignment.role() == v1::ROLE_ACTIVE) {
    replication_->EndStreams();  // no replicated append from here on
    if (assignment.epoch() > wal_->epoch()) {
      auto started = writes_->StartEpoch(assignment.epoch(), [this](uint64_t epoch, uint64_t first_seq) {
        BATON_RETURN_IF_ERROR(history_->Begin(epoch, first_seq));
        return wal_->SetEpoch(epoch);
      });
      if (!started.ok()) return started.status().WithContext("starting epoch " + std::to_string(assignment.epoch()));
      spdlog::info("epoch {} starts at {}", assignment.epoch(), started->ToString());
    }
    BATON_RETURN_IF_ERROR(role_->Assign(assignment, deadline));
    // Waiting writes are re-evaluated here: handing over, they fail now.
    source_->Configure(assignment);
    mirror_->Configure(MirrorTargetsFor(assignment), true, MirrorModeFor(assignment));
    if (handover) {
      // The append gate is closed now, but a batch it let through before may
      // still be on its way to the disk; once it is durable, nothing moves
      // the durable position any more, and GetState may say handing_over.
      BATON_RETURN_IF_ERROR(writes_->Flush().WithContext("handing over"));
      handover_flushed_ = true;
    }
  } else {
    // Before the role changes: a standby's log only takes replicated records,
    // so no cursor record may be logged once it is one.
    mirror_->Configure(MirrorTargetsFor(assignment), false, MirrorModeFor(assignment));
    BATON_RETURN_IF_ERROR(role_->Assign(assignment, deadline));
    source_->Stop();
    if (before == v1::ROLE_ACTIVE || assignment.epoch() != before_epoch) replication_->EndStreams();
  }
  if (!handover) handover_flushed_ = false;  // RoleState no longer hands over: HandingOver() is false already
  spdlog::info("assignment: {} at epoch {} (was {} at epoch {}), lease {} ms, {} standbys, sync {} of {}{}{}",
               v1::Role_Name(assignment.role()), assignment.epoch(), v1::Role_Name(before), before_epoch,
               assignment.lease_ms(), assignment.standbys_size(), assignment.sync_standbys(),
               assignment.sync_set_size(), assignment.failsafe() ? ", failsafe" : "",
               handover ? ", handing over to " + assignment.handover_to() : std::string());
  return Status::Ok();
}

Status GatewayServer::RenewLease(uint64_t epoch, uint32_t lease_ms, std::optional<MonoTime> deadline) {
  return role_->RenewLease(epoch, lease_ms, deadline);
}

v1::GetStateResponse GatewayServer::State() {
  v1::GetStateResponse state;
  state.set_instance_id(config_.GetString("instance.id"));
  state.set_cluster(config_.GetString("instance.cluster"));
  // Before the positions: with handing_over set they are final.
  state.set_handing_over(HandingOver());
  state.set_role(role_->role());
  state.set_epoch(role_->epoch());
  // Before the durable position: a write acknowledged without a standby
  // marked sync here is at or below it (the arbiter's sync-set join relies
  // on that, see Heartbeat.sync_enforced).
  if (role_->role() == v1::ROLE_ACTIVE) {
    for (v1::StandbyState& s : source_->States()) *state.add_standbys() = std::move(s);
  }
  const LogPosition durable = wal_->durable_position();
  state.mutable_durable()->set_epoch(durable.epoch);
  state.mutable_durable()->set_seq(durable.seq);
  const LogPosition applied = writes_->applied_position();
  state.mutable_applied()->set_epoch(applied.epoch);
  state.mutable_applied()->set_seq(applied.seq);
  state.set_lease_remaining_ms(role_->lease_remaining_ms());
  // A poisoned log takes no write until a restart: as an active it must be
  // replaced (the arbiter stops renewing a DOWN active and promotes after the
  // lease), and as a standby it must never be promoted.
  const bool poisoned = !wal_->poison_status().ok();
  state.set_health(poisoned ? v1::HEALTH_DOWN : v1::HEALTH_OK);
  state.set_fenced(role_->fenced());
  state.set_pid(static_cast<uint32_t>(::getpid()));
  state.set_active_address(role_->role() == v1::ROLE_ACTIVE ? config_.GetString("grpc.listen")
                                                            : role_->assignment().active_address());
  EpochHistory::ToProto(history_->entries(), state.mutable_epoch_history());
  if (role_->role() == v1::ROLE_ACTIVE) {
    for (v1::MirrorPeerState& peer : mirror_->States()) *state.add_mirror_peers() = std::move(peer);
  }
  for (const auto& [origin, count] : store_->mirror_applied()) (*state.mutable_mirror_applied())[origin] = count;
  state.set_object_count(store_->size());
  state.set_digest(store_->digest());
  return state;
}

bool GatewayServer::HandingOver() const { return handover_flushed_ && role_->handing_over(); }

Status GatewayServer::TruncateAndReload(uint64_t seq) {
  BATON_ASSIGN_OR_RETURN(std::optional<Snapshot> snapshot, snapshots_->LoadNewest());
  const uint64_t covered = snapshot ? snapshot->covers.seq : 0;
  if (covered > seq) {
    return Status::FailedPrecondition("the newest local snapshot covers seq " + std::to_string(covered) +
                                      ", past the common prefix " + std::to_string(seq));
  }
  if (wal_->first_seq() > covered + 1) {
    return Status::FailedPrecondition("the local log no longer reaches back to seq " + std::to_string(covered + 1));
  }
  BATON_ASSIGN_OR_RETURN(uint64_t dropped, wal_->TruncateAfter(seq));
  BATON_RETURN_IF_ERROR(history_->TruncateAfter(seq));
  BATON_RETURN_IF_ERROR(LoadState());
  writes_->NoteApplied(wal_->durable_position());
  spdlog::info("divergence repair: dropped {} records, state reloaded at {}, digest {:016x}", dropped,
               wal_->durable_position().ToString(), store_->digest());
  return Status::Ok();
}

Status GatewayServer::InstallSnapshot(std::string_view file_bytes, std::vector<EpochStartEntry> history) {
  BATON_ASSIGN_OR_RETURN(Snapshot snapshot, DecodeSnapshot(file_bytes));
  const LogPosition covers = snapshot.covers;
  {
    MutexLock lock(&snapshot_mu_);
    BATON_RETURN_IF_ERROR(snapshots_->Write(covers, snapshot.payload));
    BATON_RETURN_IF_ERROR(snapshots_->RemoveAllExcept(covers.seq));
  }
  BATON_RETURN_IF_ERROR(wal_->Reset(covers));
  std::erase_if(history, [&](const EpochStartEntry& e) { return e.first_seq > covers.seq; });
  if (history.empty()) history.push_back(EpochStartEntry{std::max<uint64_t>(covers.epoch, 1), 1});
  BATON_RETURN_IF_ERROR(history_->Replace(std::move(history)));
  BATON_RETURN_IF_ERROR(store_->LoadFrom(snapshot.payload, covers));
  writes_->NoteApplied(covers);
  BATON_RETURN_IF_ERROR(index_->Rebuild());
  records_at_last_snapshot_ = writes_->applied_records();
  return Status::Ok();
}

Result<std::string> GatewayServer::SnapshotForPeer() {
  BATON_ASSIGN_OR_RETURN(std::optional<Snapshot> snapshot, snapshots_->LoadNewest());
  if (!snapshot) {
    BATON_RETURN_IF_ERROR(TakeSnapshot());
    BATON_ASSIGN_OR_RETURN(snapshot, snapshots_->LoadNewest());
    if (!snapshot) return Status::Internal("no snapshot after taking one");
  }
  return EncodeSnapshot(snapshot->covers, snapshot->payload);
}

void GatewayServer::Stop() {
  {
    MutexLock lock(&stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.SignalAll();
  if (snapshotter_.joinable()) snapshotter_.join();
  if (http_) http_->Stop();
  // Waiting writes fail first, and replication streams (which end only when
  // their peer goes away) are cancelled, so that gRPC's shutdown is held up
  // by neither; what is left are client calls that finish by themselves.
  if (source_) source_->Stop();  // also wakes mirror senders waiting for a commit
  if (mirror_) mirror_->Stop();
  if (replication_) replication_->Shutdown();
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (wal_) wal_->Shutdown();
  // The write path's threads run callbacks into service_ and source_, which
  // are destroyed before writes_ (members go in reverse order): join them now.
  if (writes_) writes_->Shutdown();
  RemovePid();
}

Status GatewayServer::WritePid() {
  const std::string& path = config_.GetString("pid_file");
  if (path.empty()) return Status::Ok();
  BATON_RETURN_IF_ERROR(WritePidFile(path).WithContext("pid_file"));
  pid_written_ = true;
  return Status::Ok();
}

void GatewayServer::RemovePid() {
  if (!pid_written_) return;
  pid_written_ = false;
  const std::string& path = config_.GetString("pid_file");
  // Only our own: a successor may already have written its pid there.
  auto pid = ReadPidFile(path);
  if (!pid.ok() || *pid != ::getpid()) return;
  if (::unlink(path.c_str()) != 0) spdlog::warn("cannot remove pid_file {}: {}", path, std::strerror(errno));
}

}  // namespace baton::gateway

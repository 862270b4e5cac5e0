#include "gateway/gateway_server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include "baton/v1/storage.pb.h"
#include "gateway/log/wal_reader.h"
#include "gateway/store/metric.h"

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
  BATON_ASSIGN_OR_RETURN(std::optional<Snapshot> snapshot, snapshots_->LoadNewest());
  uint64_t covered_seq = 0;
  if (snapshot) {
    BATON_RETURN_IF_ERROR(store_->LoadFrom(snapshot->payload).WithContext(snapshot->path));
    covered_seq = snapshot->covers.seq;
  }

  WalOptions wal_options;
  wal_options.dir = data_dir + "/log";
  wal_options.segment_bytes = static_cast<uint64_t>(config_.GetInt("wal.segment_bytes"));
  wal_options.initial_epoch = 1;
  wal_options.on_sync = [this](const WalSyncSample& sample) {
    fsync_seconds_->Observe(ToSeconds(sample.sync_duration));
    batch_records_->Observe(static_cast<double>(sample.records));
  };
  BATON_ASSIGN_OR_RETURN(wal_, Wal::Open(fs_, wal_options, clock_));
  // Segments are deleted only once a snapshot covers them; if the snapshot
  // we found is older than the log's start, records in between are gone.
  if (wal_->first_seq() > covered_seq + 1 && wal_->durable_position().seq >= wal_->first_seq()) {
    return Status::DataLoss("log in " + wal_options.dir + " starts at seq " + std::to_string(wal_->first_seq()) +
                            " but the newest usable snapshot covers only up to " + std::to_string(covered_seq) +
                            "; resync this instance from a peer");
  }
  BATON_RETURN_IF_ERROR(ReplayLog(std::max(covered_seq + 1, wal_->first_seq())));

  VectorIndexOptions index_options;
  index_options.dimension = dimension;
  BATON_ASSIGN_OR_RETURN(index_options.metric, ParseMetric(config_.GetString("index.metric")));
  index_options.ef_search = static_cast<size_t>(config_.GetInt("index.ef_search"));
  index_options.exact_threshold = static_cast<size_t>(config_.GetInt("index.exact_threshold"));
  index_options.indexer_nice = static_cast<int>(config_.GetInt("index.indexer_nice"));
  BATON_ASSIGN_OR_RETURN(index_, VectorIndex::Create(*store_, index_options));
  BATON_RETURN_IF_ERROR(index_->Rebuild());
  writes_ = std::make_unique<WritePath>(*wal_, *store_, *index_);
  writes_->set_on_batch([this](size_t) {
    objects_->Set(static_cast<double>(store_->size()));
    index_pending_->Set(static_cast<double>(index_->pending_count()));
  });
  objects_->Set(static_cast<double>(store_->size()));
  spdlog::info("recovered: {} objects, {} tombstones, log at {}, digest {:016x}", store_->size(),
               store_->tombstone_count(), wal_->durable_position().ToString(), store_->digest());
  return Status::Ok();
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
      BATON_RETURN_IF_ERROR(store_->Apply(record).WithContext("replaying " + entry->pos.ToString()));
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
  service_ = std::make_unique<ClientService>(options, *writes_, *store_, *index_, gate_, metrics_);

  const std::string listen = config_.GetString("grpc.listen");
  int selected_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(service_.get());
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
  http_options.ready = [this] { return gate_.CheckWrite().ok() && wal_->poison_status().ok(); };
  http_options.healthy = [this] { return wal_->poison_status().ok(); };
  auto http = HttpServer::Start(http_options, Router());
  if (!http.ok()) return http.status().WithContext("http.listen");
  http_ = std::move(http).value();
  spdlog::info("serving: grpc on port {}, http on port {}", grpc_port_, http_->port());
  return Status::Ok();
}

uint16_t GatewayServer::http_port() const { return http_ ? http_->port() : 0; }

Status GatewayServer::TakeSnapshot() {
  MutexLock lock(&snapshot_mu_);
  // The payload may be paired with any position applied before it is taken:
  // replaying records it already contains changes nothing (Apply is LWW).
  const LogPosition covers = writes_->applied_position();
  const uint64_t records = writes_->applied_records();
  std::string payload;
  BATON_RETURN_IF_ERROR(store_->SerializeTo(&payload));
  BATON_RETURN_IF_ERROR(snapshots_->Write(covers, payload));
  snapshots_total_->Increment();
  records_at_last_snapshot_ = records;
  auto deleted = wal_->DeleteSegmentsBefore(covers.seq + 1);
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
    if (writes_->applied_records() - records_at_last_snapshot_ < interval) continue;
    stop_mu_.Unlock();
    Status s = TakeSnapshot();
    if (!s.ok()) spdlog::error("snapshot failed (will retry): {}", s.ToString());
    stop_mu_.Lock();
  }
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
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (wal_) wal_->Shutdown();
}

}  // namespace baton::gateway

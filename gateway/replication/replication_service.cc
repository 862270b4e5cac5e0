#include "gateway/replication/replication_service.h"

#include <pthread.h>

#include <chrono>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/crc32c.h"
#include "gateway/replication/entry_crc.h"
#include "gateway/replication/replication_source.h"

namespace baton::gateway {
namespace {
constexpr size_t kSnapshotChunkBytes = 1 << 20;
}  // namespace

ReplicationService::ReplicationService(std::string instance_id, Wal& wal, EpochHistory& history, RoleState& role,
                                       WritePath& writes, ReplicaHost& host)
    : instance_id_(std::move(instance_id)), wal_(wal), history_(history), role_(role), writes_(writes), host_(host) {}

ReplicationService::~ReplicationService() {
  Shutdown();
  if (fetcher_.joinable()) fetcher_.join();
}

bool ReplicationService::Handshake(const v1::ReplicateRequest& hello, v1::ReplicateResponse* answer) {
  const uint64_t my_epoch = role_.epoch();
  const v1::Role role = role_.role();
  if (role != v1::ROLE_STANDBY) {
    answer->set_error("instance " + instance_id_ + " is not a standby (" +
                      (role == v1::ROLE_UNASSIGNED ? std::string("it has no role yet")
                                                   : "it is the active at epoch " + std::to_string(my_epoch)) +
                      ")");
    return false;
  }
  if (hello.epoch() != my_epoch) {
    answer->set_error(hello.epoch() < my_epoch
                          ? "stream epoch " + std::to_string(hello.epoch()) + " is lower than this standby's epoch " +
                                std::to_string(my_epoch)
                          : "this standby is at epoch " + std::to_string(my_epoch) +
                                " and has not been assigned epoch " + std::to_string(hello.epoch()) + " yet");
    return false;
  }
  {
    MutexLock lock(&fetch_mu_);
    if (fetching_) {
      answer->set_needs_snapshot(true);
      return false;
    }
  }
  const std::vector<EpochStartEntry> active_history = EpochHistory::FromProto(hello.epoch_history());
  MutexLock lock(&apply_mu_);
  const uint64_t my_last = wal_.durable_position().seq;
  const uint64_t common = CommonPrefix(history_.entries(), my_last, active_history, hello.active_durable().seq());
  bool needs_snapshot = false;
  if (common < my_last) {
    Status cut = host_.TruncateAndReload(common);
    if (cut.ok()) {
      spdlog::warn("divergence: dropped {} log records after seq {} that the active {} never had", my_last - common,
                   common, hello.active_instance());
      answer->set_truncated(my_last - common);
    } else {
      spdlog::warn("divergence after seq {}: cannot cut the local tail ({}); fetching a snapshot", common,
                   cut.ToString());
      needs_snapshot = true;
    }
  }
  const uint64_t have = wal_.durable_position().seq;
  if (needs_snapshot || have + 1 < hello.first_seq()) {
    if (!needs_snapshot) {
      spdlog::info("standby at seq {} is behind the active's oldest log record {}: fetching a snapshot", have,
                   hello.first_seq());
    }
    answer->set_needs_snapshot(true);
    StartSnapshotFetch(active_history);
    return false;
  }
  const LogPosition durable = wal_.durable_position();
  answer->mutable_durable()->set_epoch(durable.epoch);
  answer->mutable_durable()->set_seq(durable.seq);
  answer->set_arbiter_contact(role_.arbiter_contact());
  return true;
}

std::string ReplicationService::Append(const v1::ReplicateRequest& request, uint64_t generation) {
  MutexLock lock(&apply_mu_);
  if (generation != generation_.load()) return "superseded by a newer stream";
  if (request.epoch() != role_.epoch() || role_.role() != v1::ROLE_STANDBY) {
    return "stream epoch " + std::to_string(request.epoch()) + " is no longer this standby's epoch " +
           std::to_string(role_.epoch());
  }
  if (request.entries_size() == 0) return "";
  std::vector<LogRecord> records;
  records.reserve(request.entries_size());
  for (const v1::LogEntry& entry : request.entries()) {
    if (ReplicationEntryCrc(entry.type(), entry.payload()) != entry.crc32c()) {
      return "entry " + std::to_string(entry.position().seq()) + ": checksum mismatch";
    }
    if (entry.position().epoch() > request.epoch()) {
      return "entry " + std::to_string(entry.position().seq()) + " has epoch " +
             std::to_string(entry.position().epoch()) + " above the stream's";
    }
    records.push_back(LogRecord{LogPosition{entry.position().epoch(), entry.position().seq()},
                                static_cast<RecordType>(entry.type()), entry.payload()});
  }
  // The history learns an epoch before its first record is durable, so it
  // never lags the log.
  for (const LogRecord& r : records) {
    if (r.pos.epoch > history_.last_epoch()) {
      Status s = history_.Begin(r.pos.epoch, r.pos.seq);
      if (!s.ok()) return "epoch history: " + s.ToString();
    }
  }
  auto appended = wal_.AppendReplicated(records);
  if (!appended.ok()) return appended.status().ToString();
  for (const LogRecord& r : records) {
    Status s = writes_.ApplyReplicated(r);
    if (!s.ok()) {
      spdlog::critical("replicated record {} is durable but does not apply: {}", r.pos.ToString(), s.ToString());
      return s.ToString();
    }
  }
  return "";
}

bool ReplicationService::Register(grpc::ServerContext* context) {
  MutexLock lock(&calls_mu_);
  if (shut_down_) return false;
  calls_.insert(context);
  return true;
}

void ReplicationService::Unregister(grpc::ServerContext* context) {
  MutexLock lock(&calls_mu_);
  calls_.erase(context);
}

void ReplicationService::Shutdown() {
  {
    MutexLock lock(&calls_mu_);
    shut_down_ = true;
    for (grpc::ServerContext* context : calls_) context->TryCancel();
  }
  MutexLock lock(&fetch_mu_);
  stopping_ = true;
  if (fetch_context_) fetch_context_->TryCancel();
}

grpc::Status ReplicationService::Replicate(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::ReplicateResponse, v1::ReplicateRequest>* stream) {
  if (!Register(context)) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down");
  const CallRegistration registration{this, context};
  v1::ReplicateRequest request;
  if (!stream->Read(&request)) return grpc::Status::OK;
  const uint64_t generation = generation_.fetch_add(1) + 1;
  v1::ReplicateResponse answer;
  if (!Handshake(request, &answer)) {
    if (!answer.error().empty()) spdlog::warn("refusing replication from {}: {}", request.active_instance(), answer.error());
    stream->Write(answer);
    return grpc::Status::OK;
  }
  spdlog::info("replication stream from {} at epoch {}: resuming after seq {}", request.active_instance(),
               request.epoch(), answer.durable().seq());
  if (!stream->Write(answer)) return grpc::Status::OK;
  while (stream->Read(&request)) {
    v1::ReplicateResponse response;
    std::string error = Append(request, generation);
    if (!error.empty()) {
      spdlog::warn("replication from {}: {}", request.active_instance(), error);
      response.set_error(error);
      stream->Write(response);
      return grpc::Status::OK;
    }
    const LogPosition durable = wal_.durable_position();
    response.mutable_durable()->set_epoch(durable.epoch);
    response.mutable_durable()->set_seq(durable.seq);
    response.set_arbiter_contact(role_.arbiter_contact());
    if (!stream->Write(response)) break;
  }
  return grpc::Status::OK;
}

grpc::Status ReplicationService::FetchSnapshot(grpc::ServerContext* context, const v1::FetchSnapshotRequest* request,
                                               grpc::ServerWriter<v1::SnapshotChunk>* writer) {
  if (role_.role() != v1::ROLE_ACTIVE) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "instance " + instance_id_ + " is not the active");
  }
  if (!Register(context)) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is shutting down");
  const CallRegistration registration{this, context};
  auto bytes = host_.SnapshotForPeer();
  if (!bytes.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, bytes.status().ToString());
  const std::string& file = *bytes;
  const uint32_t crc = Crc32c(file.data(), file.size());
  spdlog::info("sending a snapshot of {} bytes to {}", file.size(), request->standby_instance());
  for (size_t offset = 0; offset < file.size() || offset == 0; offset += kSnapshotChunkBytes) {
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    v1::SnapshotChunk chunk;
    chunk.set_offset(offset);
    chunk.set_data(file.substr(offset, kSnapshotChunkBytes));
    chunk.set_total_bytes(file.size());
    chunk.set_last(offset + kSnapshotChunkBytes >= file.size());
    if (chunk.last()) chunk.set_crc32c(crc);
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "standby went away");
    if (chunk.last()) break;
  }
  return grpc::Status::OK;
}

void ReplicationService::StartSnapshotFetch(std::vector<EpochStartEntry> active_history) {
  const std::string address = role_.assignment().active_address();
  const uint64_t epoch = role_.epoch();
  MutexLock lock(&fetch_mu_);
  if (fetching_ || stopping_) return;
  if (address.empty()) {
    spdlog::warn("a snapshot is needed but the assignment names no active address");
    return;
  }
  fetching_ = true;
  if (fetcher_.joinable()) fetcher_.join();  // the previous fetch finished
  fetcher_ = std::thread([this, address, epoch, history = std::move(active_history)]() mutable {
    FetchAndInstall(address, epoch, std::move(history));
    MutexLock done(&fetch_mu_);
    fetching_ = false;
  });
}

void ReplicationService::FetchAndInstall(std::string address, uint64_t epoch,
                                         std::vector<EpochStartEntry> active_history) {
  pthread_setname_np(pthread_self(), "baton-snap-fetch");
  auto stub = v1::Replication::NewStub(NewReplicationChannel(address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  {
    MutexLock lock(&fetch_mu_);
    if (stopping_) return;
    fetch_context_ = &context;
  }
  struct ContextReset {
    ReplicationService* service;
    ~ContextReset() {
      MutexLock lock(&service->fetch_mu_);
      service->fetch_context_ = nullptr;
    }
  } context_reset{this};
  v1::FetchSnapshotRequest request;
  request.set_epoch(epoch);
  request.set_standby_instance(instance_id_);
  auto reader = stub->FetchSnapshot(&context, request);
  std::string file;
  v1::SnapshotChunk chunk;
  uint32_t expected_crc = 0;
  bool complete = false;
  auto last_report = std::chrono::steady_clock::now();
  while (reader->Read(&chunk)) {
    if (chunk.offset() != file.size()) {
      context.TryCancel();
      break;
    }
    file += chunk.data();
    if (std::chrono::steady_clock::now() - last_report >= std::chrono::seconds(1)) {
      spdlog::info("snapshot fetch from {}: {} of {} bytes", address, file.size(), chunk.total_bytes());
      last_report = std::chrono::steady_clock::now();
    }
    if (chunk.last()) {
      expected_crc = chunk.crc32c();
      complete = file.size() == chunk.total_bytes();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok() || !complete) {
    spdlog::warn("snapshot fetch from {} failed: {}", address,
                 status.ok() ? std::string("incomplete stream") : status.error_message());
    return;
  }
  if (Crc32c(file.data(), file.size()) != expected_crc) {
    spdlog::warn("snapshot fetched from {} fails its checksum; will retry", address);
    return;
  }
  MutexLock lock(&apply_mu_);
  Status installed = host_.InstallSnapshot(file, std::move(active_history));
  if (!installed.ok()) {
    spdlog::error("cannot install the snapshot fetched from {}: {}", address, installed.ToString());
    return;
  }
  snapshots_installed_.fetch_add(1);
  spdlog::info("installed a snapshot of {} bytes from {}; log continues at seq {}", file.size(), address,
               wal_.durable_position().seq + 1);
}

}  // namespace baton::gateway

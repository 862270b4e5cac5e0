#include "gateway/write_path.h"

#include <spdlog/spdlog.h>

#include "baton/v1/storage.pb.h"

namespace baton::gateway {

struct WritePath::EpochCall {
  uint64_t epoch = 0;
  EpochStartHook hook;
};

struct WritePath::CompactCall {
  WallTime older_than;
  size_t dropped = 0;
};

struct WritePath::Call {
  std::vector<WriteRequest> requests;
  std::vector<WriteOutcome> outcomes;
  v1::WriteRecord record;
  CommitItem item;
};

WritePath::WritePath(Wal& wal, ObjectStore& store, VectorIndex& index) : wal_(wal), store_(store), index_(index) {
  GroupCommitHooks hooks;
  hooks.prepare = [this](std::span<CommitItem* const> batch) { Prepare(batch); };
  hooks.apply = [this](std::span<CommitItem* const> batch) { Apply(batch); };
  hooks.abort = [this](std::span<CommitItem* const>, const Status& failure) {
    // Nothing reached the store: dropping the planner drops its overlay.
    planner_.reset();
    spdlog::warn("write batch failed, nothing applied: {}", failure.ToString());
  };
  log_ = std::make_unique<GroupCommitLog>(wal_, std::move(hooks));
  LogPosition last = wal_.durable_position();
  applied_epoch_ = last.epoch;
  applied_seq_ = last.seq;
}

Result<std::vector<WriteOutcome>> WritePath::Write(std::vector<WriteRequest> requests) {
  Mutex mu;
  CondVar cv(&mu);
  bool finished = false;
  Result<std::vector<WriteOutcome>> result = Status::Internal("write did not complete");
  WriteAsync(std::move(requests), [&](Result<std::vector<WriteOutcome>> outcomes) {
    MutexLock lock(&mu);
    result = std::move(outcomes);
    finished = true;
    cv.Signal();
  });
  MutexLock lock(&mu);
  while (!finished) cv.Wait();
  return result;
}

void WritePath::WriteAsync(std::vector<WriteRequest> requests, WriteDone done) {
  auto* call = new Call;
  call->requests = std::move(requests);
  call->item.type = RecordType::kWrite;
  call->item.context = call;
  log_->Submit(&call->item, [this, call, done = std::move(done)](CommitItem* item) mutable {
    std::shared_ptr<Call> owned(call);
    if (!item->status.ok()) {
      done(item->status);
      return;
    }
    if (!ack_gate_) {
      done(std::move(owned->outcomes));
      return;
    }
    // A write that changed nothing has no record: it waits for the records
    // before it, and is not tied to the epoch they were written in.
    const LogPosition wait_for = item->needs_record ? item->position : LogPosition{0, item->position.seq};
    ack_gate_(wait_for, [owned, done = std::move(done)](Status ack) {
      if (!ack.ok()) {
        done(ack);
      } else {
        done(std::move(owned->outcomes));
      }
    });
  });
}

Result<LogPosition> WritePath::StartEpoch(uint64_t epoch, EpochStartHook on_epoch_start) {
  EpochCall call{epoch, std::move(on_epoch_start)};
  CommitItem item;
  item.type = RecordType::kEpochStart;
  item.exclusive = true;
  item.payload = std::to_string(epoch);
  item.context = nullptr;
  item.needs_record = true;
  epoch_call_ = &call;
  Status status = log_->Commit(&item);
  epoch_call_ = nullptr;
  if (!status.ok()) return status;
  return item.position;
}

Status WritePath::Flush() {
  // A batch of its own (exclusive) after everything queued before it; the
  // committer runs batches one at a time and completes them in order.
  CommitItem item;
  item.type = RecordType::kWrite;
  item.exclusive = true;
  item.context = nullptr;
  return log_->Commit(&item);
}

Status WritePath::LogCursors(const v1::MirrorCursorRecord& cursors) {
  CommitItem item;
  item.type = RecordType::kCursor;
  item.context = nullptr;
  if (!cursors.SerializeToString(&item.payload)) return Status::Internal("cannot encode mirror cursors");
  return log_->Commit(&item);
}

Result<size_t> WritePath::CompactTombstones(WallTime older_than) {
  CompactCall call{older_than};
  CommitItem item;
  item.type = RecordType::kNoop;
  item.exclusive = true;
  item.context = &call;
  BATON_RETURN_IF_ERROR(log_->Commit(&item));
  return call.dropped;
}

Status WritePath::ApplyCursorRecord(const LogRecord& record) {
  v1::MirrorCursorRecord cursors;
  if (!cursors.ParseFromString(record.payload)) {
    return Status::DataLoss("mirror cursor record " + record.pos.ToString() + " does not decode");
  }
  store_.ApplyCursors(cursors, record.pos);
  return Status::Ok();
}

Status WritePath::ApplyReplicated(const LogRecord& record) {
  if (record.type == RecordType::kCursor) BATON_RETURN_IF_ERROR(ApplyCursorRecord(record));
  if (record.type == RecordType::kWrite) {
    v1::WriteRecord decoded;
    if (!decoded.ParseFromString(record.payload)) {
      return Status::DataLoss("replicated record " + record.pos.ToString() + " does not decode");
    }
    BATON_RETURN_IF_ERROR(store_.Apply(decoded, record.pos).WithContext("applying " + record.pos.ToString()));
    index_.EnqueueRecord(decoded);
    applied_records_.fetch_add(1, std::memory_order_relaxed);
  }
  NoteApplied(record.pos);
  return Status::Ok();
}

void WritePath::NoteApplied(LogPosition position) {
  applied_epoch_.store(position.epoch, std::memory_order_relaxed);
  applied_seq_.store(position.seq, std::memory_order_release);
}

void WritePath::Prepare(std::span<CommitItem* const> batch) {
  if (batch.size() == 1 && batch[0]->exclusive) {
    if (batch[0]->type == RecordType::kEpochStart) {
      // Alone in its batch: the epoch changes between two batches.
      EpochCall* call = epoch_call_;
      const uint64_t first_seq = wal_.last_position().seq + 1;
      batch[0]->status = call ? call->hook(call->epoch, first_seq) : Status::Internal("epoch start without a call");
    } else {
      batch[0]->needs_record = false;  // Flush() or CompactTombstones()
      if (auto* compact = static_cast<CompactCall*>(batch[0]->context)) {
        compact->dropped = store_.CompactTombstones(compact->older_than);
      }
    }
    return;
  }
  if (append_gate_) {
    Status gate = append_gate_();
    if (!gate.ok()) {
      for (CommitItem* item : batch) item->status = gate;
      return;
    }
  }
  planner_.emplace(store_);
  for (CommitItem* item : batch) {
    if (item->type != RecordType::kWrite) continue;  // a cursor record: its payload is ready
    auto* call = static_cast<Call*>(item->context);
    call->outcomes.clear();
    call->record.Clear();
    for (const WriteRequest& request : call->requests) {
      WriteOutcome outcome = planner_->Plan(request);
      for (v1::Mutation& m : outcome.mutations) *call->record.add_mutations() = m;
      if (request.mirrored) call->record.set_mirror_origin(request.origin_cluster);
      // Mirroring forwards the request itself, not this cluster's matches.
      if (request.op == v1::WRITE_OP_REMOVE_BY_TIMESTAMP) call->record.set_remove_before(request.before);
      call->outcomes.push_back(std::move(outcome));
    }
    item->needs_record = call->record.mutations_size() > 0;
    if (item->needs_record && !call->record.SerializeToString(&item->payload)) {
      item->status = Status::Internal("cannot encode a write record");
    }
  }
}

void WritePath::Apply(std::span<CommitItem* const> batch) {
  size_t applied = 0;
  for (CommitItem* item : batch) {
    if (!item->status.ok() || !item->needs_record) continue;
    if (item->type != RecordType::kWrite) {
      if (item->type == RecordType::kCursor) {
        LogRecord record{item->position, item->type, item->payload};
        Status s = ApplyCursorRecord(record);
        if (!s.ok()) spdlog::critical("cursor record at {} does not apply: {}", item->position.ToString(), s.ToString());
      }
      NoteApplied(item->position);
      continue;
    }
    auto* call = static_cast<Call*>(item->context);
    Status s = store_.Apply(call->record, item->position);
    if (!s.ok()) {
      // The planner produced it, so this is a bug; the record is durable and
      // replay will hit the same error, so say so loudly.
      spdlog::critical("planned record at {} does not apply: {}", item->position.ToString(), s.ToString());
      continue;
    }
    index_.EnqueueRecord(call->record);
    NoteApplied(item->position);
    ++applied;
  }
  applied_records_.fetch_add(applied, std::memory_order_relaxed);
  planner_.reset();
  if (on_batch_) on_batch_(batch.size());
}

LogPosition WritePath::applied_position() const {
  LogPosition p;
  p.seq = applied_seq_.load(std::memory_order_acquire);
  p.epoch = applied_epoch_.load(std::memory_order_relaxed);
  return p;
}

}  // namespace baton::gateway

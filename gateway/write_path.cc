#include "gateway/write_path.h"

#include <spdlog/spdlog.h>

#include "baton/v1/storage.pb.h"

namespace baton::gateway {

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
  Call call;
  call.requests = std::move(requests);
  call.item.type = RecordType::kWrite;
  call.item.context = &call;
  Status status = log_->Commit(&call.item);
  if (!status.ok()) return status;
  return std::move(call.outcomes);
}

void WritePath::WriteAsync(std::vector<WriteRequest> requests, WriteDone done) {
  auto* call = new Call;
  call->requests = std::move(requests);
  call->item.type = RecordType::kWrite;
  call->item.context = call;
  log_->Submit(&call->item, [call, done = std::move(done)](CommitItem* item) {
    std::unique_ptr<Call> owned(call);
    if (!item->status.ok()) {
      done(item->status);
    } else {
      done(std::move(owned->outcomes));
    }
  });
}

void WritePath::Prepare(std::span<CommitItem* const> batch) {
  planner_.emplace(store_);
  for (CommitItem* item : batch) {
    auto* call = static_cast<Call*>(item->context);
    call->outcomes.clear();
    call->record.Clear();
    for (const WriteRequest& request : call->requests) {
      WriteOutcome outcome = planner_->Plan(request);
      for (v1::Mutation& m : outcome.mutations) *call->record.add_mutations() = m;
      if (request.mirrored) call->record.set_mirror_origin(request.origin_cluster);
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
    auto* call = static_cast<Call*>(item->context);
    Status s = store_.Apply(call->record);
    if (!s.ok()) {
      // The planner produced it, so this is a bug; the record is durable and
      // replay will hit the same error, so say so loudly.
      spdlog::critical("planned record at {} does not apply: {}", item->position.ToString(), s.ToString());
      continue;
    }
    index_.EnqueueRecord(call->record);
    applied_epoch_.store(item->position.epoch, std::memory_order_relaxed);
    applied_seq_.store(item->position.seq, std::memory_order_release);
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

#include "gateway/log/group_commit.h"

#include <utility>

namespace baton::gateway {

GroupCommitLog::GroupCommitLog(Wal& wal, GroupCommitHooks hooks, GroupCommitOptions options)
    : wal_(wal), hooks_(std::move(hooks)), options_(options) {}

Status GroupCommitLog::Commit(CommitItem* item) {
  item->status = Status::Ok();
  item->needs_record = true;
  item->position = LogPosition{};
  Waiter self(&mu_, item);

  MutexLock lock(&mu_);
  queue_.push_back(&self);
  while (!self.done && &self != queue_.front()) self.cv.Wait();
  if (self.done) return item->status;  // a leader wrote our item

  // We lead: take a batch from the front. Items stay queued until done, so
  // later arrivals wait behind this batch and form the next one.
  batch_items_.clear();
  size_t bytes = 0;
  for (Waiter* waiter : queue_) {
    const size_t size = kHeaderSize + waiter->item->payload.size();
    if (!batch_items_.empty() &&
        (batch_items_.size() >= options_.max_batch_records || bytes + size > options_.max_batch_bytes)) {
      break;
    }
    batch_items_.push_back(waiter->item);
    bytes += size;
  }
  ++batches_;

  // The disk wait happens without mu_, so others can enqueue meanwhile.
  mu_.Unlock();
  RunBatch(batch_items_);
  mu_.Lock();

  for (size_t i = 0; i < batch_items_.size(); ++i) {
    Waiter* waiter = queue_.front();
    queue_.pop_front();
    waiter->done = true;
    if (waiter != &self) waiter->cv.Signal();
  }
  if (!queue_.empty()) queue_.front()->cv.Signal();  // the next leader
  return item->status;
}

void GroupCommitLog::RunBatch(std::span<CommitItem* const> batch) {
  if (hooks_.prepare) hooks_.prepare(batch);

  // Payloads move into the records and back: no copy of possibly large
  // vectors, and apply() still finds them in the items.
  records_.clear();
  for (CommitItem* item : batch) {
    if (!item->status.ok() || !item->needs_record) continue;
    records_.push_back(LogRecord{LogPosition{}, item->type, std::move(item->payload)});
  }
  Result<LogPosition> written = records_.empty() ? Result<LogPosition>(wal_.durable_position())
                                                 : wal_.AppendBatch(records_);
  size_t next = 0;
  for (CommitItem* item : batch) {
    if (!item->status.ok() || !item->needs_record) continue;
    item->payload = std::move(records_[next].payload);
    item->position = records_[next].pos;
    ++next;
  }

  if (!written.ok()) {
    for (CommitItem* item : batch) {
      item->status = written.status();
      item->position = LogPosition{};
    }
    if (hooks_.abort) hooks_.abort(batch, written.status());
    return;
  }
  for (CommitItem* item : batch) {
    if (item->status.ok() && !item->needs_record) item->position = *written;
  }
  if (hooks_.apply) hooks_.apply(batch);
}

size_t GroupCommitLog::queued() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

uint64_t GroupCommitLog::batches() const {
  MutexLock lock(&mu_);
  return batches_;
}

}  // namespace baton::gateway

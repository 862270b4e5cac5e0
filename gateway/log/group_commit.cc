#include "gateway/log/group_commit.h"

#include <pthread.h>

#include <utility>

namespace baton::gateway {

GroupCommitLog::GroupCommitLog(Wal& wal, GroupCommitHooks hooks, GroupCommitOptions options)
    : wal_(wal), hooks_(std::move(hooks)), options_(options) {
  completer_ = std::thread([this] { CompleterLoop(); });
  committer_ = std::thread([this] { CommitterLoop(); });
}

GroupCommitLog::~GroupCommitLog() { Stop(); }

void GroupCommitLog::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    work_.SignalAll();
  }
  if (committer_.joinable()) committer_.join();
  if (completer_.joinable()) completer_.join();
}

void GroupCommitLog::Submit(CommitItem* item, Done done) {
  item->status = Status::Ok();
  item->needs_record = true;
  item->position = LogPosition{};
  {
    MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(Pending{item, std::move(done)});
      // The committer sleeps only on an empty queue.
      if (queue_.size() == 1) work_.Signal();
      return;
    }
  }
  item->status = Status::Unavailable("the write path is shutting down");
  done(item);
}

Status GroupCommitLog::Commit(CommitItem* item) {
  Mutex done_mu;
  CondVar done_cv(&done_mu);
  bool finished = false;
  Submit(item, [&](CommitItem*) {
    MutexLock lock(&done_mu);
    finished = true;
    done_cv.Signal();
  });
  MutexLock lock(&done_mu);
  while (!finished) done_cv.Wait();
  return item->status;
}

void GroupCommitLog::CommitterLoop() {
  pthread_setname_np(pthread_self(), "baton-commit");
  MutexLock lock(&mu_);
  while (true) {
    while (queue_.empty() && !stopping_) work_.Wait();
    if (queue_.empty()) {  // stopping and drained
      committer_done_ = true;
      completions_cv_.Signal();
      return;
    }
    if (stopping_) {
      // Nothing more reaches the disk once shutdown began: fail the rest.
      std::vector<Pending> rest;
      for (Pending& p : queue_) {
        p.item->status = Status::Unavailable("the write path is shutting down");
        rest.push_back(std::move(p));
      }
      queue_.clear();
      in_flight_ += rest.size();
      completions_.push_back(std::move(rest));
      completions_cv_.Signal();
      continue;
    }

    batch_.clear();
    batch_items_.clear();
    size_t bytes = 0;
    while (!queue_.empty()) {
      const size_t size = kHeaderSize + queue_.front().item->payload.size();
      if (!batch_.empty() && (batch_.size() >= options_.max_batch_records ||
                              bytes + size > options_.max_batch_bytes || queue_.front().item->exclusive ||
                              batch_.front().item->exclusive)) {
        break;
      }
      batch_items_.push_back(queue_.front().item);
      batch_.push_back(std::move(queue_.front()));
      queue_.pop_front();
      bytes += size;
    }
    in_flight_ += batch_.size();
    ++batches_;

    // The disk wait happens without mu_, so others can enqueue meanwhile.
    mu_.Unlock();
    RunBatch(batch_items_);
    mu_.Lock();
    completions_.push_back(std::move(batch_));
    batch_ = {};
    if (completions_.size() == 1) completions_cv_.Signal();
  }
}

void GroupCommitLog::CompleterLoop() {
  pthread_setname_np(pthread_self(), "baton-complete");
  MutexLock lock(&mu_);
  while (true) {
    while (completions_.empty() && !committer_done_) completions_cv_.Wait();
    if (completions_.empty()) return;
    std::vector<Pending> batch = std::move(completions_.front());
    completions_.pop_front();
    mu_.Unlock();
    for (Pending& p : batch) p.done(p.item);
    mu_.Lock();
    in_flight_ -= batch.size();
  }
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
  return queue_.size() + in_flight_;
}

uint64_t GroupCommitLog::batches() const {
  MutexLock lock(&mu_);
  return batches_;
}

}  // namespace baton::gateway

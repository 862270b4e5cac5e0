// Group commit: many writer threads, one fdatasync per batch. LevelDB's
// writer queue (db/db_impl.cc, DBImpl::Write): each caller enqueues its item
// and blocks; whoever is at the front becomes the leader, takes everything
// queued as one batch, writes it with a single Wal::AppendBatch, and wakes the
// others with their results. While a leader waits for the disk, new callers
// pile up behind it and form the next batch, so the number of fsyncs adapts
// to the load without any timer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "gateway/log/format.h"
#include "gateway/log/wal.h"

namespace baton::gateway {

// One write waiting for the log. Owned by the caller of Commit() and only
// touched by the log and its hooks until Commit() returns.
struct CommitItem {
  // In.
  RecordType type = RecordType::kWrite;
  std::string payload;
  void* context = nullptr;  // for the hooks; the log never looks at it

  // Set by the prepare hook (Commit() resets both first):
  // status: a non-OK status rejects the item: it gets no record and Commit()
  //   returns that status (unless the batch itself fails).
  // needs_record: false lets an OK item succeed without a record (e.g. an
  //   identical rewrite); it still waits for its batch to be durable, since
  //   its outcome may rest on an earlier record of the same batch.
  Status status;
  bool needs_record = true;

  // Out. position: the record's position; for an OK item without a record,
  // the last durable position when its batch completed.
  LogPosition position;
};

struct GroupCommitOptions {
  // Caps on one batch, so a burst does not make a leader's own write wait for
  // a huge fsync. The leader's own item is always taken.
  size_t max_batch_records = 4096;
  size_t max_batch_bytes = 8u << 20;
};

// Hooks run on the leader thread, one batch at a time, never concurrently
// with each other; they need no lock against each other. They must not call
// Commit() (it would deadlock) and must not block for long: every writer in
// the batch waits for them.
struct GroupCommitHooks {
  using BatchHook = std::function<void(std::span<CommitItem* const> batch)>;
  // Before the batch is written: decide each item's outcome (the sequencer).
  BatchHook prepare;
  // After the batch is durable: apply it (the in-memory store). Sees every
  // item, including rejected ones (status not OK).
  BatchHook apply;
  // Instead of apply when writing the batch failed (every item then carries
  // the failure): lets prepare's speculative state be thrown away.
  std::function<void(std::span<CommitItem* const> batch, const Status& failure)> abort;
};

// Thread-safe. `wal` must outlive this object; no other caller may append to
// `wal` while this object is in use (positions would interleave).
class GroupCommitLog {
 public:
  GroupCommitLog(Wal& wal, GroupCommitHooks hooks, GroupCommitOptions options = {});
  GroupCommitLog(const GroupCommitLog&) = delete;
  GroupCommitLog& operator=(const GroupCommitLog&) = delete;

  // Writes `item` as part of some batch and returns once that batch is
  // durable and applied (or failed). Returns item->status: OK; the status
  // prepare() gave it; or the batch's failure (Wal::AppendBatch's errors).
  // Nothing is promised about a failed item except that apply() never saw it.
  Status Commit(CommitItem* item) EXCLUDES(mu_);

  // Items enqueued and not yet done, the leader's batch included.
  size_t queued() const EXCLUDES(mu_);
  // Batches written so far (each one AppendBatch call).
  uint64_t batches() const EXCLUDES(mu_);

 private:
  struct Waiter {
    Waiter(Mutex* mu, CommitItem* item) : item(item), cv(mu) {}
    CommitItem* const item;
    bool done = false;  // guarded by mu_
    CondVar cv;
  };

  // Leader only, without mu_: prepare, append, apply/abort.
  void RunBatch(std::span<CommitItem* const> batch);

  Wal& wal_;
  const GroupCommitHooks hooks_;
  const GroupCommitOptions options_;

  mutable Mutex mu_;
  std::deque<Waiter*> queue_ GUARDED_BY(mu_);  // front() leads or is about to
  uint64_t batches_ GUARDED_BY(mu_) = 0;

  // Scratch for the current leader only (leadership, not mu_, guards them:
  // one leader at a time).
  std::vector<CommitItem*> batch_items_;
  std::vector<LogRecord> records_;
};

}  // namespace baton::gateway

// Group commit: many writers, one fdatasync per batch. Writers hand their
// item to one committer thread and either block (Commit) or get a callback
// (Submit). The committer takes everything queued as one batch, writes it
// with a single Wal::AppendBatch, and completes each item. While it waits for
// the disk, new items pile up and form the next batch, so the number of
// fsyncs adapts to the load without any timer (LevelDB's writer queue, with
// the leader made a dedicated thread so that callers need not block: the
// gRPC callback API and replication acks complete writes asynchronously).
// A second thread runs the completion callbacks, so that sending replies
// overlaps the next batch's fsync instead of delaying it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <thread>
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
  // Written in a batch of its own (e.g. an epoch start, whose prepare hook
  // changes the epoch that every record of its batch gets).
  bool exclusive = false;

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

// Hooks run on the committer thread, one batch at a time, never concurrently
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
// `wal` while this object is in use (positions would interleave). Stop()
// (or the destructor) completes every item still queued with UNAVAILABLE.
class GroupCommitLog {
 public:
  // Called on the completion thread once the item's batch is durable and
  // applied (or failed); item->status holds the outcome. Callbacks run in
  // batch order. Must be quick: later completions wait for it.
  using Done = std::function<void(CommitItem* item)>;

  GroupCommitLog(Wal& wal, GroupCommitHooks hooks, GroupCommitOptions options = {});
  ~GroupCommitLog();
  GroupCommitLog(const GroupCommitLog&) = delete;
  GroupCommitLog& operator=(const GroupCommitLog&) = delete;

  // Fails what is queued, lets the batch in flight finish and joins both
  // threads: once it returns no Done runs any more, and later items fail
  // at once with UNAVAILABLE. Idempotent; the owner calls it, never a Done.
  void Stop() EXCLUDES(mu_);

  // Queues `item` for the next batch; `done` runs when it completes. `item`
  // must stay valid until then.
  void Submit(CommitItem* item, Done done) EXCLUDES(mu_);

  // Submit() and wait. Returns item->status: OK; the status prepare() gave
  // it; or the batch's failure (Wal::AppendBatch's errors). Nothing is
  // promised about a failed item except that apply() never saw it.
  Status Commit(CommitItem* item) EXCLUDES(mu_);

  // Items submitted and not yet done, the batch in flight included.
  size_t queued() const EXCLUDES(mu_);
  // Batches written so far (each one AppendBatch call).
  uint64_t batches() const EXCLUDES(mu_);

 private:
  struct Pending {
    CommitItem* item;
    Done done;
  };

  void CommitterLoop() EXCLUDES(mu_);
  void CompleterLoop() EXCLUDES(mu_);
  // Committer only, without mu_: prepare, append, apply/abort.
  void RunBatch(std::span<CommitItem* const> batch);

  Wal& wal_;
  const GroupCommitHooks hooks_;
  const GroupCommitOptions options_;

  mutable Mutex mu_;
  CondVar work_{&mu_};
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  size_t in_flight_ GUARDED_BY(mu_) = 0;  // taken by the committer, not yet completed
  CondVar completions_cv_{&mu_};
  std::deque<std::vector<Pending>> completions_ GUARDED_BY(mu_);
  uint64_t batches_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool committer_done_ GUARDED_BY(mu_) = false;

  // Committer thread only.
  std::vector<Pending> batch_;
  std::vector<CommitItem*> batch_items_;
  std::vector<LogRecord> records_;

  // Last: they start after everything above exists.
  std::thread completer_;
  std::thread committer_;
};

}  // namespace baton::gateway

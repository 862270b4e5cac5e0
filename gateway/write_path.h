// The gateway's write path: validated requests in, durable and applied
// outcomes out. Ties group commit (gateway/log) to the status rules
// (gateway/store/write_planner.h): the committer thread plans every request
// of its batch against the store, logs one record per call, fsyncs once for
// the whole batch, then applies the records to the store and queues them for
// the index.
//
// Thread-safe: Write()/WriteAsync() from any number of threads. `wal`, `store`
// and `index` must outlive the WritePath.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "gateway/log/group_commit.h"
#include "gateway/log/wal.h"
#include "gateway/store/store.h"
#include "gateway/store/vector_index.h"
#include "gateway/store/write_planner.h"

namespace baton::gateway {

class WritePath {
 public:
  WritePath(Wal& wal, ObjectStore& store, VectorIndex& index);
  WritePath(const WritePath&) = delete;
  WritePath& operator=(const WritePath&) = delete;

  // Plans, logs and applies `requests` as one log record (a Multi* call is
  // one record). Returns one outcome per request, in order; a non-OK Status
  // means the record could not be made durable (RESOURCE_EXHAUSTED: disk
  // full; FAILED_PRECONDITION: the log is poisoned) and nothing was applied.
  Result<std::vector<WriteOutcome>> Write(std::vector<WriteRequest> requests);

  // The same without blocking: `done` runs on the committer thread once the
  // record is durable and applied (or failed). It must be quick.
  using WriteDone = std::function<void(Result<std::vector<WriteOutcome>>)>;
  void WriteAsync(std::vector<WriteRequest> requests, WriteDone done);

  // Hands each committed write's position to `gate`, which calls `ack` once
  // the write may be acknowledged (replicated as the assignment requires,
  // lease valid) or with the reason it may not. Unset: acknowledged once
  // durable. Set before writes start.
  using AckGate = std::function<void(LogPosition position, std::function<void(Status)> ack)>;
  void set_ack_gate(AckGate gate) { ack_gate_ = std::move(gate); }

  // Asked on the committer thread just before a batch of writes is logged:
  // a non-OK status rejects every write of the batch with it (nothing is
  // logged or applied). Lets a refusal that starts after a write was admitted
  // still keep it out of the log (a handover). Unset: always logged. Must be
  // quick and must not wait for this WritePath. Set before writes start.
  using AppendGate = std::function<Status()>;
  void set_append_gate(AppendGate gate) { append_gate_ = std::move(gate); }

  // Returns once every write submitted before the call is durable and
  // applied, or failed; logs nothing itself. With the append gate closed
  // first, the durable position no longer moves after it returns. Fails only
  // when the write path is shutting down.
  Status Flush();

  // Stops the committer and completer threads (GroupCommitLog::Stop): once
  // it returns no WriteDone or AckGate runs any more, so the services those
  // callbacks reach may go; later writes fail with UNAVAILABLE.
  void Shutdown() { log_->Stop(); }

  // Starts epoch `epoch` in the log: on the committer thread, between two
  // batches, `on_epoch_start(epoch, first_seq)` runs (it must make the epoch
  // current in the log) and a kEpochStart record is written at first_seq.
  // Returns that record's position.
  using EpochStartHook = std::function<Status(uint64_t epoch, uint64_t first_seq)>;
  Result<LogPosition> StartEpoch(uint64_t epoch, EpochStartHook on_epoch_start);

  // Logs the mirror cursors as a kCursor record (through group commit, like
  // a write, so they share its fsync) and applies them to the store once
  // durable. Blocks until then. Refused like a write while the append gate
  // is closed. Not held up by replication: cursors are advisory (a promoted
  // standby with an older cursor re-sends, and peers take writes again
  // idempotently).
  Status LogCursors(const v1::MirrorCursorRecord& cursors);

  // Drops tombstones removed before `older_than` on the committer thread,
  // between two batches (the planner must not see the store change under
  // it). Logs nothing: each gateway compacts its own. Returns how many.
  Result<size_t> CompactTombstones(WallTime older_than);

  // Standby: applies a record received by replication and already durable
  // in the local log (kWrite records change the store; the others only move
  // the applied position). Must not run concurrently with writes.
  Status ApplyReplicated(const LogRecord& record);

  // After the store was reloaded (divergence repair, snapshot install).
  void NoteApplied(LogPosition position);

  // Position of the last record applied to the store (any thread).
  LogPosition applied_position() const;
  // Records applied since start (any thread); drives snapshot scheduling.
  uint64_t applied_records() const { return applied_records_.load(std::memory_order_relaxed); }

  // Called on the committer thread after each applied batch (metrics); must
  // be quick and must not wait for the index graph's lock.
  void set_on_batch(std::function<void(size_t items)> fn) { on_batch_ = std::move(fn); }

 private:
  struct Call;  // one Write() in flight: requests and outcomes
  struct EpochCall;  // one StartEpoch() in flight
  struct CompactCall;  // one CompactTombstones() in flight

  void Prepare(std::span<CommitItem* const> batch);
  void Apply(std::span<CommitItem* const> batch);

  Wal& wal_;
  ObjectStore& store_;
  VectorIndex& index_;
  std::function<void(size_t)> on_batch_;
  AckGate ack_gate_;
  AppendGate append_gate_;
  // The StartEpoch() call in flight (StartEpoch callers are serialized by
  // the gateway's role changes); read by the committer in Prepare.
  std::atomic<EpochCall*> epoch_call_{nullptr};
  // Applies a durable kCursor record's payload to the store.
  Status ApplyCursorRecord(const LogRecord& record);
  // The current batch's planner; committer thread only.
  std::optional<WriteBatchPlanner> planner_;
  std::atomic<uint64_t> applied_epoch_{0};
  std::atomic<uint64_t> applied_seq_{0};
  std::atomic<uint64_t> applied_records_{0};
  std::unique_ptr<GroupCommitLog> log_;
};

}  // namespace baton::gateway

// The write-ahead log: the one ordered, durable sequence of records that the
// gateway's store is rebuilt from, that replication streams to standbys and
// that mirror senders read with their own cursors.
//
// Guarantees:
//  - A record is durable (fdatasync returned) before it is visible: readers
//    and durable_position() never show a record a crash could take back.
//  - seq runs from first_seq() to last_position().seq without gaps; epochs
//    never decrease along the log.
//  - After any failed fsync the log is poisoned: every later append fails
//    until the process restarts and recovery re-reads what is really on disk
//    (PostgreSQL's fsyncgate lesson: a retried fsync can "succeed" after the
//    kernel dropped the dirty pages).
//  - Open() truncates a torn tail (a crash mid-append) and refuses to open,
//    with DATA_LOSS naming file, offset and reason, on any other damage.
//
// Threads: the mutating calls (Append*, SetEpoch, TruncateAfter,
// DeleteSegmentsBefore, Reset) are serialized by an internal writer lock and
// may block on disk I/O; in the gateway they are made by one writer (the
// group-commit leader) at a time. Accessors and NewReader() are thread-safe,
// never wait for disk, and may be called from any thread.
// Lifetime: `fs` and `clock` must outlive the Wal; the Wal must outlive its
// readers (call Shutdown() to wake readers blocked in Next() first).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/log/format.h"

namespace baton::gateway {

class WalReader;

// One successful append, reported to WalOptions::on_sync.
struct WalSyncSample {
  size_t records = 0;
  uint64_t bytes = 0;
  Duration sync_duration{};  // time spent in fdatasync
};

// Counters since Open(), for /metrics.
struct WalStats {
  uint64_t batches = 0;  // successful appends (one fdatasync each)
  uint64_t records = 0;
  uint64_t bytes = 0;
  Duration sync_duration_total{};
  uint64_t append_failures = 0;  // batches that failed on disk (disk full, fsync, ...)
  uint64_t segments_created = 0;
  uint64_t segments_deleted = 0;
};

struct WalOptions {
  // The segments' directory, e.g. "<data_dir>/log"; created if missing.
  std::string dir;
  // A segment is closed and a new one started before the first append that
  // finds it at or past this size.
  uint64_t segment_bytes = kDefaultSegmentBytes;
  // Epoch of new records until SetEpoch(); the epoch of the last record on
  // disk wins if it is higher.
  uint64_t initial_epoch = 0;
  // Called on the appending thread after each successful append. Readers'
  // lock is not held, the writer lock is: it must be quick and must not call
  // the Wal's mutating calls (deadlock).
  std::function<void(const WalSyncSample&)> on_sync;
};

class Wal {
  struct Key {  // only Open() constructs a Wal
    explicit Key() = default;
  };

 public:
  // Recovers the log in options.dir (see the guarantees above), or starts an
  // empty one at seq 1. Makes everything it found durable before returning.
  // Errors: DATA_LOSS (corruption, message names file, offset and reason);
  // file system errors (INTERNAL, RESOURCE_EXHAUSTED, ...).
  static Result<std::unique_ptr<Wal>> Open(FileSystem& fs, const WalOptions& options, Clock& clock);
  Wal(Key, FileSystem& fs, WalOptions options, Clock& clock);  // use Open()
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Gives the records consecutive positions (current epoch, last seq + 1, ...),
  // writes them with one write and one fdatasync, then publishes them as
  // durable and wakes readers. Returns the position of the last record (an
  // empty batch returns last_position() and does no I/O).
  // Errors: INVALID_ARGUMENT (bad type, payload too big; nothing written);
  // RESOURCE_EXHAUSTED (disk full: nothing written, no position consumed, the
  // log stays usable); FAILED_PRECONDITION "wal poisoned: ..." (this fsync or
  // an earlier one failed); CANCELLED after Shutdown().
  Result<LogPosition> AppendBatch(std::vector<LogRecord>& records);
  // The standby path: keeps the records' positions, which must continue the
  // log (seq == last + 1, epoch >= last epoch), else FAILED_PRECONDITION
  // naming both positions. Raises the current epoch to the records' epoch.
  // Other errors as AppendBatch.
  Result<LogPosition> AppendReplicated(std::vector<LogRecord>& records);

  // Epoch for records appended from now on. FAILED_PRECONDITION if lower
  // than the current one (a deposed active must not write under an old term).
  Status SetEpoch(uint64_t epoch);

  // Divergence repair: durably drops every record after `seq` and returns how
  // many were dropped (0 if seq >= last). Readers already past `seq` get
  // FAILED_PRECONDITION. OUT_OF_RANGE if records <= seq were deleted already
  // (seq + 1 < first_seq()). A failure halfway poisons the log.
  Result<uint64_t> TruncateAfter(uint64_t seq);

  // Deletes whole segments all of whose records are < seq (a snapshot covers
  // them); never the segment being written. Returns how many were deleted.
  // A reader whose next record was deleted gets OUT_OF_RANGE from Next().
  Result<size_t> DeleteSegmentsBefore(uint64_t seq);

  // Catch-up from a snapshot at `last`: drops every segment and restarts the
  // log empty, so that the next record is last.seq + 1. Not atomic: after a
  // crash halfway, Open() finds a prefix of the old log (maybe empty), which
  // the caller reconciles with its snapshot by calling Reset() again.
  Status Reset(LogPosition last);

  // A reader of durable records from `from_seq` on (see wal_reader.h).
  std::unique_ptr<WalReader> NewReader(uint64_t from_seq);

  // Wakes blocked readers (they return CANCELLED) and fails later appends
  // with CANCELLED. Idempotent; the destructor calls it.
  void Shutdown();

  // --- any thread ---------------------------------------------------------
  uint64_t first_seq() const;
  // Last record written (it may still be in the fsync that makes it durable).
  LogPosition last_position() const;
  // Last record that is durable; readers see records up to here.
  LogPosition durable_position() const;
  // Epoch that AppendBatch gives new records.
  uint64_t epoch() const;
  // OK, or the failure that poisoned the log.
  Status poison_status() const;
  WalStats stats() const;
  const std::string& dir() const { return options_.dir; }

 private:
  friend class WalReader;

  // What readers need to know about a segment, published under mu_.
  struct Segment {
    uint64_t first_seq = 0;
    uint64_t durable_size = 0;  // bytes that are synced (all of a closed segment)
  };
  // Where a reader finds a durable record.
  struct ReadTarget {
    uint64_t segment_first_seq = 0;
    uint64_t limit = 0;
  };


  std::string SegmentPath(uint64_t first_seq) const;
  Result<LogPosition> Append(std::vector<LogRecord>& records, bool replicated) EXCLUDES(mu_, write_mu_);
  Status CheckWritable() const EXCLUDES(mu_);
  Status RollIfNeeded(uint64_t next_seq) REQUIRES(write_mu_) EXCLUDES(mu_);
  Status HandleAppendFailure(const Status& failure) REQUIRES(write_mu_) EXCLUDES(mu_);
  Status CountFailure(Status failure) EXCLUDES(mu_);  // returns `failure`
  // Records `cause` as the poison and returns the poisoned status.
  Status Poison(const Status& cause) EXCLUDES(mu_);
  // End offset and epoch of record `seq` in `segment`.
  Result<std::pair<uint64_t, uint64_t>> LocateEnd(const Segment& segment, uint64_t seq) EXCLUDES(mu_);
  // Disk side of TruncateAfter: removes old_segments after `keep` (newest
  // first, so a crash halfway leaves a consistent shorter log), cuts
  // old_segments[keep] to `cut` bytes and reopens it for appending.
  Status CutTail(const std::vector<Segment>& old_segments, size_t keep, uint64_t cut) REQUIRES(write_mu_)
      EXCLUDES(mu_);
  // Disk side of Reset: removes old_segments, starts an empty segment.
  Status Restart(const std::vector<Segment>& old_segments, uint64_t first_seq) REQUIRES(write_mu_) EXCLUDES(mu_);
  void CloseActive() REQUIRES(write_mu_);

  // For WalReader, under mu_. Waits until `seq` is durable, the deadline
  // passes (returns nullopt), or the reader's view is stale/invalid (error).
  // *generation is the reader's view of truncations; updated (and *reset
  // set) when the reader may continue but must drop its buffers.
  Result<std::optional<ReadTarget>> WaitReadable(uint64_t seq, MonoTime deadline, uint64_t* generation,
                                                 bool* reset) EXCLUDES(mu_);
  // Still true after reading: no truncation has happened since *generation.
  bool StillValid(uint64_t generation) const EXCLUDES(mu_);

  FileSystem& fs_;
  const WalOptions options_;
  Clock& clock_;

  // Writer state: held across disk I/O, so never taken by readers.
  Mutex write_mu_;
  std::unique_ptr<WritableFile> active_ GUARDED_BY(write_mu_);
  uint64_t active_first_seq_ GUARDED_BY(write_mu_) = 0;
  uint64_t durable_offset_ GUARDED_BY(write_mu_) = 0;  // synced bytes of active_
  std::string buffer_ GUARDED_BY(write_mu_);

  // Published state: small, never held across I/O.
  mutable Mutex mu_;
  CondVar cv_{&mu_};  // signalled when durable_ advances, on truncation and shutdown
  std::vector<Segment> segments_ GUARDED_BY(mu_);  // ordered; back() is being written
  LogPosition last_ GUARDED_BY(mu_);
  LogPosition durable_ GUARDED_BY(mu_);
  uint64_t epoch_ GUARDED_BY(mu_) = 0;
  // Bumped by TruncateAfter and Reset; cut_after_[g] is the last seq kept by
  // the truncation that made generation g + 1. Grows by one per divergence
  // repair, which is rare.
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> cut_after_ GUARDED_BY(mu_);
  bool shut_down_ GUARDED_BY(mu_) = false;
  Status poison_ GUARDED_BY(mu_);
  WalStats stats_ GUARDED_BY(mu_);
};

}  // namespace baton::gateway

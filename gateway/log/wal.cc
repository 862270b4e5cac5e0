#include "gateway/log/wal.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "gateway/log/segment.h"
#include "gateway/log/wal_reader.h"
#include "gateway/log/wal_recovery.h"

namespace baton::gateway {

Wal::Wal(Key, FileSystem& fs, WalOptions options, Clock& clock)
    : fs_(fs), options_(std::move(options)), clock_(clock) {}

Wal::~Wal() {
  Shutdown();
  MutexLock write_lock(&write_mu_);
  if (active_ != nullptr) {
    Status s = active_->Close();
    if (!s.ok()) spdlog::warn("wal {}: closing active segment: {}", options_.dir, s.ToString());
  }
}

Result<std::unique_ptr<Wal>> Wal::Open(FileSystem& fs, const WalOptions& options, Clock& clock) {
  if (options.dir.empty()) return Status::InvalidArgument("wal: options.dir is empty");
  if (options.segment_bytes == 0) return Status::InvalidArgument("wal: options.segment_bytes is 0");
  BATON_RETURN_IF_ERROR(fs.CreateDirs(options.dir));
  BATON_ASSIGN_OR_RETURN(RecoveredLog recovered, RecoverLog(fs, options.dir, clock));

  auto wal = std::make_unique<Wal>(Key(), fs, options, clock);
  if (recovered.segments.empty()) recovered.segments.push_back({1, 0});
  const RecoveredLog::Segment& tail = recovered.segments.back();
  {
    MutexLock write_lock(&wal->write_mu_);
    // Appendable even when it is new; then fsync it and the directory: a
    // process killed before its fsync leaves records in the page cache that
    // recovery could read, and they must be durable before anyone is told.
    BATON_ASSIGN_OR_RETURN(wal->active_, fs.NewAppendableFile(wal->SegmentPath(tail.first_seq)));
    BATON_RETURN_IF_ERROR(wal->active_->Sync());
    BATON_RETURN_IF_ERROR(fs.SyncDir(options.dir));
    wal->active_first_seq_ = tail.first_seq;
    wal->durable_offset_ = wal->active_->Size();
  }
  {
    MutexLock lock(&wal->mu_);
    for (const RecoveredLog::Segment& seg : recovered.segments) wal->segments_.push_back({seg.first_seq, seg.size});
    wal->last_ = recovered.last;
    wal->durable_ = recovered.last;
    wal->epoch_ = std::max(options.initial_epoch, recovered.last.epoch);
    spdlog::info("wal opened dir={} segments={} first_seq={} last={} epoch={}", options.dir, wal->segments_.size(),
                 wal->segments_.front().first_seq, wal->last_.ToString(), wal->epoch_);
  }
  return wal;
}

std::string Wal::SegmentPath(uint64_t first_seq) const { return JoinPath(options_.dir, SegmentFileName(first_seq)); }

Result<LogPosition> Wal::AppendBatch(std::vector<LogRecord>& records) { return Append(records, false); }

Result<LogPosition> Wal::AppendReplicated(std::vector<LogRecord>& records) { return Append(records, true); }

Status Wal::CheckWritable() const {
  MutexLock lock(&mu_);
  if (shut_down_) return Status::Cancelled("wal " + options_.dir + ": shut down");
  if (!poison_.ok()) return Status::FailedPrecondition("wal poisoned: " + poison_.ToString());
  return Status::Ok();
}

Status Wal::Poison(const Status& cause) {
  MutexLock lock(&mu_);
  if (poison_.ok()) {
    poison_ = cause;
    spdlog::error("wal {}: poisoned, refusing all writes until restart: {}", options_.dir, cause.ToString());
  }
  return Status::FailedPrecondition("wal poisoned: " + poison_.ToString());
}

Result<LogPosition> Wal::Append(std::vector<LogRecord>& records, bool replicated) {
  MutexLock write_lock(&write_mu_);
  BATON_RETURN_IF_ERROR(CheckWritable());
  LogPosition last;
  uint64_t epoch;
  {
    MutexLock lock(&mu_);
    last = last_;
    epoch = epoch_;
  }
  if (records.empty()) return last;

  // Positions first, so that messages about a bad record can name it.
  LogPosition prev = last;
  for (LogRecord& record : records) {
    if (!replicated) {
      record.pos = LogPosition{epoch, prev.seq + 1};
    } else if (record.pos.seq != prev.seq + 1 || record.pos.epoch < prev.epoch) {
      return Status::FailedPrecondition("wal: replicated record " + record.pos.ToString() +
                                        " does not follow last position " + prev.ToString() +
                                        " (need seq " + std::to_string(prev.seq + 1) + " and epoch >= " +
                                        std::to_string(prev.epoch) + ")");
    }
    BATON_RETURN_IF_ERROR(ValidateForAppend(record));
    prev = record.pos;
  }

  Status rolled = RollIfNeeded(last.seq + 1);
  if (!rolled.ok()) return CountFailure(rolled);
  buffer_.clear();
  for (const LogRecord& record : records) EncodeRecord(record, &buffer_);
  Status appended = active_->Append(buffer_);
  if (!appended.ok()) return CountFailure(HandleAppendFailure(appended));
  {
    MutexLock lock(&mu_);
    last_ = prev;
  }

  const MonoTime sync_start = clock_.Now();
  Status synced = active_->Sync();
  const Duration sync_duration = clock_.Now() - sync_start;
  // fsync failed: we no longer know what is on disk, so refuse writes until
  // a restart re-reads it. Never retry: the retry can "succeed" on a page
  // the kernel already dropped.
  if (!synced.ok()) return CountFailure(Poison(synced));
  durable_offset_ = active_->Size();

  WalSyncSample sample{records.size(), buffer_.size(), sync_duration};
  {
    MutexLock lock(&mu_);
    durable_ = prev;
    segments_.back().durable_size = durable_offset_;
    if (replicated) epoch_ = std::max(epoch_, prev.epoch);
    ++stats_.batches;
    stats_.records += records.size();
    stats_.bytes += buffer_.size();
    stats_.sync_duration_total += sync_duration;
    cv_.SignalAll();
  }
  if (options_.on_sync) options_.on_sync(sample);
  return prev;
}

Status Wal::HandleAppendFailure(const Status& failure) {
  if (failure.code() != StatusCode::kResourceExhausted) return Poison(failure);
  // Disk full: part of the batch may have reached the file. Cut the segment
  // back to what is durable so the next batch starts on a record boundary;
  // the batch's positions were never published, so they are reused.
  const std::string path = SegmentPath(active_first_seq_);
  Status closed = active_->Close();
  if (!closed.ok()) spdlog::warn("wal {}: closing after a failed append: {}", path, closed.ToString());
  active_.reset();
  Status rolled_back = fs_.TruncateFile(path, durable_offset_);
  if (rolled_back.ok()) {
    auto reopened = fs_.NewAppendableFile(path);
    if (reopened.ok()) {
      active_ = std::move(reopened).value();
    } else {
      rolled_back = reopened.status();
    }
  }
  if (!rolled_back.ok()) {
    return Poison(Status(failure.code(), failure.message() + "; rolling back to offset " +
                                             std::to_string(durable_offset_) + " failed: " + rolled_back.ToString()));
  }
  spdlog::warn("wal {}: disk full, batch failed and segment rolled back to offset {}: {}", path, durable_offset_,
               failure.message());
  return failure;
}

Status Wal::CountFailure(Status failure) {
  MutexLock lock(&mu_);
  ++stats_.append_failures;
  return failure;
}

Status Wal::RollIfNeeded(uint64_t next_seq) {
  if (durable_offset_ == 0 || active_->Size() < options_.segment_bytes) return Status::Ok();
  const std::string path = SegmentPath(next_seq);
  // Failing here changes nothing yet: the batch fails, the log stays usable.
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_.NewWritableFile(path));
  Status dir_synced = fs_.SyncDir(options_.dir);
  if (!dir_synced.ok()) return Poison(dir_synced);
  Status closed = active_->Close();  // its contents were synced by the last append
  if (!closed.ok()) spdlog::warn("wal {}: closing full segment: {}", options_.dir, closed.ToString());
  active_ = std::move(file);
  active_first_seq_ = next_seq;
  durable_offset_ = 0;
  MutexLock lock(&mu_);
  segments_.push_back({next_seq, 0});
  ++stats_.segments_created;
  return Status::Ok();
}

Status Wal::SetEpoch(uint64_t epoch) {
  MutexLock write_lock(&write_mu_);
  MutexLock lock(&mu_);
  if (epoch < epoch_) {
    return Status::FailedPrecondition("wal: epoch " + std::to_string(epoch) + " is lower than the current epoch " +
                                      std::to_string(epoch_));
  }
  epoch_ = epoch;
  return Status::Ok();
}

std::unique_ptr<WalReader> Wal::NewReader(uint64_t from_seq) { return std::make_unique<WalReader>(*this, from_seq); }

void Wal::Shutdown() {
  MutexLock lock(&mu_);
  shut_down_ = true;
  cv_.SignalAll();
}

uint64_t Wal::first_seq() const {
  MutexLock lock(&mu_);
  return segments_.front().first_seq;
}

LogPosition Wal::last_position() const {
  MutexLock lock(&mu_);
  return last_;
}

LogPosition Wal::durable_position() const {
  MutexLock lock(&mu_);
  return durable_;
}

uint64_t Wal::epoch() const {
  MutexLock lock(&mu_);
  return epoch_;
}

Status Wal::poison_status() const {
  MutexLock lock(&mu_);
  return poison_;
}

WalStats Wal::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace baton::gateway

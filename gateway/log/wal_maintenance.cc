// Wal calls that remove records: TruncateAfter (divergence), DeleteSegmentsBefore
// (covered by a snapshot) and Reset (catch-up from a snapshot). Each first
// publishes the new shape of the log under mu_ (so readers stop trusting what
// is about to go), then changes the disk; a disk failure after that point
// leaves memory and disk disagreeing, so it poisons the log.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "gateway/log/segment.h"
#include "gateway/log/wal.h"

namespace baton::gateway {

void Wal::CloseActive() {
  if (active_ == nullptr) return;
  Status closed = active_->Close();
  if (!closed.ok()) spdlog::warn("wal {}: closing active segment: {}", options_.dir, closed.ToString());
  active_.reset();
}

Result<std::pair<uint64_t, uint64_t>> Wal::LocateEnd(const Segment& segment, uint64_t seq) {
  const std::string name = SegmentFileName(segment.first_seq);
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file,
                         fs_.NewRandomAccessFile(JoinPath(options_.dir, name)));
  SegmentReader reader(std::move(file), name);
  uint64_t offset = 0;
  for (;;) {
    BATON_ASSIGN_OR_RETURN(std::optional<SegmentReader::Entry> entry, reader.ReadAt(offset, segment.durable_size));
    if (!entry.has_value()) break;
    offset += entry->size;
    if (entry->record.pos.seq == seq) return std::make_pair(offset, entry->record.pos.epoch);
  }
  return Status::DataLoss("wal " + name + ": record seq " + std::to_string(seq) + " not found");
}

Result<uint64_t> Wal::TruncateAfter(uint64_t seq) {
  MutexLock write_lock(&write_mu_);
  BATON_RETURN_IF_ERROR(CheckWritable());
  std::vector<Segment> segments;
  LogPosition last;
  {
    MutexLock lock(&mu_);
    segments = segments_;
    last = last_;
  }
  if (seq >= last.seq) return uint64_t{0};
  if (seq + 1 < segments.front().first_seq) {
    return Status::OutOfRange("wal: cannot truncate after seq " + std::to_string(seq) + ": log starts at seq " +
                              std::to_string(segments.front().first_seq));
  }
  // keep: the segment holding seq + 1, the first record to drop.
  size_t keep = segments.size() - 1;
  while (segments[keep].first_seq > seq + 1) --keep;
  uint64_t cut = 0;
  uint64_t epoch = 0;  // unknown when every record is dropped
  if (segments[keep].first_seq <= seq) {
    BATON_ASSIGN_OR_RETURN(auto end, LocateEnd(segments[keep], seq));
    cut = end.first;
    epoch = end.second;
  } else if (keep > 0) {
    BATON_ASSIGN_OR_RETURN(auto end, LocateEnd(segments[keep - 1], seq));
    epoch = end.second;
  }
  const uint64_t dropped = last.seq - seq;
  {
    MutexLock lock(&mu_);
    ++generation_;  // readers past seq fail from now on, before the bytes go
    cut_after_.push_back(seq);
    segments_.resize(keep + 1);
    segments_.back().durable_size = cut;
    last_ = durable_ = LogPosition{epoch, seq};
    cv_.SignalAll();
  }
  Status cut_status = CutTail(segments, keep, cut);
  if (!cut_status.ok()) return Poison(cut_status.WithContext("truncating after seq " + std::to_string(seq)));
  spdlog::warn("wal {}: truncated after seq {}: dropped {} records ({} .. {})", options_.dir, seq, dropped,
               seq + 1, last.seq);
  return dropped;
}

Status Wal::CutTail(const std::vector<Segment>& old_segments, size_t keep, uint64_t cut) {
  CloseActive();
  for (size_t i = old_segments.size() - 1; i > keep; --i) {
    BATON_RETURN_IF_ERROR(fs_.RemoveFile(SegmentPath(old_segments[i].first_seq)));
  }
  const std::string path = SegmentPath(old_segments[keep].first_seq);
  BATON_RETURN_IF_ERROR(fs_.TruncateFile(path, cut));
  BATON_RETURN_IF_ERROR(fs_.SyncDir(options_.dir));
  BATON_ASSIGN_OR_RETURN(active_, fs_.NewAppendableFile(path));
  active_first_seq_ = old_segments[keep].first_seq;
  durable_offset_ = cut;
  return Status::Ok();
}

Result<size_t> Wal::DeleteSegmentsBefore(uint64_t seq) {
  MutexLock write_lock(&write_mu_);
  size_t deleted = 0;
  for (;;) {
    uint64_t victim;
    {
      MutexLock lock(&mu_);
      // segments_[0] holds [first, segments_[1].first_seq); all < seq iff
      // segments_[1].first_seq <= seq. The last segment is never a victim.
      if (segments_.size() < 2 || segments_[1].first_seq > seq) break;
      victim = segments_.front().first_seq;
      // Unlisted before it is removed: new readers get OUT_OF_RANGE rather
      // than a missing file.
      segments_.erase(segments_.begin());
      ++stats_.segments_deleted;
    }
    BATON_RETURN_IF_ERROR(fs_.RemoveFile(SegmentPath(victim)));
    ++deleted;
  }
  if (deleted > 0) {
    BATON_RETURN_IF_ERROR(fs_.SyncDir(options_.dir));
    spdlog::info("wal {}: deleted {} segments before seq {}; log starts at seq {}", options_.dir, deleted, seq,
                 first_seq());
  }
  return deleted;
}

Status Wal::Reset(LogPosition last) {
  MutexLock write_lock(&write_mu_);
  BATON_RETURN_IF_ERROR(CheckWritable());
  if (last.seq == UINT64_MAX) return Status::InvalidArgument("wal: cannot reset to seq " + std::to_string(last.seq));
  std::vector<Segment> old_segments;
  {
    MutexLock lock(&mu_);
    old_segments = segments_;
    ++generation_;
    cut_after_.push_back(last.seq);
    segments_ = {Segment{last.seq + 1, 0}};
    last_ = durable_ = last;
    epoch_ = std::max(epoch_, last.epoch);
    cv_.SignalAll();
  }
  Status restarted = Restart(old_segments, last.seq + 1);
  if (!restarted.ok()) return Poison(restarted.WithContext("resetting to " + last.ToString()));
  spdlog::info("wal {}: reset; log restarts after {}", options_.dir, last.ToString());
  return Status::Ok();
}

Status Wal::Restart(const std::vector<Segment>& old_segments, uint64_t first_seq) {
  CloseActive();
  for (auto it = old_segments.rbegin(); it != old_segments.rend(); ++it) {
    BATON_RETURN_IF_ERROR(fs_.RemoveFile(SegmentPath(it->first_seq)));
  }
  BATON_ASSIGN_OR_RETURN(active_, fs_.NewWritableFile(SegmentPath(first_seq)));
  BATON_RETURN_IF_ERROR(fs_.SyncDir(options_.dir));
  active_first_seq_ = first_seq;
  durable_offset_ = 0;
  return Status::Ok();
}

}  // namespace baton::gateway

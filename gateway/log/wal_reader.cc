#include "gateway/log/wal_reader.h"

#include <algorithm>
#include <utility>

#include "gateway/log/wal.h"

namespace baton::gateway {

// --- the Wal's side: what a reader may read, under mu_ -----------------------

Result<std::optional<Wal::ReadTarget>> Wal::WaitReadable(uint64_t seq, MonoTime deadline, uint64_t* generation,
                                                         bool* reset) {
  MutexLock lock(&mu_);
  for (;;) {
    if (shut_down_) return Status::Cancelled("wal " + options_.dir + ": shut down");
    if (*generation != generation_) {
      // Records were dropped. A reader that already returned some of them has
      // diverged, even if new records have since refilled those seqs; one
      // still before every cut continues on fresh file handles.
      const uint64_t cut = *std::min_element(cut_after_.begin() + static_cast<ptrdiff_t>(*generation), cut_after_.end());
      if (seq > cut + 1) {
        return Status::FailedPrecondition("wal: records after seq " + std::to_string(cut) +
                                          " were dropped, but this reader already returned up to seq " +
                                          std::to_string(seq - 1));
      }
      *generation = generation_;
      *reset = true;
    }
    if (seq < segments_.front().first_seq) {
      return Status::OutOfRange("log starts at seq " + std::to_string(segments_.front().first_seq) +
                                ", reader wants " + std::to_string(seq));
    }
    if (seq <= durable_.seq) {
      auto it = std::upper_bound(segments_.begin(), segments_.end(), seq,
                                 [](uint64_t s, const Segment& seg) { return s < seg.first_seq; });
      --it;  // the last segment starting at or before seq; exists since seq >= front().first_seq
      return std::optional<ReadTarget>(ReadTarget{it->first_seq, it->durable_size});
    }
    // CondVar waits on real time, so the deadline does too.
    const MonoTime now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::optional<ReadTarget>();
    cv_.WaitFor(deadline - now);
  }
}

bool Wal::StillValid(uint64_t generation) const {
  MutexLock lock(&mu_);
  return generation == generation_;
}

// --- the reader ---------------------------------------------------------------

WalReader::WalReader(Wal& wal, uint64_t from_seq) : wal_(wal), next_seq_(from_seq) {
  MutexLock lock(&wal_.mu_);
  generation_ = wal_.generation_;
}

Status WalReader::Fail(Status status) {
  segment_.reset();
  failed_ = status;
  return status;
}

Status WalReader::Position(uint64_t segment_first_seq, uint64_t limit) {
  segment_.reset();
  const std::string name = SegmentFileName(segment_first_seq);
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, wal_.fs_.NewRandomAccessFile(wal_.SegmentPath(segment_first_seq)));
  auto segment = std::make_unique<SegmentReader>(std::move(file), name);
  uint64_t offset = 0;
  // Skip to next_seq_. Segments have no index, so a reader that starts in
  // the middle of one reads its front once.
  while (segment_first_seq < next_seq_) {
    BATON_ASSIGN_OR_RETURN(std::optional<SegmentReader::Entry> entry, segment->ReadAt(offset, limit));
    if (!entry.has_value()) {
      return Status::Internal("wal " + name + ": seq " + std::to_string(next_seq_) +
                              " is durable but the segment ends at offset " + std::to_string(offset));
    }
    if (entry->record.pos.seq == next_seq_) break;
    if (entry->record.pos.seq > next_seq_) {
      return Status::DataLoss("wal " + name + ": seq " + std::to_string(next_seq_) + " missing at offset " +
                              std::to_string(offset));
    }
    offset += entry->size;
  }
  segment_ = std::move(segment);
  segment_first_seq_ = segment_first_seq;
  offset_ = offset;
  return Status::Ok();
}

Result<std::optional<LogRecord>> WalReader::Next(std::chrono::milliseconds wait) {
  if (!failed_.ok()) return failed_;
  const MonoTime deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    bool reset = false;
    auto target = wal_.WaitReadable(next_seq_, deadline, &generation_, &reset);
    if (!target.ok()) return Fail(target.status());
    if (!target->has_value()) return std::optional<LogRecord>();
    const Wal::ReadTarget where = **target;
    if (reset) segment_.reset();  // the file may have been cut and rewritten

    if (segment_ == nullptr || where.segment_first_seq != segment_first_seq_) {
      Status positioned = Position(where.segment_first_seq, where.limit);
      if (!positioned.ok()) {
        // Deleted or cut since WaitReadable looked: ask again, which reports
        // OUT_OF_RANGE or the truncation.
        if (!wal_.StillValid(generation_) || next_seq_ < wal_.first_seq()) continue;
        return Fail(positioned);
      }
    }
    auto entry = segment_->ReadAt(offset_, where.limit);
    Status problem;
    if (!entry.ok()) {
      problem = entry.status();
    } else if (!entry->has_value()) {
      problem = Status::Internal("wal " + segment_->name() + ": seq " + std::to_string(next_seq_) +
                                 " is durable but the segment ends at offset " + std::to_string(offset_));
    } else if ((*entry)->record.pos.seq != next_seq_) {
      problem = Status::DataLoss("wal " + segment_->name() + ": expected seq " + std::to_string(next_seq_) +
                                 " at offset " + std::to_string(offset_) + ", found " +
                                 std::to_string((*entry)->record.pos.seq));
    }
    // A truncation that began while we read may have replaced these bytes:
    // go round, and WaitReadable says whether this reader may continue.
    if (!wal_.StillValid(generation_)) {
      segment_.reset();
      continue;
    }
    if (!problem.ok()) return Fail(problem);
    offset_ += (*entry)->size;
    ++next_seq_;
    return std::optional<LogRecord>(std::move((*entry)->record));
  }
}

}  // namespace baton::gateway

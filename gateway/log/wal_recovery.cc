#include "gateway/log/wal_recovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "gateway/log/segment.h"

namespace baton::gateway {
namespace {

using std::chrono::seconds;

// Logs "records, bytes, %" about once a second, but only once the scan has
// run for a second: a fast recovery stays quiet.
class Progress {
 public:
  Progress(Clock& clock, uint64_t total_bytes)
      : clock_(clock), total_bytes_(total_bytes), start_(clock.Now()), last_report_(start_) {}

  void Tick(uint64_t records, uint64_t bytes, bool force = false) {
    if (!force && ++ticks_ % 64 != 0) return;  // reading the clock per record would be noise
    MonoTime now = clock_.Now();
    if (now - start_ < seconds(1) || now - last_report_ < seconds(1)) return;
    last_report_ = now;
    uint64_t percent = total_bytes_ == 0 ? 100 : bytes * 100 / total_bytes_;
    spdlog::info("wal recovery: {} records, {} of {} bytes ({}%)", records, bytes, total_bytes_, percent);
  }

  Duration elapsed() const { return clock_.Now() - start_; }

 private:
  Clock& clock_;
  const uint64_t total_bytes_;
  const MonoTime start_;
  MonoTime last_report_;
  uint64_t ticks_ = 0;
};

struct FoundSegment {
  uint64_t first_seq;
  std::string name;
  uint64_t size;
};

// After a bad record at `from - 1`: the first offset in [from, limit) where a
// whole valid record with seq >= min_seq starts, if any. Only such a record
// proves the damage is not a torn tail, so the cheap header check filters
// offsets before any crc is computed.
Result<std::optional<uint64_t>> FindValidRecordAfter(SegmentReader& reader, uint64_t from, uint64_t limit,
                                                     uint64_t min_seq) {
  if (limit < from) return std::optional<uint64_t>();
  // A segment of n bytes cannot hold more than n / kHeaderSize records.
  const uint64_t max_seq = min_seq + (limit - from) / kHeaderSize + 1;
  for (uint64_t p = from; p + kHeaderSize <= limit; ++p) {
    BATON_ASSIGN_OR_RETURN(std::string_view head, reader.Peek(p, kHeaderSize, limit));
    if (!HeaderLooksPlausible(head, min_seq, max_seq)) continue;
    auto entry = reader.ReadAt(p, limit);
    if (entry.ok() && entry->has_value()) return std::optional<uint64_t>(p);
    if (!entry.ok() && entry.status().code() != StatusCode::kDataLoss) return entry.status();
  }
  return std::optional<uint64_t>();
}

Result<std::vector<FoundSegment>> ListSegments(FileSystem& fs, const std::string& dir) {
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.GetChildren(dir));
  std::vector<FoundSegment> found;
  for (std::string& name : names) {
    std::optional<uint64_t> first_seq = ParseSegmentFileName(name);
    if (!first_seq.has_value()) {
      spdlog::warn("wal {}: ignoring {}: not a segment file", dir, name);
      continue;
    }
    if (*first_seq == 0) return Status::DataLoss("wal " + name + ": segment name says seq 0; seqs start at 1");
    BATON_ASSIGN_OR_RETURN(uint64_t size, fs.GetFileSize(JoinPath(dir, name)));
    found.push_back({*first_seq, std::move(name), size});
  }
  std::sort(found.begin(), found.end(),
            [](const FoundSegment& a, const FoundSegment& b) { return a.first_seq < b.first_seq; });
  return found;
}

}  // namespace

Result<RecoveredLog> RecoverLog(FileSystem& fs, const std::string& dir, Clock& clock) {
  BATON_ASSIGN_OR_RETURN(std::vector<FoundSegment> found, ListSegments(fs, dir));
  RecoveredLog log;
  if (found.empty()) return log;

  uint64_t total_bytes = 0;
  for (const FoundSegment& seg : found) total_bytes += seg.size;
  Progress progress(clock, total_bytes);
  uint64_t expected = found.front().first_seq;
  log.last = LogPosition{0, expected - 1};
  uint64_t bytes_done = 0;

  for (size_t i = 0; i < found.size(); ++i) {
    FoundSegment& seg = found[i];
    const bool last_segment = i + 1 == found.size();
    if (seg.first_seq != expected) {
      return Status::DataLoss("wal " + seg.name + ": seq gap at offset 0: segment starts at seq " +
                              std::to_string(seg.first_seq) + " but the log so far ends at seq " +
                              std::to_string(expected - 1));
    }
    const std::string path = JoinPath(dir, seg.name);
    BATON_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, fs.NewRandomAccessFile(path));
    SegmentReader reader(std::move(file), seg.name);
    uint64_t offset = 0;
    for (;;) {
      auto entry = reader.ReadAt(offset, seg.size);
      if (!entry.ok()) {
        const Status& bad = entry.status();
        if (bad.code() != StatusCode::kDataLoss) return bad;
        if (!last_segment) {
          return Status::DataLoss(bad.message() + "; not the last segment, so not a torn tail");
        }
        BATON_ASSIGN_OR_RETURN(std::optional<uint64_t> next_valid,
                               FindValidRecordAfter(reader, offset + 1, seg.size, expected));
        if (next_valid.has_value()) {
          return Status::DataLoss(bad.message() + "; a valid record follows at offset " +
                                  std::to_string(*next_valid) + ", so not a torn tail");
        }
        // A crash interrupted the last append: nothing after this point was
        // ever acknowledged (acks wait for the fsync), so dropping it is safe.
        const uint64_t dropped = seg.size - offset;
        BATON_RETURN_IF_ERROR(fs.TruncateFile(path, offset));
        spdlog::warn("wal {}: torn tail at offset {}: dropped {} bytes ({})", seg.name, offset, dropped, bad.message());
        log.torn_tail_bytes = dropped;
        seg.size = offset;
        break;
      }
      if (!entry->has_value()) break;
      const LogRecord& record = (*entry)->record;
      if (record.pos.seq != expected) {
        return Status::DataLoss("wal " + seg.name + ": seq gap at offset " + std::to_string(offset) +
                                ": expected seq " + std::to_string(expected) + ", found " +
                                std::to_string(record.pos.seq));
      }
      if (record.pos.epoch < log.last.epoch) {
        return Status::DataLoss("wal " + seg.name + ": epoch goes back at offset " + std::to_string(offset) +
                                ": " + log.last.ToString() + " then " + record.pos.ToString());
      }
      log.last = record.pos;
      ++expected;
      ++log.records;
      offset += (*entry)->size;
      progress.Tick(log.records, bytes_done + offset);
    }
    bytes_done += seg.size;
    log.segments.push_back({seg.first_seq, seg.size});
    progress.Tick(log.records, bytes_done, /*force=*/true);
  }
  if (progress.elapsed() >= seconds(1)) {
    spdlog::info("wal recovery done: {} records, {} bytes in {:.1f}s", log.records, bytes_done,
                 ToSeconds(progress.elapsed()));
  }
  return log;
}

}  // namespace baton::gateway

// Reading the log from a position on: replication senders (one per standby)
// and mirror senders (one per peer) each own a WalReader and follow the log
// as it grows.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/status.h"
#include "gateway/log/format.h"
#include "gateway/log/segment.h"

namespace baton::gateway {

class Wal;

// Returns the log's durable records in seq order, starting at `from_seq`:
// never a record that is not yet durable, never one that TruncateAfter
// dropped. Reads the segment files itself (pread), so it never blocks the
// writer and the writer never blocks it beyond a short mutex.
//
// Confined to one thread at a time (any thread); many readers may run at
// once. The Wal must outlive the reader. Create with Wal::NewReader().
class WalReader {
 public:
  WalReader(Wal& wal, uint64_t from_seq);
  WalReader(const WalReader&) = delete;
  WalReader& operator=(const WalReader&) = delete;

  // The next record, waiting up to `wait` for it to become durable; nullopt
  // if it did not within `wait` (0 = just poll). A later call continues.
  // Errors (the reader is then stuck; make a new one):
  //   OUT_OF_RANGE "log starts at seq N, reader wants M": the record was
  //     deleted (covered by a snapshot); catch up from the snapshot instead.
  //   FAILED_PRECONDITION: TruncateAfter/Reset dropped records this reader
  //     already returned; its consumer has diverged from the log.
  //   CANCELLED: the Wal was shut down.
  //   DATA_LOSS: a durable record failed its crc (disk damage under us).
  //   File system errors as the FileSystem reports them.
  Result<std::optional<LogRecord>> Next(std::chrono::milliseconds wait);

  // Seq of the record the next successful Next() returns.
  uint64_t next_seq() const { return next_seq_; }

 private:
  // Opens the segment starting at first_seq and finds next_seq_ in it.
  Status Position(uint64_t segment_first_seq, uint64_t limit);
  Status Fail(Status status);

  Wal& wal_;
  uint64_t next_seq_;
  uint64_t generation_ = 0;  // the Wal's truncation count this reader has seen
  std::unique_ptr<SegmentReader> segment_;
  uint64_t segment_first_seq_ = 0;
  uint64_t offset_ = 0;      // where next_seq_ starts in segment_
  Status failed_;            // sticky error
};

}  // namespace baton::gateway

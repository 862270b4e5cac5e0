// Recovery scan of a log directory (internal to the Wal; exposed for tests).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/status.h"
#include "gateway/log/format.h"

namespace baton::gateway {

struct RecoveredLog {
  struct Segment {
    uint64_t first_seq = 0;
    uint64_t size = 0;  // after any torn-tail truncation
  };
  std::vector<Segment> segments;  // ordered by first_seq; empty for a new log
  LogPosition last;               // last valid record; {0, first_seq - 1} if none
  uint64_t records = 0;
  uint64_t torn_tail_bytes = 0;   // dropped from the last segment
};

// Reads every segment in `dir`, validating each record (crc, length, seq
// contiguous from the first segment's name, epoch non-decreasing).
//  - A bad or partial record in the last segment with no valid record after
//    it is a torn tail: the segment is durably truncated before it and a
//    warning names file, offset and bytes dropped.
//  - Anything else (bad record followed by a valid one, damage in an earlier
//    segment, a seq gap, an epoch going back) is DATA_LOSS naming the file,
//    the byte offset and the reason; nothing is changed on disk.
// Logs progress about once a second when the scan runs longer than that.
// Files in `dir` that are not segments are ignored with a warning.
Result<RecoveredLog> RecoverLog(FileSystem& fs, const std::string& dir, Clock& clock);

}  // namespace baton::gateway

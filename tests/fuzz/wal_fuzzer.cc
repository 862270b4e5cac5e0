// Fuzz target: WAL record decoding and recovery (gateway/log/format.*,
// segment.*, wal_recovery.*, wal.*, wal_reader.*) and the replay of what
// recovery keeps into the store, as GatewayServer::ReplayLog does it.
//
// The input is the contents of the log's only segment,
// 00000000000000000001.log, on an in-memory file system. Besides "no crash,
// no UB, no leak" it checks what docs/formats/wal.md promises, against its
// own walk over the input with DecodeRecord:
//  - every record DecodeRecord accepts re-encodes to exactly its bytes;
//  - Wal::Open keeps exactly the longest valid prefix (contiguous seqs from
//    1, epochs never going back) and nothing else: a bad tail with no valid
//    record after it is cut off, anything else is DATA_LOSS with the file
//    left as it was;
//  - readers return exactly the kept records, appends continue after them
//    and a reopen finds them all again;
//  - whatever the replay puts into the store survives a snapshot round trip.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/v1/storage.pb.h"
#include "common/clock.h"
#include "gateway/log/format.h"
#include "gateway/log/segment.h"
#include "gateway/log/wal.h"
#include "gateway/log/wal_reader.h"
#include "gateway/store/store.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/memory_file_system.h"

namespace baton::gateway {
namespace {

using fuzz::MemoryFileSystem;

constexpr char kDir[] = "/log";
constexpr int kDimension = 4;
// Small, so that the appends after recovery roll to a second segment when
// the input is large, and the reopen recovers across segments.
constexpr uint64_t kSegmentBytes = 4096;

// What the bytes hold, found without the recovery code.
struct Walk {
  enum class Stop { kEnd, kUndecodable, kOutOfOrder };
  Stop stop = Stop::kEnd;
  uint64_t valid_bytes = 0;          // the longest valid prefix
  std::vector<LogRecord> records;    // in it
  uint64_t next_seq = 1;
  // A record that decodes and could continue the log starts after the first
  // bad one (the rule that tells damage from a torn tail).
  bool valid_record_follows = false;
};

Walk WalkRecords(std::string_view data) {
  Walk walk;
  uint64_t epoch = 0;
  while (walk.valid_bytes < data.size()) {
    std::string_view rest = data.substr(walk.valid_bytes);
    size_t consumed = 0;
    Result<LogRecord> record = DecodeRecord(rest, &consumed);
    if (!record.ok()) {
      FUZZ_CHECK(record.status().code() == StatusCode::kDataLoss, record.status().ToString());
      walk.stop = Walk::Stop::kUndecodable;
      break;
    }
    FUZZ_CHECK(consumed >= kHeaderSize && consumed <= rest.size());
    std::string again;
    EncodeRecord(*record, &again);
    FUZZ_CHECK(again == rest.substr(0, consumed), "a decoded record does not re-encode to its bytes");
    if (record->pos.seq != walk.next_seq || record->pos.epoch < epoch) {
      walk.stop = Walk::Stop::kOutOfOrder;
      break;
    }
    epoch = record->pos.epoch;
    ++walk.next_seq;
    walk.valid_bytes += consumed;
    walk.records.push_back(std::move(record).value());
  }
  if (walk.stop == Walk::Stop::kUndecodable) {
    // A torn append holds the batch being written, so a record that proves
    // damage has a seq from next_seq up to one per header's worth of bytes.
    const uint64_t from = walk.valid_bytes + 1;
    const uint64_t max_seq = walk.next_seq + (data.size() - from) / kHeaderSize + 1;
    for (uint64_t p = from; p + kHeaderSize <= data.size(); ++p) {
      std::string_view at = data.substr(p);
      if (!HeaderLooksPlausible(at, walk.next_seq, max_seq)) continue;
      size_t consumed = 0;
      if (DecodeRecord(at, &consumed).ok()) {
        walk.valid_record_follows = true;
        break;
      }
    }
  }
  return walk;
}

Result<std::vector<LogRecord>> ReadAll(Wal& wal, uint64_t from_seq) {
  std::unique_ptr<WalReader> reader = wal.NewReader(from_seq);
  std::vector<LogRecord> records;
  for (;;) {
    BATON_ASSIGN_OR_RETURN(std::optional<LogRecord> record, reader->Next(std::chrono::milliseconds(0)));
    if (!record) return records;
    records.push_back(std::move(*record));
  }
}

// GatewayServer::ReplayLog's decoding, on a store of our own: any payload
// may be refused, none may crash the store.
void Replay(const std::vector<LogRecord>& records, ObjectStore& store) {
  v1::WriteRecord write;
  v1::MirrorCursorRecord cursors;
  for (const LogRecord& record : records) {
    if (record.type == RecordType::kWrite) {
      if (!write.ParseFromString(record.payload)) return;  // DATA_LOSS in the gateway
      if (!store.Apply(write, record.pos).ok()) return;
    } else if (record.type == RecordType::kCursor) {
      if (!cursors.ParseFromString(record.payload)) return;
      store.ApplyCursors(cursors, record.pos);
    }
  }
}

void CheckSnapshotRoundTrip(const ObjectStore& store, Clock& clock) {
  std::string payload;
  FUZZ_CHECK(store.SerializeTo(&payload).ok());
  ObjectStore copy(clock, ObjectStoreOptions{kDimension});
  Status loaded = copy.LoadFrom(payload);
  FUZZ_CHECK(loaded.ok(), "a store the log built does not load from its own snapshot: " + loaded.ToString());
  FUZZ_CHECK(copy.digest() == store.digest() && copy.size() == store.size() &&
             copy.tombstone_count() == store.tombstone_count() && copy.mirror_cursors() == store.mirror_cursors());
}

}  // namespace
}  // namespace baton::gateway

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace baton;
  using namespace baton::gateway;
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const Walk walk = WalkRecords(data);

  fuzz::MemoryFileSystem fs;
  const std::string segment = JoinPath(kDir, SegmentFileName(1));
  fs.PutFile(segment, data);
  ManualClock clock;
  WalOptions options;
  options.dir = kDir;
  options.segment_bytes = kSegmentBytes;

  Result<std::unique_ptr<Wal>> opened = Wal::Open(fs, options, clock);
  const bool torn_tail = walk.stop == Walk::Stop::kUndecodable && !walk.valid_record_follows;
  if (walk.stop != Walk::Stop::kEnd && !torn_tail) {
    FUZZ_CHECK(!opened.ok(), "recovery accepted a damaged log");
    FUZZ_CHECK(opened.status().code() == StatusCode::kDataLoss, opened.status().ToString());
    FUZZ_CHECK(*fs.Contents(segment) == data, "recovery changed a damaged log it refused");
    return 0;
  }
  FUZZ_CHECK(opened.ok(), "recovery refused a valid log or torn tail: " + opened.status().ToString());
  Wal& wal = **opened;
  FUZZ_CHECK(*fs.Contents(segment) == data.substr(0, walk.valid_bytes), "recovery kept the wrong bytes");
  const LogPosition last = walk.records.empty() ? LogPosition{0, 0} : walk.records.back().pos;
  FUZZ_CHECK(wal.durable_position() == last, wal.durable_position().ToString() + " vs " + last.ToString());

  Result<std::vector<LogRecord>> read = ReadAll(wal, 1);
  FUZZ_CHECK(read.ok(), read.status().ToString());
  FUZZ_CHECK(*read == walk.records, "a reader returned other records than the log holds");

  ObjectStore store(clock, ObjectStoreOptions{kDimension});
  Replay(*read, store);
  CheckSnapshotRoundTrip(store, clock);

  // The log goes on after what recovery kept, and a reopen finds it all.
  std::vector<LogRecord> more(2);
  more[0].type = RecordType::kNoop;
  more[1].payload = "appended";
  Result<LogPosition> appended = wal.AppendBatch(more);
  FUZZ_CHECK(appended.ok(), appended.status().ToString());
  FUZZ_CHECK(appended->seq == last.seq + 2 && appended->epoch == last.epoch, appended->ToString());
  opened->reset();
  Result<std::unique_ptr<Wal>> reopened = Wal::Open(fs, options, clock);
  FUZZ_CHECK(reopened.ok(), "the log does not reopen after an append: " + reopened.status().ToString());
  FUZZ_CHECK((*reopened)->durable_position() == *appended);
  Result<std::vector<LogRecord>> again = ReadAll(**reopened, 1);
  FUZZ_CHECK(again.ok() && again->size() == walk.records.size() + 2, again.status().ToString());
  return 0;
}

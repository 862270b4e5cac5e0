// One test per kind of damage (LevelDB's log_test.cc model): what recovery
// repairs by itself (a torn tail) and what it must refuse (everything else).
#include "gateway/log/wal_recovery.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/gateway/log/wal_test_util.h"

namespace baton::gateway {
namespace {

using namespace wal_test;

const std::string kFirstSegment = "00000000000000000001.log";

class WalRecoveryTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Wal>> OpenWal(uint64_t segment_bytes = kDefaultSegmentBytes) {
    return Wal::Open(PosixFileSystem(), Options(dir_, segment_bytes), clock_);
  }

  // Writes seqs 1..n through a Wal, `per_batch` records per append, and
  // returns the first segment's bytes.
  std::string WriteLog(uint64_t n, uint64_t segment_bytes = kDefaultSegmentBytes, uint64_t per_batch = 1) {
    auto wal = OpenWal(segment_bytes);
    EXPECT_TRUE(wal.ok()) << wal.status();
    for (uint64_t seq = 1; seq <= n; seq += per_batch) {
      std::vector<LogRecord> records = RecsFor(seq, std::min(per_batch, n + 1 - seq));
      EXPECT_TRUE((*wal)->AppendBatch(records).ok());
    }
    return ReadFile(Segment(1));
  }

  std::string Segment(uint64_t first_seq) const { return SegmentPathIn(dir_, first_seq); }

  // Start offsets of the records in `bytes`, plus the end offset.
  static std::vector<uint64_t> RecordOffsets(const std::string& bytes) {
    std::vector<uint64_t> offsets{0};
    size_t consumed = 0;
    while (offsets.back() < bytes.size() &&
           DecodeRecord(std::string_view(bytes).substr(offsets.back()), &consumed).ok()) {
      offsets.push_back(offsets.back() + consumed);
    }
    return offsets;
  }

  // Open fails with DATA_LOSS whose message has every one of `parts`, and
  // the damaged file is left exactly as it was.
  void ExpectDataLoss(const std::string& path, std::initializer_list<std::string> parts) {
    const std::string before = ReadFile(path);
    auto wal = OpenWal(200);
    ASSERT_FALSE(wal.ok()) << "opened a damaged log";
    EXPECT_EQ(wal.status().code(), StatusCode::kDataLoss) << wal.status();
    for (const std::string& part : parts) {
      EXPECT_NE(wal.status().message().find(part), std::string::npos)
          << "missing \"" << part << "\" in: " << wal.status().message();
    }
    EXPECT_EQ(ReadFile(path), before) << "a refused log must not be modified";
  }

  void ExpectSeqs(Wal& wal, uint64_t first, uint64_t last) {
    auto records = ReadAll(wal, first);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), last + 1 - first);
    for (uint64_t seq = first; seq <= last; ++seq) ASSERT_EQ((*records)[seq - first].payload, PayloadFor(seq));
  }

  TempDir tmp_;
  const std::string dir_ = JoinPath(tmp_.path(), "log");
  ManualClock clock_;
};

TEST_F(WalRecoveryTest, TornTailAtEveryByteOffsetOfTheLastRecordIsTruncated) {
  constexpr uint64_t kRecords = 5;
  const std::string full = WriteLog(kRecords);
  const std::vector<uint64_t> offsets = RecordOffsets(full);
  ASSERT_EQ(offsets.size(), kRecords + 1);
  const uint64_t last_start = offsets[kRecords - 1];
  for (uint64_t length = last_start; length < full.size(); ++length) {
    SCOPED_TRACE("file cut to " + std::to_string(length) + " bytes");
    WriteFile(Segment(1), std::string_view(full).substr(0, length));
    LogCapture logs;
    {
      auto wal = OpenWal();
      ASSERT_TRUE(wal.ok()) << wal.status();
      EXPECT_EQ((*wal)->last_position().seq, kRecords - 1);
      ExpectSeqs(**wal, 1, kRecords - 1);
      const size_t warnings = logs.Count({"warning", kFirstSegment, "torn tail at offset " + std::to_string(last_start),
                                          "dropped " + std::to_string(length - last_start) + " bytes"});
      EXPECT_EQ(warnings, length == last_start ? 0u : 1u);
      EXPECT_EQ(ReadFile(Segment(1)).size(), last_start);
      // The log carries on with the right next seq.
      std::vector<LogRecord> records = RecsFor(kRecords, 1);
      auto pos = (*wal)->AppendBatch(records);
      ASSERT_TRUE(pos.ok()) << pos.status();
      EXPECT_EQ(pos->seq, kRecords);
    }
    auto wal = OpenWal();
    ASSERT_TRUE(wal.ok()) << wal.status();
    ExpectSeqs(**wal, 1, kRecords);
  }
}

TEST_F(WalRecoveryTest, BadCrcInTheLastRecordIsATornTail) {
  std::string bytes = WriteLog(4);
  const std::vector<uint64_t> offsets = RecordOffsets(bytes);
  bytes[offsets[3] + kHeaderSize + 2] ^= 0x01;
  WriteFile(Segment(1), bytes);
  auto wal = OpenWal();
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ((*wal)->last_position().seq, 3u);
}

TEST_F(WalRecoveryTest, ZeroFilledTailIsATornTail) {
  std::string bytes = WriteLog(3);
  WriteFile(Segment(1), bytes + std::string(4096, '\0'));
  LogCapture logs;
  auto wal = OpenWal();
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ((*wal)->last_position().seq, 3u);
  EXPECT_EQ(logs.Count({"torn tail", "dropped 4096 bytes"}), 1u);
  EXPECT_EQ(ReadFile(Segment(1)), bytes);
}

TEST_F(WalRecoveryTest, FlippedBitInAMiddleRecordIsDataLoss) {
  std::string bytes = WriteLog(10);
  const std::vector<uint64_t> offsets = RecordOffsets(bytes);
  bytes[offsets[4] + kHeaderSize + 3] ^= 0x20;  // payload of seq 5
  WriteFile(Segment(1), bytes);
  ExpectDataLoss(Segment(1), {"wal " + kFirstSegment, "bad crc", "at offset " + std::to_string(offsets[4]),
                              "valid record follows at offset " + std::to_string(offsets[5])});
}

TEST_F(WalRecoveryTest, FlippedBitInAMiddleHeaderIsDataLoss) {
  std::string bytes = WriteLog(10);
  const std::vector<uint64_t> offsets = RecordOffsets(bytes);
  bytes[offsets[6] + kSeqOffset] ^= 0x04;  // the seq field of seq 7
  WriteFile(Segment(1), bytes);
  ExpectDataLoss(Segment(1), {kFirstSegment, "bad crc", "at offset " + std::to_string(offsets[6])});
}

TEST_F(WalRecoveryTest, ZeroedBlockInTheMiddleIsDataLoss) {
  std::string bytes = WriteLog(250, kDefaultSegmentBytes, /*per_batch=*/25);
  ASSERT_GT(bytes.size(), 3 * 4096u);
  const std::vector<uint64_t> offsets = RecordOffsets(bytes);
  bytes.replace(4096, 4096, std::string(4096, '\0'));
  WriteFile(Segment(1), bytes);
  // The first damaged record is the one that overlaps the block's start.
  uint64_t damaged = 0;
  for (uint64_t offset : offsets) {
    if (offset <= 4096) damaged = offset;
  }
  ExpectDataLoss(Segment(1), {kFirstSegment, "at offset " + std::to_string(damaged), "not a torn tail"});
}

TEST_F(WalRecoveryTest, AbsurdLengthInAMiddleRecordIsDataLoss) {
  std::string bytes = WriteLog(10);
  const std::vector<uint64_t> offsets = RecordOffsets(bytes);
  bytes.replace(offsets[2], 4, "\xff\xff\xff\xff");
  WriteFile(Segment(1), bytes);
  ExpectDataLoss(Segment(1), {kFirstSegment, "length 4294967295 exceeds max 16777216",
                              "at offset " + std::to_string(offsets[2])});
}

TEST_F(WalRecoveryTest, SeqGapInsideASegmentIsDataLoss) {
  ASSERT_TRUE(PosixFileSystem().CreateDirs(dir_).ok());
  std::string bytes;
  uint64_t offset_of_4 = 0;
  for (uint64_t seq : {1, 2, 4, 5}) {
    if (seq == 4) offset_of_4 = bytes.size();
    LogRecord record = Rec(PayloadFor(seq));
    record.pos = {1, seq};
    EncodeRecord(record, &bytes);
  }
  WriteFile(Segment(1), bytes);
  ExpectDataLoss(Segment(1), {kFirstSegment, "seq gap at offset " + std::to_string(offset_of_4),
                              "expected seq 3, found 4"});
}

TEST_F(WalRecoveryTest, EpochGoingBackIsDataLoss) {
  ASSERT_TRUE(PosixFileSystem().CreateDirs(dir_).ok());
  std::string bytes;
  for (LogPosition pos : {LogPosition{2, 1}, LogPosition{1, 2}}) {
    LogRecord record = Rec("x");
    record.pos = pos;
    EncodeRecord(record, &bytes);
  }
  WriteFile(Segment(1), bytes);
  ExpectDataLoss(Segment(1), {kFirstSegment, "epoch goes back", "(2,1) then (1,2)"});
}

TEST_F(WalRecoveryTest, MissingMiddleSegmentIsDataLoss) {
  WriteLog(30, /*segment_bytes=*/200);
  std::vector<uint64_t> segments;
  for (const std::string& name : ListDir(dir_)) segments.push_back(*ParseSegmentFileName(name));
  ASSERT_GE(segments.size(), 3u);
  ASSERT_TRUE(PosixFileSystem().RemoveFile(Segment(segments[1])).ok());
  ExpectDataLoss(Segment(segments[2]), {SegmentFileName(segments[2]), "seq gap",
                                        "segment starts at seq " + std::to_string(segments[2]),
                                        "ends at seq " + std::to_string(segments[1] - 1)});
}

TEST_F(WalRecoveryTest, TornTailInAnEarlierSegmentIsDataLoss) {
  WriteLog(30, /*segment_bytes=*/200);
  std::string first = ReadFile(Segment(1));
  WriteFile(Segment(1), std::string_view(first).substr(0, first.size() - 5));
  ExpectDataLoss(Segment(1), {kFirstSegment, "truncated payload", "not the last segment"});
}

TEST_F(WalRecoveryTest, IgnoresFilesThatAreNotSegments) {
  WriteLog(2);
  WriteFile(JoinPath(dir_, "notes.txt"), "operator was here");
  LogCapture logs;
  auto wal = OpenWal();
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ((*wal)->last_position().seq, 2u);
  EXPECT_EQ(logs.Count({"warning", "ignoring notes.txt"}), 1u);
}

TEST_F(WalRecoveryTest, EmptyLastSegmentContinuesTheLog) {
  WriteLog(3);
  WriteFile(Segment(4), "");  // a crash right after a roll created it
  auto wal = OpenWal();
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ((*wal)->last_position().seq, 3u);
  std::vector<LogRecord> records = RecsFor(4, 1);
  ASSERT_TRUE((*wal)->AppendBatch(records).ok());
  ExpectSeqs(**wal, 1, 4);
}

// A clock whose every reading is 50 ms after the previous one: recovery
// "takes" long enough to report progress without a big log.
class SteppingClock : public Clock {
 public:
  MonoTime Now() const override { return MonoTime(std::chrono::milliseconds(50 * ++ticks_)); }
  WallTime WallNow() const override { return WallTime(); }
  TimerId ScheduleAt(MonoTime, std::function<void()>) override { return 1; }
  bool Cancel(TimerId) override { return false; }
  void SleepUntil(MonoTime) override {}

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

TEST_F(WalRecoveryTest, SlowRecoveryLogsProgress) {
  WriteLog(1000, /*segment_bytes=*/4096, /*per_batch=*/20);
  SteppingClock slow;
  LogCapture logs;
  auto recovered = RecoverLog(PosixFileSystem(), dir_, slow);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->last.seq, 1000u);
  EXPECT_EQ(recovered->records, 1000u);
  EXPECT_GE(logs.Count({"info", "wal recovery: ", "records", "bytes", "%"}), 1u);
  EXPECT_EQ(logs.Count({"wal recovery done: 1000 records"}), 1u);

  // A fast one stays quiet.
  LogCapture quiet;
  ASSERT_TRUE(RecoverLog(PosixFileSystem(), dir_, clock_).ok());
  EXPECT_EQ(quiet.Count({"wal recovery"}), 0u);
}

}  // namespace
}  // namespace baton::gateway

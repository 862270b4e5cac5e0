#include "gateway/log/wal.h"

#include <gtest/gtest.h>

#include "tests/gateway/log/wal_test_util.h"
#include "tests/support/fault_file_system.h"

namespace baton::gateway {
namespace {

using namespace wal_test;
using ::baton::testing::FaultFileSystem;

class WalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Wal> Open(uint64_t segment_bytes = kDefaultSegmentBytes, uint64_t initial_epoch = 0) {
    WalOptions options = Options(dir_, segment_bytes);
    options.initial_epoch = initial_epoch;
    auto wal = Wal::Open(fs_, options, clock_);
    EXPECT_TRUE(wal.ok()) << wal.status();
    return wal.ok() ? std::move(wal).value() : nullptr;
  }

  // Appends records first_seq .. first_seq + n - 1, `per_batch` at a time.
  void AppendSeqs(Wal& wal, uint64_t first_seq, size_t n, size_t per_batch = 1) {
    for (size_t done = 0; done < n; done += per_batch) {
      std::vector<LogRecord> records = RecsFor(first_seq + done, std::min(per_batch, n - done));
      auto pos = wal.AppendBatch(records);
      ASSERT_TRUE(pos.ok()) << pos.status();
      ASSERT_EQ(pos->seq, first_seq + done + records.size() - 1);
    }
  }

  // The log holds exactly seqs first..last with the payloads AppendSeqs wrote.
  void ExpectSeqs(Wal& wal, uint64_t first, uint64_t last) {
    auto records = ReadAll(wal, first);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), last + 1 - first);
    for (uint64_t seq = first; seq <= last; ++seq) {
      const LogRecord& record = (*records)[seq - first];
      ASSERT_EQ(record.pos.seq, seq);
      ASSERT_EQ(record.payload, PayloadFor(seq)) << "seq " << seq;
    }
  }

  std::vector<uint64_t> SegmentSeqs() {
    std::vector<uint64_t> seqs;
    for (const std::string& name : ListDir(dir_)) {
      if (auto seq = ParseSegmentFileName(name)) seqs.push_back(*seq);
    }
    return seqs;
  }

  TempDir tmp_;
  const std::string dir_ = JoinPath(tmp_.path(), "log");
  FaultFileSystem fs_;
  ManualClock clock_;
};

TEST_F(WalTest, NewLogStartsEmptyAtSeqOne) {
  auto wal = Open();
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->first_seq(), 1u);
  EXPECT_EQ(wal->last_position(), (LogPosition{0, 0}));
  EXPECT_EQ(wal->durable_position(), (LogPosition{0, 0}));
  EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"00000000000000000001.log"});
  EXPECT_TRUE(wal->poison_status().ok());
}

TEST_F(WalTest, AppendAssignsConsecutivePositionsAndSurvivesReopen) {
  auto wal = Open();
  ASSERT_TRUE(wal->SetEpoch(3).ok());
  std::vector<LogRecord> records = RecsFor(1, 5);
  const int syncs_before = fs_.sync_calls();
  auto pos = wal->AppendBatch(records);
  ASSERT_TRUE(pos.ok()) << pos.status();
  EXPECT_EQ(*pos, (LogPosition{3, 5}));
  EXPECT_EQ(fs_.sync_calls(), syncs_before + 1) << "one batch, one fdatasync";
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].pos, (LogPosition{3, i + 1}));
  EXPECT_EQ(wal->durable_position(), (LogPosition{3, 5}));
  AppendSeqs(*wal, 6, 1);
  EXPECT_EQ(wal->stats().batches, 2u);
  EXPECT_EQ(wal->stats().records, 6u);

  wal.reset();
  wal = Open();
  EXPECT_EQ(wal->last_position(), (LogPosition{3, 6}));
  EXPECT_EQ(wal->epoch(), 3u);
  ExpectSeqs(*wal, 1, 6);
  AppendSeqs(*wal, 7, 1);
}

TEST_F(WalTest, EmptyBatchDoesNoIo) {
  auto wal = Open();
  AppendSeqs(*wal, 1, 2);
  const int syncs = fs_.sync_calls();
  std::vector<LogRecord> none;
  auto pos = wal->AppendBatch(none);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->seq, 2u);
  EXPECT_EQ(fs_.sync_calls(), syncs);
}

TEST_F(WalTest, EpochNeverGoesBack) {
  auto wal = Open(kDefaultSegmentBytes, /*initial_epoch=*/9);
  EXPECT_EQ(wal->epoch(), 9u);
  AppendSeqs(*wal, 1, 1);
  EXPECT_EQ(wal->last_position(), (LogPosition{9, 1}));
  Status lower = wal->SetEpoch(4);
  EXPECT_EQ(lower.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lower.message().find("epoch 4 is lower than the current epoch 9"), std::string::npos) << lower;
  EXPECT_TRUE(wal->SetEpoch(9).ok());
  EXPECT_TRUE(wal->SetEpoch(10).ok());
  AppendSeqs(*wal, 2, 1);
  wal.reset();
  // The log's own last epoch wins over a lower configured one.
  wal = Open(kDefaultSegmentBytes, /*initial_epoch=*/2);
  EXPECT_EQ(wal->epoch(), 10u);
}

TEST_F(WalTest, AppendReplicatedKeepsPositionsAndRejectsGapsAndLowerEpochs) {
  auto wal = Open();
  auto batch = [](std::initializer_list<LogPosition> positions) {
    std::vector<LogRecord> records;
    for (LogPosition pos : positions) {
      records.push_back(Rec(PayloadFor(pos.seq)));
      records.back().pos = pos;
    }
    return records;
  };
  auto ok = batch({{2, 1}, {2, 2}});
  ASSERT_TRUE(wal->AppendReplicated(ok).ok());
  EXPECT_EQ(wal->epoch(), 2u) << "a standby's epoch follows the log it receives";

  auto gap = batch({{2, 4}});
  Status s = wal->AppendReplicated(gap).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("(2,4)"), std::string::npos) << s;
  EXPECT_NE(s.message().find("(2,2)"), std::string::npos) << s;

  auto lower = batch({{1, 3}});
  s = wal->AppendReplicated(lower).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("(1,3)"), std::string::npos) << s;
  EXPECT_NE(s.message().find("(2,2)"), std::string::npos) << s;

  auto gap_inside = batch({{2, 3}, {2, 5}});
  EXPECT_EQ(wal->AppendReplicated(gap_inside).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(wal->last_position(), (LogPosition{2, 2})) << "a rejected batch writes nothing";

  auto newer = batch({{4, 3}});
  ASSERT_TRUE(wal->AppendReplicated(newer).ok());
  EXPECT_EQ(wal->epoch(), 4u);
  auto local = RecsFor(4, 1);
  auto pos = wal->AppendBatch(local);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, (LogPosition{4, 4}));
  ExpectSeqs(*wal, 1, 4);
}

TEST_F(WalTest, InvalidRecordIsRejectedWithoutConsumingAPosition) {
  auto wal = Open();
  std::vector<LogRecord> records = {Rec("fine"), Rec(std::string(kMaxPayloadSize + 1, 'x'))};
  EXPECT_EQ(wal->AppendBatch(records).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wal->last_position().seq, 0u);
  AppendSeqs(*wal, 1, 1);
}

TEST_F(WalTest, RollsSegmentsAndEveryAcknowledgedRecordSurvivesPowerLoss) {
  auto wal = Open(/*segment_bytes=*/300);
  AppendSeqs(*wal, 1, 40, /*per_batch=*/3);
  std::vector<uint64_t> segments = SegmentSeqs();
  ASSERT_GE(segments.size(), 4u);
  EXPECT_EQ(segments.front(), 1u);
  EXPECT_EQ(wal->stats().segments_created, segments.size() - 1);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    auto size = PosixFileSystem().GetFileSize(SegmentPathIn(dir_, segments[i]));
    ASSERT_TRUE(size.ok());
    EXPECT_GE(*size, 300u) << "segment " << segments[i] << " rolled early";
  }
  ExpectSeqs(*wal, 1, 40);
  ExpectSeqs(*wal, segments[2], 40);

  wal.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  EXPECT_EQ(SegmentSeqs(), segments) << "new segments' directory entries were synced";
  wal = Open(300);
  EXPECT_EQ(wal->last_position().seq, 40u);
  ExpectSeqs(*wal, 1, 40);
}

TEST_F(WalTest, DeleteSegmentsBeforeKeepsEverySegmentStillNeeded) {
  auto wal = Open(/*segment_bytes=*/200);
  AppendSeqs(*wal, 1, 30);
  std::vector<uint64_t> segments = SegmentSeqs();
  ASSERT_GE(segments.size(), 4u);
  // A seq in the middle of the third segment: the third is still needed.
  const uint64_t keep_from = segments[2] + 1;
  ASSERT_LT(keep_from, segments[3]);
  auto deleted = wal->DeleteSegmentsBefore(keep_from);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(wal->first_seq(), segments[2]);
  EXPECT_EQ(SegmentSeqs().front(), segments[2]);
  ExpectSeqs(*wal, segments[2], 30);

  auto reader = wal->NewReader(1);
  auto gone = reader->Next(0ms);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(gone.status().message(), "log starts at seq " + std::to_string(segments[2]) + ", reader wants 1");

  // Exactly at a segment's first seq, the segment before it goes too.
  deleted = wal->DeleteSegmentsBefore(segments[3]);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1u);
  // Never the segment being written, even if everything is covered.
  deleted = wal->DeleteSegmentsBefore(UINT64_MAX);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(SegmentSeqs().size(), 1u);
  EXPECT_EQ(wal->first_seq(), SegmentSeqs().front());
  AppendSeqs(*wal, 31, 1);

  wal.reset();
  wal = Open(200);
  EXPECT_EQ(wal->first_seq(), SegmentSeqs().front());
  EXPECT_EQ(wal->last_position().seq, 31u);
}

TEST_F(WalTest, TruncateAfterDropsTheTailDurably) {
  auto wal = Open(/*segment_bytes=*/200);
  ASSERT_TRUE(wal->SetEpoch(1).ok());
  AppendSeqs(*wal, 1, 30);
  auto none = wal->TruncateAfter(40);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);

  // Inside a segment.
  auto dropped = wal->TruncateAfter(25);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 5u);
  EXPECT_EQ(wal->last_position(), (LogPosition{1, 25}));
  EXPECT_EQ(wal->durable_position(), (LogPosition{1, 25}));
  ExpectSeqs(*wal, 1, 25);

  // At a segment boundary: the segment that started after the cut is empty
  // and carries on as the active one.
  std::vector<uint64_t> segments = SegmentSeqs();
  ASSERT_GE(segments.size(), 3u);
  const uint64_t boundary = segments[1];
  dropped = wal->TruncateAfter(boundary - 1);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 25 - (boundary - 1));
  EXPECT_EQ(SegmentSeqs(), (std::vector<uint64_t>{1, boundary}));
  EXPECT_EQ(ReadFile(SegmentPathIn(dir_, boundary)), "");

  // The new epoch's records follow the cut and survive a restart.
  ASSERT_TRUE(wal->SetEpoch(2).ok());
  AppendSeqs(*wal, boundary, 3);
  wal.reset();
  wal = Open(200);
  EXPECT_EQ(wal->last_position(), (LogPosition{2, boundary + 2}));
  ExpectSeqs(*wal, 1, boundary + 2);

  // Everything.
  dropped = wal->TruncateAfter(0);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, boundary + 2);
  EXPECT_EQ(wal->last_position().seq, 0u);
  AppendSeqs(*wal, 1, 2);
  wal.reset();
  wal = Open(200);
  ExpectSeqs(*wal, 1, 2);
}

TEST_F(WalTest, TruncateAfterBeforeTheLogStartIsOutOfRange) {
  auto wal = Open(/*segment_bytes=*/200);
  AppendSeqs(*wal, 1, 30);
  ASSERT_TRUE(wal->DeleteSegmentsBefore(20).ok());
  const uint64_t first = wal->first_seq();
  ASSERT_GT(first, 2u);
  EXPECT_EQ(wal->TruncateAfter(first - 2).status().code(), StatusCode::kOutOfRange);
  auto dropped = wal->TruncateAfter(first - 1);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 30 - (first - 1));
}

TEST_F(WalTest, ResetRestartsTheLogAfterASnapshotPosition) {
  auto wal = Open(/*segment_bytes=*/200);
  AppendSeqs(*wal, 1, 20);
  ASSERT_TRUE(wal->Reset(LogPosition{5, 100}).ok());
  EXPECT_EQ(wal->first_seq(), 101u);
  EXPECT_EQ(wal->last_position(), (LogPosition{5, 100}));
  EXPECT_EQ(wal->epoch(), 5u);
  EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"00000000000000000101.log"});
  AppendSeqs(*wal, 101, 2);
  EXPECT_EQ(wal->last_position(), (LogPosition{5, 102}));
  wal.reset();
  wal = Open(200);
  EXPECT_EQ(wal->first_seq(), 101u);
  ExpectSeqs(*wal, 101, 102);
  EXPECT_EQ(wal->NewReader(50)->Next(0ms).status().code(), StatusCode::kOutOfRange);
}

TEST_F(WalTest, FailedSyncPoisonsTheLogUntilRestart) {
  auto wal = Open();
  AppendSeqs(*wal, 1, 3);
  fs_.FailSyncs(Status::Internal("Input/output error (injected)"));
  auto records = RecsFor(4, 2);
  Status failed = wal->AppendBatch(records).status();
  EXPECT_EQ(failed.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(failed.message().rfind("wal poisoned: INTERNAL: fdatasync ", 0), 0u) << failed;
  EXPECT_NE(failed.message().find("Input/output error (injected)"), std::string::npos) << failed;

  // The disk "recovers"; the log must not believe it (fsyncgate).
  fs_.ClearSyncFailure();
  const int syncs = fs_.sync_calls();
  records = RecsFor(4, 1);
  EXPECT_EQ(wal->AppendBatch(records).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs_.sync_calls(), syncs) << "a poisoned log never syncs again";
  EXPECT_EQ(wal->TruncateAfter(1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(wal->poison_status().ok());
  EXPECT_EQ(wal->durable_position().seq, 3u);
  ExpectSeqs(*wal, 1, 3);

  wal.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  wal = Open();
  EXPECT_EQ(wal->last_position().seq, 3u);
  ExpectSeqs(*wal, 1, 3);
  AppendSeqs(*wal, 4, 1);
}

TEST_F(WalTest, DiskFullFailsTheBatchAndConsumesNoPosition) {
  auto wal = Open();
  AppendSeqs(*wal, 1, 3);
  auto size_before = PosixFileSystem().GetFileSize(SegmentPathIn(dir_, 1));
  ASSERT_TRUE(size_before.ok());

  fs_.SetDiskFull(true);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto records = RecsFor(4, 2);
    Status full = wal->AppendBatch(records).status();
    EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full;
    EXPECT_EQ(wal->last_position().seq, 3u);
    EXPECT_EQ(wal->durable_position().seq, 3u);
    auto size = PosixFileSystem().GetFileSize(SegmentPathIn(dir_, 1));
    ASSERT_TRUE(size.ok());
    EXPECT_EQ(*size, *size_before) << "the half-written batch was cut off";
  }
  EXPECT_TRUE(wal->poison_status().ok());
  ExpectSeqs(*wal, 1, 3);

  fs_.SetDiskFull(false);
  AppendSeqs(*wal, 4, 2);
  EXPECT_EQ(wal->stats().append_failures, 2u);

  wal.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  wal = Open();
  ExpectSeqs(*wal, 1, 5);
}

TEST_F(WalTest, DiskFullWithAFailedRollbackPoisons) {
  auto wal = Open();
  AppendSeqs(*wal, 1, 3);
  fs_.SetDiskFull(true);
  fs_.FailTruncates(Status::Internal("ftruncate failed (injected)"));
  auto records = RecsFor(4, 2);
  Status s = wal->AppendBatch(records).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("wal poisoned: RESOURCE_EXHAUSTED"), std::string::npos) << s;
  EXPECT_NE(s.message().find("ftruncate failed (injected)"), std::string::npos) << s;
  fs_.SetDiskFull(false);
  fs_.ClearTruncateFailure();
  records = RecsFor(4, 1);
  EXPECT_EQ(wal->AppendBatch(records).status().code(), StatusCode::kFailedPrecondition);

  wal.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  wal = Open();
  ExpectSeqs(*wal, 1, 3);
}

TEST_F(WalTest, ReportsEverySyncToTheMetricsHook) {
  std::vector<WalSyncSample> samples;
  WalOptions options = Options(dir_);
  options.on_sync = [&](const WalSyncSample& sample) { samples.push_back(sample); };
  auto wal = Wal::Open(fs_, options, clock_);
  ASSERT_TRUE(wal.ok()) << wal.status();
  std::vector<LogRecord> records = {Rec("abc"), Rec("")};
  ASSERT_TRUE((*wal)->AppendBatch(records).ok());
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].records, 2u);
  EXPECT_EQ(samples[0].bytes, 2 * kHeaderSize + 3);
  WalStats stats = (*wal)->stats();
  EXPECT_EQ(stats.batches, 1u);
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(stats.bytes, 2 * kHeaderSize + 3);
}

TEST_F(WalTest, ShutdownCancelsLaterAppends) {
  auto wal = Open();
  AppendSeqs(*wal, 1, 1);
  wal->Shutdown();
  auto records = RecsFor(2, 1);
  EXPECT_EQ(wal->AppendBatch(records).status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace baton::gateway

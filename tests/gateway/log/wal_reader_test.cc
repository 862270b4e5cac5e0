#include "gateway/log/wal_reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "tests/gateway/log/wal_test_util.h"
#include "tests/support/fault_file_system.h"

namespace baton::gateway {
namespace {

using namespace wal_test;
using ::baton::testing::FaultFileSystem;
using SteadyClock = std::chrono::steady_clock;

class WalReaderTest : public ::testing::Test {
 protected:
  std::unique_ptr<Wal> Open(uint64_t segment_bytes = kDefaultSegmentBytes) {
    auto wal = Wal::Open(fs_, Options(dir_, segment_bytes), clock_);
    EXPECT_TRUE(wal.ok()) << wal.status();
    return wal.ok() ? std::move(wal).value() : nullptr;
  }

  static void AppendSeqs(Wal& wal, uint64_t first_seq, size_t n) {
    std::vector<LogRecord> records = RecsFor(first_seq, n);
    auto pos = wal.AppendBatch(records);
    ASSERT_TRUE(pos.ok()) << pos.status();
    ASSERT_EQ(pos->seq, first_seq + n - 1);
  }

  // Next() must return record `seq` (with AppendSeqs' payload) right away.
  static void ExpectNext(WalReader& reader, uint64_t seq) {
    auto record = reader.Next(0ms);
    ASSERT_TRUE(record.ok()) << record.status();
    ASSERT_TRUE(record->has_value()) << "no record " << seq;
    EXPECT_EQ((*record)->pos.seq, seq);
    EXPECT_EQ((*record)->payload, PayloadFor(seq));
  }

  static void ExpectNothing(WalReader& reader) {
    auto record = reader.Next(0ms);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_FALSE(record->has_value()) << "unexpected seq " << (*record)->pos.seq;
  }

  TempDir tmp_;
  const std::string dir_ = JoinPath(tmp_.path(), "log");
  FaultFileSystem fs_;
  ManualClock clock_;
};

TEST_F(WalReaderTest, ReadsFromAnySeqAcrossSegments) {
  auto wal = Open(/*segment_bytes=*/200);
  for (uint64_t seq = 1; seq <= 40; ++seq) AppendSeqs(*wal, seq, 1);
  ASSERT_GE(ListDir(dir_).size(), 5u);
  for (uint64_t from : {1, 2, 17, 39, 40}) {
    auto reader = wal->NewReader(from);
    for (uint64_t seq = from; seq <= 40; ++seq) ExpectNext(*reader, seq);
    ExpectNothing(*reader);
    EXPECT_EQ(reader->next_seq(), 41u);
  }
  ExpectNothing(*wal->NewReader(41));
  auto before_start = wal->NewReader(0)->Next(0ms);
  EXPECT_EQ(before_start.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(before_start.status().message(), "log starts at seq 1, reader wants 0");
}

TEST_F(WalReaderTest, FollowsTheLogAsItGrowsAndRolls) {
  auto wal = Open(/*segment_bytes=*/256);
  auto reader = wal->NewReader(1);
  ExpectNothing(*reader);
  uint64_t next = 1;
  for (size_t batch = 1; batch <= 12; ++batch) {
    AppendSeqs(*wal, next, batch % 4 + 1);
    const uint64_t end = next + batch % 4 + 1;
    for (; next < end; ++next) ExpectNext(*reader, next);
    ExpectNothing(*reader);
  }
  EXPECT_GE(wal->stats().segments_created, 3u);
}

TEST_F(WalReaderTest, WaitsForTheNextRecordAndWakesOnAppend) {
  auto wal = Open();
  auto reader = wal->NewReader(1);
  ExpectNothing(*reader);
  auto waiting = std::async(std::launch::async, [&] {
    const auto start = SteadyClock::now();
    auto record = reader->Next(60s);
    return std::make_pair(std::move(record), SteadyClock::now() - start);
  });
  AppendSeqs(*wal, 1, 1);
  ASSERT_EQ(waiting.wait_for(30s), std::future_status::ready) << "reader was not woken";
  auto [record, waited] = waiting.get();
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->pos.seq, 1u);
  EXPECT_LT(waited, 30s) << "woken by the append, not by the deadline";
}

TEST_F(WalReaderTest, ReturnsNothingWhenTheWaitRunsOut) {
  auto wal = Open();
  auto reader = wal->NewReader(1);
  const auto start = SteadyClock::now();
  auto record = reader->Next(30ms);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_FALSE(record->has_value());
  EXPECT_GE(SteadyClock::now() - start, 30ms);
}

TEST_F(WalReaderTest, NeverReturnsARecordBeforeItsSyncReturns) {
  auto wal = Open();
  AppendSeqs(*wal, 1, 1);
  auto reader = wal->NewReader(1);
  ExpectNext(*reader, 1);

  fs_.CloseSyncGate();
  auto appending = std::async(std::launch::async, [&] {
    std::vector<LogRecord> records = RecsFor(2, 1);
    return wal->AppendBatch(records);
  });
  // Declared after the future, so destroyed before it: a failed ASSERT
  // below must not leave the appender parked at the gate forever.
  struct OpenGateOnExit {
    FaultFileSystem& fs;
    ~OpenGateOnExit() { fs.OpenSyncGate(); }
  } open_gate_on_exit{fs_};
  ASSERT_TRUE(fs_.WaitForBlockedSyncs(1, 10s));
  // Record 2 is in the file (written, not yet durable)...
  EXPECT_EQ(wal->last_position().seq, 2u);
  EXPECT_EQ(wal->durable_position().seq, 1u);
  auto size = PosixFileSystem().GetFileSize(SegmentPathIn(dir_, 1));
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2 * kHeaderSize + PayloadFor(1).size() + PayloadFor(2).size());
  // ...and no reader may see it, however long it waits.
  ExpectNothing(*reader);
  auto waited = reader->Next(50ms);
  ASSERT_TRUE(waited.ok());
  EXPECT_FALSE(waited->has_value());
  auto fresh = wal->NewReader(1);
  ExpectNext(*fresh, 1);
  ExpectNothing(*fresh);

  fs_.OpenSyncGate();
  auto record = reader->Next(30s);
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->pos.seq, 2u);
  auto appended = appending.get();
  ASSERT_TRUE(appended.ok()) << appended.status();
}

TEST_F(WalReaderTest, ReaderWhoseRecordsWereDeletedGetsOutOfRange) {
  auto wal = Open(/*segment_bytes=*/200);
  for (uint64_t seq = 1; seq <= 30; ++seq) AppendSeqs(*wal, seq, 1);
  auto reader = wal->NewReader(1);
  ExpectNext(*reader, 1);
  ASSERT_TRUE(wal->DeleteSegmentsBefore(20).ok());
  auto next = reader->Next(0ms);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(next.status().message(),
            "log starts at seq " + std::to_string(wal->first_seq()) + ", reader wants 2");
  EXPECT_EQ(reader->Next(0ms).status().code(), StatusCode::kOutOfRange) << "the error sticks";
}

TEST_F(WalReaderTest, TruncationFailsReadersPastTheCutAndKeepsTheOthers) {
  auto wal = Open(/*segment_bytes=*/200);
  ASSERT_TRUE(wal->SetEpoch(1).ok());
  AppendSeqs(*wal, 1, 10);
  auto past = wal->NewReader(1);
  for (uint64_t seq = 1; seq <= 10; ++seq) ExpectNext(*past, seq);
  auto behind = wal->NewReader(1);
  for (uint64_t seq = 1; seq <= 5; ++seq) ExpectNext(*behind, seq);
  auto at_cut = wal->NewReader(7);

  auto dropped = wal->TruncateAfter(6);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_EQ(*dropped, 4u);
  // The new active's records refill seqs 7.. and go beyond the old end: a
  // reader that returned the old 7..10 must still be told it diverged.
  ASSERT_TRUE(wal->SetEpoch(2).ok());
  std::vector<LogRecord> fresh;
  for (int i = 0; i < 8; ++i) fresh.push_back(Rec("epoch2-" + std::to_string(7 + i)));
  ASSERT_TRUE(wal->AppendBatch(fresh).ok());

  auto diverged = past->Next(0ms);
  ASSERT_FALSE(diverged.ok());
  EXPECT_EQ(diverged.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(diverged.status().message(),
            "wal: records after seq 6 were dropped, but this reader already returned up to seq 10");

  ExpectNext(*behind, 6);
  for (WalReader* reader : {behind.get(), at_cut.get()}) {
    for (uint64_t seq = 7; seq <= 14; ++seq) {
      auto record = reader->Next(0ms);
      ASSERT_TRUE(record.ok()) << record.status();
      ASSERT_TRUE(record->has_value());
      EXPECT_EQ((*record)->pos, (LogPosition{2, seq}));
      EXPECT_EQ((*record)->payload, "epoch2-" + std::to_string(seq));
    }
    ExpectNothing(*reader);
  }
}

TEST_F(WalReaderTest, ShutdownWakesABlockedReader) {
  auto wal = Open();
  auto reader = wal->NewReader(1);
  auto waiting = std::async(std::launch::async, [&] { return reader->Next(60s); });
  wal->Shutdown();
  ASSERT_EQ(waiting.wait_for(30s), std::future_status::ready);
  auto record = waiting.get();
  EXPECT_EQ(record.status().code(), StatusCode::kCancelled) << record.status();
}

TEST_F(WalReaderTest, ConcurrentReadersSeeEveryRecordInOrder) {
  auto wal = Open(/*segment_bytes=*/4096);
  constexpr uint64_t kRecords = 1500;
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::thread writer([&] {
    std::mt19937 rng(seed);
    for (uint64_t next = 1; next <= kRecords;) {
      const size_t n = std::min<uint64_t>(rng() % 20 + 1, kRecords + 1 - next);
      std::vector<LogRecord> records = RecsFor(next, n);
      ASSERT_TRUE(wal->AppendBatch(records).ok());
      next += n;
    }
  });
  std::vector<std::future<std::string>> readers;
  for (uint64_t from : {1, 1, 700}) {
    readers.push_back(std::async(std::launch::async, [&wal, from]() -> std::string {
      auto reader = wal->NewReader(from);
      for (uint64_t seq = from; seq <= kRecords; ++seq) {
        auto record = reader->Next(30s);
        if (!record.ok()) return record.status().ToString();
        if (!record->has_value()) return "timed out waiting for seq " + std::to_string(seq);
        if ((*record)->pos.seq != seq || (*record)->payload != PayloadFor(seq)) {
          return "wrong record at seq " + std::to_string(seq);
        }
      }
      return "";
    }));
  }
  writer.join();
  for (auto& reader : readers) EXPECT_EQ(reader.get(), "");
}

}  // namespace
}  // namespace baton::gateway

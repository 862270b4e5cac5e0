#include "gateway/log/segment.h"

#include <gtest/gtest.h>

#include "tests/gateway/log/wal_test_util.h"

namespace baton::gateway {
namespace {

using namespace wal_test;

std::string EncodeSeqs(uint64_t first, uint64_t last, size_t payload_bytes = 10) {
  std::string out;
  for (uint64_t seq = first; seq <= last; ++seq) {
    LogRecord record = Rec(std::string(payload_bytes, static_cast<char>('a' + seq % 26)));
    record.pos = {1, seq};
    EncodeRecord(record, &out);
  }
  return out;
}

TEST(SegmentFileName, FormatsAndParsesTwentyDigits) {
  EXPECT_EQ(SegmentFileName(1234), "00000000000000001234.log");
  EXPECT_EQ(SegmentFileName(UINT64_MAX), "18446744073709551615.log");
  EXPECT_EQ(ParseSegmentFileName("00000000000000001234.log"), 1234u);
  EXPECT_EQ(ParseSegmentFileName("18446744073709551615.log"), UINT64_MAX);
  for (const char* bad : {"1234.log", "0000000000000000123x.log", "00000000000000001234.tmp",
                          "00000000000000001234.log.tmp", "99999999999999999999.log", "", ".log"}) {
    EXPECT_FALSE(ParseSegmentFileName(bad).has_value()) << bad;
  }
}

TEST(SegmentReader, ReadsRecordsInOrderAndStopsAtTheLimit) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "seg");
  const std::string bytes = EncodeSeqs(1, 3);
  WriteFile(path, bytes);
  auto file = PosixFileSystem().NewRandomAccessFile(path);
  ASSERT_TRUE(file.ok());
  SegmentReader reader(std::move(file).value(), "seg");

  uint64_t offset = 0;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto entry = reader.ReadAt(offset, bytes.size());
    ASSERT_TRUE(entry.ok()) << entry.status();
    ASSERT_TRUE(entry->has_value());
    EXPECT_EQ((*entry)->record.pos.seq, seq);
    offset += (*entry)->size;
  }
  auto end = reader.ReadAt(offset, bytes.size());
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());

  // A limit inside the second record: it is incomplete as far as the reader
  // may look, whatever the file holds beyond.
  const uint64_t record_size = kHeaderSize + 10;
  auto cut = reader.ReadAt(record_size, record_size + 12);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(cut.status().message(), "wal seg: truncated header: 12 of 28 bytes at offset 38");
}

TEST(SegmentReader, ReadsRecordsLargerThanItsReadAhead) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "big");
  const std::string bytes = EncodeSeqs(1, 4, 700 << 10);
  WriteFile(path, bytes);
  auto file = PosixFileSystem().NewRandomAccessFile(path);
  ASSERT_TRUE(file.ok());
  SegmentReader reader(std::move(file).value(), "big");
  uint64_t offset = 0;
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    auto entry = reader.ReadAt(offset, bytes.size());
    ASSERT_TRUE(entry.ok()) << entry.status();
    ASSERT_TRUE(entry->has_value());
    EXPECT_EQ((*entry)->record.pos.seq, seq);
    EXPECT_EQ((*entry)->record.payload.size(), 700u << 10);
    offset += (*entry)->size;
  }
}

TEST(SegmentReader, SeesAppendsOnceTheLimitGrows) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "grow");
  auto writer = PosixFileSystem().NewWritableFile(path);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(EncodeSeqs(1, 1)).ok());
  auto file = PosixFileSystem().NewRandomAccessFile(path);
  ASSERT_TRUE(file.ok());
  SegmentReader reader(std::move(file).value(), "grow");
  const uint64_t size = kHeaderSize + 10;
  auto first = reader.ReadAt(0, size);
  ASSERT_TRUE(first.ok() && first->has_value());
  auto none = reader.ReadAt(size, size);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE((*writer)->Append(EncodeSeqs(2, 2)).ok());
  auto second = reader.ReadAt(size, 2 * size);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->record.pos.seq, 2u);
}

}  // namespace
}  // namespace baton::gateway

#include "gateway/log/format.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/crc32c.h"

namespace baton::gateway {
namespace {

constexpr RecordType kAllTypes[] = {RecordType::kWrite, RecordType::kCursor, RecordType::kEpochStart,
                                    RecordType::kNoop};

LogRecord MakeRecord(RecordType type, std::string payload, uint64_t epoch = 7, uint64_t seq = 42) {
  LogRecord record;
  record.pos = {epoch, seq};
  record.type = type;
  record.payload = std::move(payload);
  return record;
}

std::string Encode(const LogRecord& record) {
  std::string out;
  EncodeRecord(record, &out);
  return out;
}

// Rewrites the crc so that a deliberately changed header field is what the
// decoder trips over, not the crc.
void Reseal(std::string* encoded) {
  uint32_t crc = Crc32cMask(Crc32c(encoded->data() + kCrcCoveredOffset, encoded->size() - kCrcCoveredOffset));
  for (int i = 0; i < 4; ++i) (*encoded)[kCrcOffset + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

Status DecodeError(std::string_view bytes) {
  size_t consumed = 0;
  Result<LogRecord> r = DecodeRecord(bytes, &consumed);
  return r.ok() ? Status::Ok() : r.status();
}

TEST(LogFormat, RoundTripsEveryTypeWithEmptySmallAndBinaryPayloads) {
  const std::string payloads[] = {"", "x", std::string("a\0b\xff\x00z", 6), std::string(1000, '\x80')};
  for (RecordType type : kAllTypes) {
    for (const std::string& payload : payloads) {
      LogRecord record = MakeRecord(type, payload, 0xfedcba9876543210ull, 0x0123456789abcdefull);
      std::string encoded = Encode(record);
      ASSERT_EQ(encoded.size(), EncodedSize(record));
      encoded += "trailing bytes are not part of the record";
      size_t consumed = 0;
      Result<LogRecord> decoded = DecodeRecord(encoded, &consumed);
      ASSERT_TRUE(decoded.ok()) << RecordTypeName(type) << ": " << decoded.status();
      EXPECT_EQ(*decoded, record);
      EXPECT_EQ(consumed, kHeaderSize + payload.size());
    }
  }
}

TEST(LogFormat, RoundTripsMaxPayloadAndRejectsOneMore) {
  LogRecord record = MakeRecord(RecordType::kWrite, std::string(kMaxPayloadSize, 'm'));
  EXPECT_TRUE(ValidateForAppend(record).ok());
  std::string encoded = Encode(record);
  size_t consumed = 0;
  Result<LogRecord> decoded = DecodeRecord(encoded, &consumed);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->payload.size(), kMaxPayloadSize);

  record.payload.push_back('!');
  Status s = ValidateForAppend(record);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("exceeds max 16777216"), std::string::npos) << s;
  EXPECT_EQ(ValidateForAppend(MakeRecord(static_cast<RecordType>(0), "")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateForAppend(MakeRecord(static_cast<RecordType>(9), "")).code(), StatusCode::kInvalidArgument);
}

TEST(LogFormat, HeaderIsExplicitLittleEndian) {
  std::string encoded = Encode(MakeRecord(RecordType::kCursor, "abc", 0x0102030405060708ull, 0x1112131415161718ull));
  ASSERT_EQ(encoded.size(), kHeaderSize + 3);
  EXPECT_EQ(encoded.substr(0, 4), std::string("\x03\x00\x00\x00", 4));
  EXPECT_EQ(encoded[kTypeOffset], '\x02');
  EXPECT_EQ(encoded[kVersionOffset], static_cast<char>(kFormatVersion));
  EXPECT_EQ(encoded.substr(kReservedOffset, 2), std::string("\0\0", 2));
  EXPECT_EQ(encoded.substr(kEpochOffset, 8), "\x08\x07\x06\x05\x04\x03\x02\x01");
  EXPECT_EQ(encoded.substr(kSeqOffset, 8), "\x18\x17\x16\x15\x14\x13\x12\x11");
  EXPECT_EQ(encoded.substr(kHeaderSize), "abc");
  uint32_t crc = Crc32c(encoded.data() + kCrcCoveredOffset, encoded.size() - kCrcCoveredOffset);
  EXPECT_EQ(Crc32cUnmask(DecodeFixed32(encoded.data() + kCrcOffset)), crc);
}

TEST(LogFormat, DecodeNamesTheReason) {
  const std::string good = Encode(MakeRecord(RecordType::kWrite, "0123456789"));

  EXPECT_EQ(DecodeError(good.substr(0, 5)).message(), "truncated header: 5 of 28 bytes");
  EXPECT_EQ(DecodeError("").message(), "truncated header: 0 of 28 bytes");
  EXPECT_EQ(DecodeError(good.substr(0, kHeaderSize + 4)).message(), "truncated payload: 4 of 10 bytes");

  std::string huge = good;
  huge.replace(0, 4, "\xff\xff\xff\xff");
  EXPECT_EQ(DecodeError(huge).message(), "length 4294967295 exceeds max 16777216");

  std::string flipped = good;
  flipped[kHeaderSize + 3] ^= 0x10;
  Status bad_crc = DecodeError(flipped);
  EXPECT_EQ(bad_crc.code(), StatusCode::kDataLoss);
  EXPECT_EQ(bad_crc.message().rfind("bad crc: stored 0x", 0), 0u) << bad_crc;

  std::string version = good;
  version[kVersionOffset] = 7;
  Reseal(&version);
  EXPECT_EQ(DecodeError(version).message(), "unsupported format version 7");

  std::string reserved = good;
  reserved[kReservedOffset] = 1;
  Reseal(&reserved);
  EXPECT_EQ(DecodeError(reserved).message(), "reserved field 0x0001 is not zero");

  for (uint8_t type : {0, 5, 255}) {
    std::string unknown = good;
    unknown[kTypeOffset] = static_cast<char>(type);
    Reseal(&unknown);
    EXPECT_EQ(DecodeError(unknown).message(), "unknown record type " + std::to_string(type));
  }
  for (const std::string& bytes : {good.substr(0, 5), huge, flipped, version, reserved}) {
    EXPECT_EQ(DecodeError(bytes).code(), StatusCode::kDataLoss);
  }
}

TEST(LogFormat, ZeroedBytesNeverDecode) {
  EXPECT_EQ(DecodeError(std::string(kHeaderSize, '\0')).message().rfind("bad crc", 0), 0u);
  EXPECT_FALSE(DecodeError(std::string(4096, '\0')).ok());
}

TEST(LogFormat, EveryPrefixAndEveryBitFlipOfARecordIsRejected) {
  const std::string good = Encode(MakeRecord(RecordType::kEpochStart, "some payload bytes"));
  for (size_t n = 0; n < good.size(); ++n) {
    ASSERT_FALSE(DecodeError(good.substr(0, n)).ok()) << "prefix of " << n << " bytes";
  }
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::string bad = good;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    Status s = DecodeError(bad);
    ASSERT_FALSE(s.ok()) << "bit " << bit;
    ASSERT_EQ(s.code(), StatusCode::kDataLoss);
    ASSERT_FALSE(s.message().empty());
  }
}

TEST(LogFormat, RandomGarbageNeverCrashesAndAlwaysSaysWhy) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 96, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    // Half the time make the length field small, so the crc path runs too.
    if (bytes.size() >= 4 && (i % 2) == 0) bytes[0] = static_cast<char>(rng() % 64), bytes[1] = bytes[2] = bytes[3] = 0;
    Status s = DecodeError(bytes);
    ASSERT_FALSE(s.ok());
    ASSERT_EQ(s.code(), StatusCode::kDataLoss);
    ASSERT_FALSE(s.message().empty());
  }
}

TEST(LogFormat, PeekRecordSize) {
  const std::string good = Encode(MakeRecord(RecordType::kNoop, "12345"));
  Result<size_t> size = PeekRecordSize(good);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, kHeaderSize + 5);
  EXPECT_FALSE(PeekRecordSize(good.substr(0, kHeaderSize - 1)).ok());
}

TEST(LogFormat, HeaderLooksPlausible) {
  const std::string good = Encode(MakeRecord(RecordType::kWrite, "p", 1, 10));
  EXPECT_TRUE(HeaderLooksPlausible(good, 5, 20));
  EXPECT_FALSE(HeaderLooksPlausible(good, 11, 20)) << "seq below the range";
  EXPECT_FALSE(HeaderLooksPlausible(good, 1, 9)) << "seq above the range";
  EXPECT_FALSE(HeaderLooksPlausible(std::string(kHeaderSize, '\0'), 0, UINT64_MAX));
  EXPECT_FALSE(HeaderLooksPlausible(good.substr(0, 10), 0, UINT64_MAX));
}

TEST(LogPosition, OrdersBySeqThenEpochAndPrints) {
  EXPECT_LT((LogPosition{9, 1}), (LogPosition{1, 2}));
  EXPECT_LT((LogPosition{1, 5}), (LogPosition{2, 5}));
  EXPECT_EQ((LogPosition{3, 4}), (LogPosition{3, 4}));
  EXPECT_EQ((LogPosition{3, 1042}).ToString(), "(3,1042)");
  EXPECT_EQ(RecordTypeName(RecordType::kEpochStart), "epoch_start");
  EXPECT_EQ(RecordTypeName(static_cast<RecordType>(9)), "type(9)");
}

}  // namespace
}  // namespace baton::gateway

#include "gateway/log/format.h"

#include <cstdio>

#include "common/crc32c.h"

namespace baton::gateway {
namespace {

std::string Hex(uint32_t v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%0*x", width, v);
  return buf;
}

bool KnownType(uint8_t type) { return type >= kMinRecordType && type <= kMaxRecordType; }

}  // namespace

void PutFixed16(std::string* dst, uint16_t v) {
  char buf[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  dst->append(buf, 2);
}

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(buf, 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(buf, 8);
}

uint16_t DecodeFixed16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}

uint32_t DecodeFixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

uint64_t DecodeFixed64(const char* p) {
  return uint64_t{DecodeFixed32(p)} | (uint64_t{DecodeFixed32(p + 4)} << 32);
}

std::string RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kWrite:
      return "write";
    case RecordType::kCursor:
      return "cursor";
    case RecordType::kEpochStart:
      return "epoch_start";
    case RecordType::kNoop:
      return "noop";
  }
  return "type(" + std::to_string(static_cast<int>(type)) + ")";
}

std::string LogPosition::ToString() const {
  return "(" + std::to_string(epoch) + "," + std::to_string(seq) + ")";
}

Status ValidateForAppend(const LogRecord& record) {
  if (!KnownType(static_cast<uint8_t>(record.type))) {
    return Status::InvalidArgument("wal record " + record.pos.ToString() + ": unknown record type " +
                                   std::to_string(static_cast<int>(record.type)));
  }
  if (record.payload.size() > kMaxPayloadSize) {
    return Status::InvalidArgument("wal record " + record.pos.ToString() + ": payload of " +
                                   std::to_string(record.payload.size()) + " bytes exceeds max " +
                                   std::to_string(kMaxPayloadSize));
  }
  return Status::Ok();
}

void EncodeRecord(const LogRecord& record, std::string* dst) {
  const size_t start = dst->size();
  dst->reserve(start + EncodedSize(record));
  PutFixed32(dst, static_cast<uint32_t>(record.payload.size()));
  PutFixed32(dst, 0);  // crc, filled in below once the covered bytes exist
  dst->push_back(static_cast<char>(record.type));
  dst->push_back(static_cast<char>(kFormatVersion));
  PutFixed16(dst, 0);
  PutFixed64(dst, record.pos.epoch);
  PutFixed64(dst, record.pos.seq);
  dst->append(record.payload);
  const char* covered = dst->data() + start + kCrcCoveredOffset;
  uint32_t crc = Crc32c(covered, dst->size() - start - kCrcCoveredOffset);
  uint32_t masked = Crc32cMask(crc);
  for (int i = 0; i < 4; ++i) (*dst)[start + kCrcOffset + i] = static_cast<char>((masked >> (8 * i)) & 0xff);
}

Result<size_t> PeekRecordSize(std::string_view src) {
  if (src.size() < kHeaderSize) {
    return Status::DataLoss("truncated header: " + std::to_string(src.size()) + " of " +
                            std::to_string(kHeaderSize) + " bytes");
  }
  uint32_t length = DecodeFixed32(src.data() + kLengthOffset);
  if (length > kMaxPayloadSize) {
    return Status::DataLoss("length " + std::to_string(length) + " exceeds max " + std::to_string(kMaxPayloadSize));
  }
  return kHeaderSize + size_t{length};
}

Result<LogRecord> DecodeRecord(std::string_view src, size_t* consumed) {
  BATON_ASSIGN_OR_RETURN(size_t size, PeekRecordSize(src));
  if (src.size() < size) {
    return Status::DataLoss("truncated payload: " + std::to_string(src.size() - kHeaderSize) + " of " +
                            std::to_string(size - kHeaderSize) + " bytes");
  }
  // The crc first: on a damaged record every other field is noise, and "bad
  // crc" is the reason an operator can act on.
  uint32_t stored = Crc32cUnmask(DecodeFixed32(src.data() + kCrcOffset));
  uint32_t computed = Crc32c(src.data() + kCrcCoveredOffset, size - kCrcCoveredOffset);
  if (stored != computed) return Status::DataLoss("bad crc: stored " + Hex(stored, 8) + ", computed " + Hex(computed, 8));
  uint8_t version = static_cast<uint8_t>(src[kVersionOffset]);
  if (version != kFormatVersion) return Status::DataLoss("unsupported format version " + std::to_string(version));
  uint16_t reserved = DecodeFixed16(src.data() + kReservedOffset);
  if (reserved != 0) return Status::DataLoss("reserved field " + Hex(reserved, 4) + " is not zero");
  uint8_t type = static_cast<uint8_t>(src[kTypeOffset]);
  if (!KnownType(type)) return Status::DataLoss("unknown record type " + std::to_string(type));

  LogRecord record;
  record.type = static_cast<RecordType>(type);
  record.pos.epoch = DecodeFixed64(src.data() + kEpochOffset);
  record.pos.seq = DecodeFixed64(src.data() + kSeqOffset);
  record.payload.assign(src.data() + kHeaderSize, size - kHeaderSize);
  *consumed = size;
  return record;
}

bool HeaderLooksPlausible(std::string_view src, uint64_t min_seq, uint64_t max_seq) {
  if (src.size() < kHeaderSize) return false;
  if (DecodeFixed32(src.data() + kLengthOffset) > kMaxPayloadSize) return false;
  if (static_cast<uint8_t>(src[kVersionOffset]) != kFormatVersion) return false;
  if (DecodeFixed16(src.data() + kReservedOffset) != 0) return false;
  if (!KnownType(static_cast<uint8_t>(src[kTypeOffset]))) return false;
  uint64_t seq = DecodeFixed64(src.data() + kSeqOffset);
  return seq >= min_seq && seq <= max_seq;
}

}  // namespace baton::gateway

// The WAL record format: every constant in one place, and the pure
// encode/decode functions that replication (which ships encoded records) and
// the recovery scan share. docs/formats/wal.md describes the same bytes in
// prose; change both together, and bump kFormatVersion.
//
// Record layout, all integers little-endian:
//   offset  size  field
//        0     4  payload length (bytes after the 28-byte header)
//        4     4  masked crc32c of bytes [8, 28 + length)
//        8     1  type (RecordType)
//        9     1  format version (kFormatVersion)
//       10     2  reserved, zero
//       12     8  epoch
//       20     8  seq
//       28     n  payload (opaque to the log)
//
// Thread-safe: pure functions and value types.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace baton::gateway {

inline constexpr size_t kHeaderSize = 28;
inline constexpr size_t kLengthOffset = 0;
inline constexpr size_t kCrcOffset = 4;
inline constexpr size_t kCrcCoveredOffset = 8;  // the crc covers everything from here on
inline constexpr size_t kTypeOffset = 8;
inline constexpr size_t kVersionOffset = 9;
inline constexpr size_t kReservedOffset = 10;
inline constexpr size_t kEpochOffset = 12;
inline constexpr size_t kSeqOffset = 20;

inline constexpr uint8_t kFormatVersion = 1;
// A longer length field is corruption, not a big record: it bounds how much a
// reader allocates on the word of an unverified header.
inline constexpr uint32_t kMaxPayloadSize = 16u << 20;  // 16 MiB
inline constexpr uint64_t kDefaultSegmentBytes = 64u << 20;

enum class RecordType : uint8_t {
  // 0 is never written: a zeroed block (preallocated or torn) decodes as bad.
  kWrite = 1,       // an object mutation; payload owned by the gateway store
  kCursor = 2,      // a mirror peer's cursor, so standbys carry it
  kEpochStart = 3,  // first record written in a new epoch (after promotion)
  kNoop = 4,        // carries only a position
};
inline constexpr uint8_t kMinRecordType = 1;
inline constexpr uint8_t kMaxRecordType = 4;

// "write", "cursor", "epoch_start", "noop", or "type(N)".
std::string RecordTypeName(RecordType type);

// Where a record sits in the one log that drives the cluster. seq counts
// records from 1 without gaps; epoch is the term of the active that wrote
// the record and never decreases along the log. Ordered by seq, then epoch.
struct LogPosition {
  uint64_t epoch = 0;
  uint64_t seq = 0;

  std::strong_ordering operator<=>(const LogPosition& other) const {
    if (auto c = seq <=> other.seq; c != 0) return c;
    return epoch <=> other.epoch;
  }
  bool operator==(const LogPosition& other) const = default;
  std::string ToString() const;  // "(epoch,seq)", e.g. "(3,1042)"
};

struct LogRecord {
  LogPosition pos;
  RecordType type = RecordType::kWrite;
  std::string payload;

  bool operator==(const LogRecord& other) const = default;
};

// Bytes `record` takes on disk and on the wire.
inline size_t EncodedSize(const LogRecord& record) { return kHeaderSize + record.payload.size(); }

// Appends the encoding of `record` to *dst. The caller has checked that the
// payload is at most kMaxPayloadSize (see ValidateForAppend).
void EncodeRecord(const LogRecord& record, std::string* dst);

// INVALID_ARGUMENT if `record` cannot be written: unknown type or payload
// over kMaxPayloadSize.
Status ValidateForAppend(const LogRecord& record);

// Reads the length field of the header at the front of `src` and returns the
// total record size (header + payload). DATA_LOSS "truncated header" if `src`
// is shorter than a header, "length N exceeds max M" if the length is absurd.
// Nothing else is verified: the crc is checked by DecodeRecord.
Result<size_t> PeekRecordSize(std::string_view src);

// Decodes the record at the front of `src` (trailing bytes are ignored) and
// sets *consumed to its encoded size. Never crashes or over-reads on any
// input; failures are DATA_LOSS with the reason:
//   "truncated header: 5 of 28 bytes", "length 4294967295 exceeds max 16777216",
//   "truncated payload: 10 of 100 bytes", "bad crc: stored 0x.., computed 0x..",
//   "unsupported format version 7", "reserved field 0x0001 is not zero",
//   "unknown record type 9".
Result<LogRecord> DecodeRecord(std::string_view src, size_t* consumed);

// True if the header at the front of `src` could start a record at `seq` or
// later (version, reserved and type fields sane, seq in [min_seq, max_seq]).
// A cheap pre-check for the recovery scan, which hunts for valid records
// after a bad one; the crc is not checked here.
bool HeaderLooksPlausible(std::string_view src, uint64_t min_seq, uint64_t max_seq);

// Little-endian fixed-width helpers, shared with the segment code.
void PutFixed16(std::string* dst, uint16_t v);
void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
uint16_t DecodeFixed16(const char* p);
uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);

}  // namespace baton::gateway

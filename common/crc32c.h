// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of WAL
// records and snapshot chunks. Same function as iSCSI, ext4 metadata, LevelDB
// and RocksDB, so test vectors from RFC 3720 apply.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run
// time) and a table-driven slicing-by-8 loop otherwise; both give identical
// results. Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace baton {

// CRC32C of data[0, n). Crc32c("123456789", 9) == 0xE3069283.
uint32_t Crc32c(const void* data, size_t n);

// CRC32C of A concatenated with data[0, n), where `crc` is Crc32c(A):
// Crc32cExtend(Crc32c(a, na), b, nb) == Crc32c(a || b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// A CRC stored next to the data it covers is masked (LevelDB's trick): a CRC
// of a string that itself contains embedded CRCs is otherwise degenerate.
inline uint32_t Crc32cMask(uint32_t crc) {
  constexpr uint32_t kMaskDelta = 0xa282ead8u;
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline uint32_t Crc32cUnmask(uint32_t masked) {
  constexpr uint32_t kMaskDelta = 0xa282ead8u;
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

namespace crc32c_internal {
// The two implementations, exposed so that tests can compare them.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
// Falls back to ExtendPortable when the CPU lacks SSE4.2.
uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n);
bool HardwareAvailable();
}  // namespace crc32c_internal

}  // namespace baton

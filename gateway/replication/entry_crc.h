// CRC32C of a replicated log entry (type byte, then payload): the standby
// checks it before the entry reaches its log.
#pragma once

#include <cstdint>
#include <string>

#include "common/crc32c.h"

namespace baton::gateway {

inline uint32_t ReplicationEntryCrc(uint32_t type, const std::string& payload) {
  const uint8_t t = static_cast<uint8_t>(type);
  return Crc32cExtend(Crc32c(&t, 1), payload.data(), payload.size());
}

}  // namespace baton::gateway

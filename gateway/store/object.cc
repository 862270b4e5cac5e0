#include "gateway/store/object.h"

namespace baton::gateway {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

uint64_t FnvU64(uint64_t h, uint64_t v) {
  // Little-endian byte order whatever the host, so digests compare across hosts.
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  return Fnv(h, b, sizeof(b));
}

}  // namespace

uint64_t ObjectHash(std::string_view id, int64_t timestamp, std::span<const float> vector,
                    std::string_view metadata) {
  uint64_t h = kFnvOffset;
  h = FnvU64(h, id.size());
  h = Fnv(h, id.data(), id.size());
  h = FnvU64(h, static_cast<uint64_t>(timestamp));
  h = FnvU64(h, vector.size());
  h = Fnv(h, vector.data(), vector.size_bytes());
  h = FnvU64(h, metadata.size());
  h = Fnv(h, metadata.data(), metadata.size());
  return h;
}

}  // namespace baton::gateway

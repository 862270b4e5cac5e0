// The value types of the store: an object, its version and its hash.
// Thread-compatible value types; the free functions are pure.
#pragma once

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace baton::gateway {

// The last-writer-wins order of writes to one id (PRODUCT.md section 6):
// by timestamp, then by origin cluster id (byte-wise), so that two clusters
// that picked the same timestamp still agree on one winner.
struct Version {
  int64_t timestamp = 0;
  std::string origin_cluster;

  friend std::strong_ordering operator<=>(const Version& a, const Version& b) {
    if (a.timestamp != b.timestamp) return a.timestamp <=> b.timestamp;
    int c = a.origin_cluster.compare(b.origin_cluster);
    return c < 0 ? std::strong_ordering::less
                 : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
  friend bool operator==(const Version& a, const Version& b) = default;
};

// One live object as the store returns it.
struct Object {
  std::string id;
  std::vector<float> vector;
  int64_t timestamp = 0;
  std::string metadata;
  std::string origin_cluster;
};

// 64-bit FNV-1a over the id, timestamp, vector bytes and metadata, each
// length-prefixed so that no two different objects share an encoding. The
// store's digest is the sum (mod 2^64) of this over its live objects, which
// makes it independent of the order writes were applied in.
uint64_t ObjectHash(std::string_view id, int64_t timestamp, std::span<const float> vector,
                    std::string_view metadata);

}  // namespace baton::gateway

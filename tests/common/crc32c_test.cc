#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace baton {
namespace {

uint32_t Crc(const std::string& s) { return Crc32c(s.data(), s.size()); }

TEST(Crc32c, CheckValue) { EXPECT_EQ(Crc("123456789"), 0xE3069283u); }

TEST(Crc32c, EmptyIsZero) { EXPECT_EQ(Crc32c(nullptr, 0), 0u); }

// RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(Crc(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc(descending), 0x113FDB5Cu);
  const uint8_t read_pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
      0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Crc32c(read_pdu, sizeof(read_pdu)), 0xD9963A56u);
}

TEST(Crc32c, ExtendEqualsWholeAtEverySplit) {
  std::string data = "The quick brown fox jumps over the lazy dog, twice over: the quick brown fox.";
  const uint32_t whole = Crc(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t crc = Crc32c(data.data(), split);
    crc = Crc32cExtend(crc, data.data() + split, data.size() - split);
    EXPECT_EQ(crc, whole) << "split at " << split;
  }
}

TEST(Crc32c, PortableAndHardwareAgreeOnEveryLengthAndAlignment) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::vector<uint8_t> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t align = 0; align < 8; ++align) {
    for (size_t len : {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1000, 4096}) {
      const uint8_t* p = buf.data() + align;
      ASSERT_EQ(crc32c_internal::ExtendPortable(0, p, len), crc32c_internal::ExtendHardware(0, p, len))
          << "seed " << seed << " align " << align << " len " << len;
      ASSERT_EQ(crc32c_internal::ExtendPortable(0x12345678u, p, len),
                crc32c_internal::ExtendHardware(0x12345678u, p, len))
          << "seed " << seed << " align " << align << " len " << len;
    }
  }
  SUCCEED() << "hardware crc32c available: " << crc32c_internal::HardwareAvailable();
}

TEST(Crc32c, PortableMatchesKnownAnswer) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32c_internal::ExtendPortable(0, s.data(), s.size()), 0xE3069283u);
}

TEST(Crc32c, MaskRoundTripsAndChangesValue) {
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xffffffffu, 0x80000000u}) {
    EXPECT_EQ(Crc32cUnmask(Crc32cMask(crc)), crc);
    EXPECT_NE(Crc32cMask(crc), crc);
    EXPECT_NE(Crc32cMask(Crc32cMask(crc)), crc);
  }
}

TEST(Crc32c, DetectsSingleBitFlips) {
  std::string data(100, 'x');
  const uint32_t clean = Crc(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    std::string flipped = data;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_NE(Crc(flipped), clean) << "bit " << bit;
  }
}

}  // namespace
}  // namespace baton

#include "common/backoff.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsToMaxWithoutJitter) {
  Backoff b({.initial = milliseconds(100), .max = milliseconds(1000), .multiplier = 2.0, .jitter = 0.0}, 1);
  EXPECT_EQ(b.Next(), milliseconds(100));
  EXPECT_EQ(b.Next(), milliseconds(200));
  EXPECT_EQ(b.Next(), milliseconds(400));
  EXPECT_EQ(b.Next(), milliseconds(800));
  EXPECT_EQ(b.Next(), milliseconds(1000));
  EXPECT_EQ(b.Next(), milliseconds(1000));
  EXPECT_EQ(b.attempts(), 6);
  b.Reset();
  EXPECT_EQ(b.Next(), milliseconds(100));
}

TEST(Backoff, JitterStaysWithinBoundsAndVaries) {
  Backoff b({.initial = milliseconds(1000), .max = milliseconds(1000), .multiplier = 2.0, .jitter = 0.5}, 42);
  Duration lowest = milliseconds(1000), highest = milliseconds(0);
  for (int i = 0; i < 200; ++i) {
    Duration d = b.Next();
    ASSERT_GE(d, milliseconds(500));
    ASSERT_LE(d, milliseconds(1000));
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  EXPECT_LT(lowest, milliseconds(600));
  EXPECT_GT(highest, milliseconds(900));
}

TEST(Backoff, SameSeedSameSequence) {
  Backoff a({}, 7), b({}, 7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next(), b.Next());
}

}  // namespace
}  // namespace baton

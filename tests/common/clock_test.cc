#include "common/clock.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace baton {
namespace {

using std::chrono::milliseconds;

TEST(ManualClock, OnlyMovesWhenAdvanced) {
  ManualClock clock;
  MonoTime t0 = clock.Now();
  WallTime w0 = clock.WallNow();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(milliseconds(1500));
  EXPECT_EQ(clock.Now() - t0, milliseconds(1500));
  EXPECT_EQ(clock.WallNow() - w0, milliseconds(1500));
}

TEST(ManualClock, FiresDueTimersInDeadlineOrderAtTheirDeadline) {
  ManualClock clock;
  MonoTime t0 = clock.Now();
  std::vector<std::pair<int, Duration>> fired;
  clock.ScheduleAfter(milliseconds(30), [&] { fired.emplace_back(3, clock.Now() - t0); });
  clock.ScheduleAfter(milliseconds(10), [&] { fired.emplace_back(1, clock.Now() - t0); });
  clock.ScheduleAfter(milliseconds(20), [&] { fired.emplace_back(2, clock.Now() - t0); });
  clock.Advance(milliseconds(19));
  ASSERT_EQ(fired.size(), 1u);
  clock.Advance(milliseconds(100));
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], std::make_pair(1, Duration(milliseconds(10))));
  EXPECT_EQ(fired[1], std::make_pair(2, Duration(milliseconds(20))));
  EXPECT_EQ(fired[2], std::make_pair(3, Duration(milliseconds(30))));
  EXPECT_EQ(clock.Now() - t0, milliseconds(119));
}

TEST(ManualClock, TimerScheduledFromCallbackFiresInSameAdvance) {
  ManualClock clock;
  int count = 0;
  std::function<void()> tick = [&] {
    if (++count < 5) clock.ScheduleAfter(milliseconds(100), tick);
  };
  clock.ScheduleAfter(milliseconds(100), tick);
  clock.Advance(milliseconds(1000));
  EXPECT_EQ(count, 5);
}

TEST(ManualClock, CancelledTimerNeverFires) {
  ManualClock clock;
  bool fired = false;
  TimerId id = clock.ScheduleAfter(milliseconds(5), [&] { fired = true; });
  EXPECT_TRUE(clock.Cancel(id));
  EXPECT_FALSE(clock.Cancel(id));
  clock.Advance(milliseconds(10));
  EXPECT_FALSE(fired);
  EXPECT_EQ(clock.pending_timers(), 0u);
}

TEST(ManualClock, SleepUntilWakesOnlyWhenTimePasses) {
  ManualClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(milliseconds(2000));
    woke = true;
  });
  ASSERT_TRUE(clock.WaitForSleepers(1, milliseconds(5000)));
  clock.Advance(milliseconds(1999));
  EXPECT_FALSE(woke.load());
  clock.Advance(milliseconds(1));
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(RealClock, TimerFiresAfterDeadline) {
  Clock& clock = RealClock();
  std::atomic<bool> fired{false};
  MonoTime start = clock.Now();
  std::atomic<int64_t> elapsed_ms{0};
  clock.ScheduleAfter(milliseconds(20), [&] {
    elapsed_ms = std::chrono::duration_cast<milliseconds>(clock.Now() - start).count();
    fired = true;
  });
  for (int i = 0; i < 500 && !fired; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(fired.load());
  EXPECT_GE(elapsed_ms.load(), 20);
}

TEST(RealClock, CancelBeforeDeadline) {
  Clock& clock = RealClock();
  std::atomic<bool> fired{false};
  TimerId id = clock.ScheduleAfter(std::chrono::seconds(30), [&] { fired = true; });
  EXPECT_TRUE(clock.Cancel(id));
  EXPECT_FALSE(fired.load());
}

}  // namespace
}  // namespace baton

// Time as a dependency. Every deadline, timeout, lease and backoff in Baton
// reads time and schedules wake-ups through a Clock, so unit tests drive it
// with ManualClock::Advance() instead of sleeping (Envoy's TimeSource model).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "common/mutex.h"

namespace baton {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;
using TimerId = uint64_t;

inline int64_t ToNanos(WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Thread-safe. Timer callbacks run on one timer thread (real clock) or inside
// ManualClock::Advance(); they must not block and must not call Advance().
class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic time: for intervals, leases and deadlines.
  virtual MonoTime Now() const = 0;
  // Wall time: for display and last-writer-wins timestamps only.
  virtual WallTime WallNow() const = 0;

  // Runs `fn` once, at or after `deadline`. The returned id is never 0.
  virtual TimerId ScheduleAt(MonoTime deadline, std::function<void()> fn) = 0;
  TimerId ScheduleAfter(Duration delay, std::function<void()> fn) {
    return ScheduleAt(Now() + delay, std::move(fn));
  }
  // True if the timer had not run yet and now never will. A callback that is
  // running concurrently is not waited for.
  virtual bool Cancel(TimerId id) = 0;

  // Blocks the calling thread until Now() >= deadline.
  virtual void SleepUntil(MonoTime deadline) = 0;
  void SleepFor(Duration d) { SleepUntil(Now() + d); }
};

// The process-wide real clock (steady + system). Its timer thread starts on
// first use and lives until exit.
Clock& RealClock();

// A clock that moves only when a test calls Advance(). Due timers fire inside
// Advance() in deadline order, with Now() set to each timer's deadline while it
// runs; threads blocked in SleepUntil() wake when time passes their deadline.
class ManualClock : public Clock {
 public:
  explicit ManualClock(WallTime wall_start = WallTime(std::chrono::seconds(1'700'000'000)));

  MonoTime Now() const override;
  WallTime WallNow() const override;
  TimerId ScheduleAt(MonoTime deadline, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;
  void SleepUntil(MonoTime deadline) override;

  void Advance(Duration d);
  // Number of timers not yet fired or cancelled.
  size_t pending_timers() const;
  // Blocks (real time, bounded by `timeout`) until `n` threads sit in
  // SleepUntil(); lets a test advance only once a worker is parked.
  bool WaitForSleepers(size_t n, std::chrono::milliseconds timeout);

 private:
  mutable Mutex mu_;
  CondVar cv_{&mu_};
  MonoTime now_ GUARDED_BY(mu_);
  WallTime wall_ GUARDED_BY(mu_);
  TimerId next_id_ GUARDED_BY(mu_) = 1;
  std::multimap<MonoTime, std::pair<TimerId, std::function<void()>>> timers_ GUARDED_BY(mu_);
  size_t sleepers_ GUARDED_BY(mu_) = 0;
};

}  // namespace baton

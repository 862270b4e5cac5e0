#include "common/clock.h"

#include <exception>

#include <spdlog/spdlog.h>

namespace baton {
namespace {

// Runs every timer callback on one background thread.
class SteadyClock : public Clock {
 public:
  SteadyClock() : thread_([this] { Run(); }) {}
  ~SteadyClock() override {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
    }
    cv_.SignalAll();
    thread_.join();
  }

  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }

  TimerId ScheduleAt(MonoTime deadline, std::function<void()> fn) override {
    TimerId id;
    {
      MutexLock lock(&mu_);
      id = next_id_++;
      timers_.emplace(deadline, std::make_pair(id, std::move(fn)));
    }
    cv_.SignalAll();
    return id;
  }

  bool Cancel(TimerId id) override {
    MutexLock lock(&mu_);
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->second.first == id) {
        timers_.erase(it);
        return true;
      }
    }
    return false;
  }

  void SleepUntil(MonoTime deadline) override { std::this_thread::sleep_until(deadline); }

 private:
  void Run() {
    MutexLock lock(&mu_);
    while (!stopping_) {
      if (timers_.empty()) {
        cv_.Wait();
        continue;
      }
      auto it = timers_.begin();
      MonoTime now = Now();
      if (it->first > now) {
        cv_.WaitFor(it->first - now);
        continue;
      }
      auto fn = std::move(it->second.second);
      timers_.erase(it);
      mu_.Unlock();
      try {
        fn();
      } catch (const std::exception& e) {
        spdlog::error("timer callback threw: {}", e.what());
      } catch (...) {
        spdlog::error("timer callback threw a non-standard exception");
      }
      mu_.Lock();
    }
  }

  Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  TimerId next_id_ GUARDED_BY(mu_) = 1;
  std::multimap<MonoTime, std::pair<TimerId, std::function<void()>>> timers_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace

Clock& RealClock() {
  // Leaked on purpose: timers may be scheduled from static destructors.
  static SteadyClock* clock = new SteadyClock();
  return *clock;
}

ManualClock::ManualClock(WallTime wall_start) : now_(MonoTime(std::chrono::hours(1))), wall_(wall_start) {}

MonoTime ManualClock::Now() const {
  MutexLock lock(&mu_);
  return now_;
}

WallTime ManualClock::WallNow() const {
  MutexLock lock(&mu_);
  return wall_;
}

TimerId ManualClock::ScheduleAt(MonoTime deadline, std::function<void()> fn) {
  MutexLock lock(&mu_);
  TimerId id = next_id_++;
  timers_.emplace(deadline, std::make_pair(id, std::move(fn)));
  return id;
}

bool ManualClock::Cancel(TimerId id) {
  MutexLock lock(&mu_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == id) {
      timers_.erase(it);
      return true;
    }
  }
  return false;
}

void ManualClock::SleepUntil(MonoTime deadline) {
  MutexLock lock(&mu_);
  ++sleepers_;
  cv_.SignalAll();
  while (now_ < deadline) cv_.Wait();
  --sleepers_;
}

void ManualClock::Advance(Duration d) {
  mu_.Lock();
  const MonoTime target = now_ + d;
  while (!timers_.empty() && timers_.begin()->first <= target) {
    auto it = timers_.begin();
    if (it->first > now_) {
      wall_ += it->first - now_;
      now_ = it->first;
    }
    auto fn = std::move(it->second.second);
    timers_.erase(it);
    cv_.SignalAll();
    mu_.Unlock();
    fn();
    mu_.Lock();
  }
  wall_ += target - now_;
  now_ = target;
  mu_.Unlock();
  cv_.SignalAll();
}

size_t ManualClock::pending_timers() const {
  MutexLock lock(&mu_);
  return timers_.size();
}

bool ManualClock::WaitForSleepers(size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (sleepers_ < n) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    cv_.WaitFor(deadline - now);
  }
  return true;
}

}  // namespace baton

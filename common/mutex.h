// An annotated mutex so that clang's -Wthread-safety can check which members
// a lock guards (LevelDB's port/port_stdcxx.h, in our spelling). Under GCC the
// annotations compile away.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

// Abseil (pulled in by gRPC) defines some of the same macros with the same
// meaning; whichever header comes first wins.
#if defined(__clang__)
#define BATON_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BATON_THREAD_ANNOTATION(x)
#endif

#ifndef CAPABILITY
#define CAPABILITY(x) BATON_THREAD_ANNOTATION(capability(x))
#endif
#ifndef SCOPED_CAPABILITY
#define SCOPED_CAPABILITY BATON_THREAD_ANNOTATION(scoped_lockable)
#endif
#ifndef GUARDED_BY
#define GUARDED_BY(x) BATON_THREAD_ANNOTATION(guarded_by(x))
#endif
#ifndef PT_GUARDED_BY
#define PT_GUARDED_BY(x) BATON_THREAD_ANNOTATION(pt_guarded_by(x))
#endif
#ifndef REQUIRES
#define REQUIRES(...) BATON_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#endif
#ifndef EXCLUDES
#define EXCLUDES(...) BATON_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#endif
#ifndef ACQUIRE
#define ACQUIRE(...) BATON_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#endif
#ifndef RELEASE
#define RELEASE(...) BATON_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#endif
#ifndef NO_THREAD_SAFETY_ANALYSIS
#define NO_THREAD_SAFETY_ANALYSIS BATON_THREAD_ANNOTATION(no_thread_safety_analysis)
#endif

namespace baton {

class CondVar;

// Thread-safe. Not recursive.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Documents (and, under clang, checks) that the caller holds the lock.
  void AssertHeld() REQUIRES(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// RAII lock for Mutex.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Condition variable bound to one Mutex. Wait() must be called with the mutex
// held (not annotated: clang cannot name another object's capability here, as
// in LevelDB's port::CondVar). Waits on real time: code whose deadlines must follow an injected
// Clock wakes itself through Clock timers and re-checks its condition.
class CondVar {
 public:
  explicit CondVar(Mutex* mu) : mu_(mu) {}

  void Wait() {
    std::unique_lock<std::mutex> lock(mu_->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false on timeout.
  bool WaitFor(std::chrono::nanoseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_->mu_, std::adopt_lock);
    bool notified = cv_.wait_for(lock, timeout) == std::cv_status::no_timeout;
    lock.release();
    return notified;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  Mutex* const mu_;
  std::condition_variable cv_;
};

}  // namespace baton

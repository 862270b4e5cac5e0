// A reader/writer lock annotated for clang's -Wthread-safety, in the spelling
// of common/mutex.h (candidate to move there).
//
// Writer-preferring on glibc: the store and the index take the shared side on
// every search, and glibc's default rwlock prefers readers, so a steady search
// load could starve the group-commit leader's Apply() and the indexer
// indefinitely. With writer preference a waiting writer blocks new readers.
// Consequence: a thread must never take the shared side twice (a writer queued
// in between deadlocks it).
#pragma once

#include <pthread.h>

#include <cstdlib>

#include "common/mutex.h"

#define ACQUIRE_SHARED(...) BATON_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) BATON_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) BATON_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) BATON_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))

namespace baton {

// Thread-safe. Not recursive on either side.
class CAPABILITY("shared_mutex") SharedMutex {
 public:
  SharedMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#if defined(__GLIBC__)
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    if (pthread_rwlock_init(&rw_, &attr) != 0) std::abort();
    pthread_rwlockattr_destroy(&attr);
  }
  ~SharedMutex() { pthread_rwlock_destroy(&rw_); }
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ACQUIRE() {
    if (pthread_rwlock_wrlock(&rw_) != 0) std::abort();
  }
  void Unlock() RELEASE() { pthread_rwlock_unlock(&rw_); }
  void LockShared() ACQUIRE_SHARED() {
    if (pthread_rwlock_rdlock(&rw_) != 0) std::abort();
  }
  void UnlockShared() RELEASE_SHARED() { pthread_rwlock_unlock(&rw_); }

 private:
  pthread_rwlock_t rw_;
};

// RAII exclusive lock.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() RELEASE() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// RAII shared lock.
class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->LockShared(); }
  ~ReaderLock() RELEASE_GENERIC() { mu_->UnlockShared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace baton

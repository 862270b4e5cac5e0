// Small helpers every test may use: a free TCP port and waiting on a
// condition with a deadline. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include <sys/types.h>

namespace baton::testing {

// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the
// port the kernel chose and closes the socket. Another process may take it
// before the caller binds it (rare; tests that need several ports ask for
// them one after the other). Aborts if no socket can be bound at all.
uint16_t PickFreePort();

// The only way tests wait: polls `cond` every `poll` until it returns true or
// `timeout` (real time) has passed. Returns the last value of `cond`, which is
// evaluated once more at the deadline, so a condition that became true just
// in time still counts.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(10));

// True once every thread of `pid` is stopped (state T or t in
// /proc/<pid>/task/*/stat): SIGSTOP is delivered asynchronously, and a thread
// still running could ack one more write. False for a process with no threads
// left (it exited).
bool AllThreadsStopped(pid_t pid);

}  // namespace baton::testing

// Status/Result assertions for gtest bodies (Status and Result come from
// common/status.h, which the test includes).
#define EXPECT_OK_STATUS(expr)                              \
  do {                                                      \
    const ::baton::Status _s = (expr);                      \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    const ::baton::Status _s = (expr);                      \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)

// Declares `var` (auto) from a Result, or fails the test.
#define ASSERT_OK_AND_ASSIGN(var, expr)                             \
  auto _r_##var = (expr);                                           \
  ASSERT_TRUE(_r_##var.ok()) << #expr << ": " << _r_##var.status(); \
  auto var = std::move(_r_##var).value()


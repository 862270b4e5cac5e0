// Small helpers every test may use: a free TCP port and waiting on a
// condition with a deadline. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

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

}  // namespace baton::testing

// What every long-running binary does around its real work: block the
// termination signals, tell systemd when it is ready or stopping, and feed
// the systemd watchdog while it is healthy.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

namespace baton {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread
// it starts afterwards, so that WaitForTerminationSignal() receives them.
// Call first thing in main(), before any thread exists.
void BlockTerminationSignals();

// Waits until SIGINT or SIGTERM arrives; returns its number.
int WaitForTerminationSignal();

// sd_notify wrappers; no-ops when not run by systemd (NOTIFY_SOCKET unset).
void NotifyReady(std::string_view status);
void NotifyStatus(std::string_view status);
void NotifyStopping();

// Pings WATCHDOG=1 at half the interval systemd asks for (WatchdogSec=), but
// only while `healthy()` holds, so a wedged process gets restarted. Does
// nothing when the unit has no watchdog. Stops on destruction.
class Watchdog {
 public:
  explicit Watchdog(std::function<bool()> healthy);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The tail of every daemon's main(): tells systemd READY, feeds the watchdog
// while `healthy()` holds, waits for SIGINT/SIGTERM, tells systemd STOPPING,
// runs `stop()`. Returns the process exit status (0).
int ServeUntilTerminated(const std::function<bool()>& healthy, const std::function<void()>& stop);

}  // namespace baton

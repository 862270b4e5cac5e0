// What every long-running binary does around its real work: block the
// termination signals, tell systemd when it is ready or stopping and what it
// is doing (STATUS=), and feed the systemd watchdog while it is healthy.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
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

// What a daemon tells its supervisor while it serves. Called from one thread
// at a time (ServeUntilTerminated's, then the Watchdog's). Either may block:
// while a call blocks no WATCHDOG=1 goes out, which is the point, since a
// daemon whose own loops no longer answer is to be restarted.
struct DaemonHealth {
  // True while the daemon can do its job: its own threads answer and what it
  // cannot recover from without a restart has not happened (the gateway: its
  // log is not poisoned and its committer thread answers). A dependency that
  // is down (ZooKeeper, the arbiter) is not unhealth: a restart would not
  // bring it back. Unset: always healthy.
  std::function<bool()> healthy;
  // One line for `systemctl status` (STATUS=): the role and what the daemon
  // waits for, e.g. "active, epoch 3 (cluster c1, instance g1)". Unset:
  // "serving".
  std::function<std::string()> status;
};

// While it exists, and only under systemd (a watchdog or a notify socket):
// every second, or at half of the watchdog interval (WatchdogSec=) if that
// is shorter, asks `health`; pings WATCHDOG=1 only when healthy, and sends
// STATUS= whenever the line changed (prefixed "unhealthy: " while unhealthy).
// Logs each change between healthy and unhealthy once. `sent_status` is
// the line systemd already has (sent with READY=1), not sent again. Runs one
// thread; the destructor stops it and waits for a check in progress.
class Watchdog {
 public:
  explicit Watchdog(DaemonHealth health, std::string sent_status = "");
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The tail of every daemon's main(), to be called once the daemon serves
// (its ports are bound and answer): tells systemd READY=1 with the first
// status line, runs a Watchdog, waits for SIGINT/SIGTERM, tells systemd
// STOPPING=1, stops the watchdog (systemd stops watching once the unit
// stops, and the checks would fail while the daemon winds down), runs
// `stop()`. Returns the process exit status (0).
int ServeUntilTerminated(const DaemonHealth& health, const std::function<void()>& stop);

}  // namespace baton

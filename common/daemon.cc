#include "common/daemon.h"

#include <signal.h>
#include <systemd/sd-daemon.h>

#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/mutex.h"

namespace baton {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    if (signal == SIGHUP) {
      spdlog::info("SIGHUP ignored: restart the process to change its config");
      continue;
    }
    return signal;
  }
}

void NotifyReady(std::string_view status) {
  std::string message = "READY=1\nSTATUS=" + std::string(status);
  sd_notify(0, message.c_str());
}

void NotifyStatus(std::string_view status) {
  std::string message = "STATUS=" + std::string(status);
  sd_notify(0, message.c_str());
}

void NotifyStopping() { sd_notify(0, "STOPPING=1"); }

struct Watchdog::State {
  std::function<bool()> healthy;
  Mutex mu;
  CondVar cv{&mu};
  bool stopping GUARDED_BY(mu) = false;
  std::thread thread;
};

Watchdog::Watchdog(std::function<bool()> healthy) : state_(std::make_unique<State>()) {
  state_->healthy = std::move(healthy);
  uint64_t interval_us = 0;
  if (sd_watchdog_enabled(0, &interval_us) <= 0 || interval_us == 0) return;
  const auto period = std::chrono::microseconds(interval_us / 2);
  spdlog::info("systemd watchdog enabled: pinging every {} ms while healthy", period.count() / 1000);
  State* state = state_.get();
  state_->thread = std::thread([state, period] {
    MutexLock lock(&state->mu);
    while (!state->stopping) {
      if (state->healthy == nullptr || state->healthy()) {
        sd_notify(0, "WATCHDOG=1");
      } else {
        spdlog::warn("unhealthy: not pinging the systemd watchdog");
      }
      state->cv.WaitFor(period);
    }
  });
}

int ServeUntilTerminated(const std::function<bool()>& healthy, const std::function<void()>& stop) {
  NotifyReady("serving");
  Watchdog watchdog(healthy);
  int signal = WaitForTerminationSignal();
  spdlog::info("signal {} received, stopping", signal);
  NotifyStopping();
  stop();
  return 0;
}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  state_->cv.SignalAll();
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace baton

#include "common/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
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
  DaemonHealth health;
  Mutex mu;
  CondVar cv{&mu};
  bool stopping GUARDED_BY(mu) = false;
  std::thread thread;
};

Watchdog::Watchdog(DaemonHealth health, std::string sent_status) : state_(std::make_unique<State>()) {
  state_->health = std::move(health);
  uint64_t interval_us = 0;
  const bool watchdog = sd_watchdog_enabled(0, &interval_us) > 0 && interval_us > 0;
  const char* notify_socket = std::getenv("NOTIFY_SOCKET");
  if (!watchdog && (notify_socket == nullptr || *notify_socket == '\0')) return;  // not under systemd
  std::chrono::microseconds period = std::chrono::seconds(1);
  if (watchdog) {
    period = std::min(period, std::chrono::microseconds(interval_us / 2));
    spdlog::info("systemd watchdog enabled: pinging every {} ms while healthy", period.count() / 1000);
  }
  State* state = state_.get();
  state_->thread = std::thread([state, period, watchdog, last_line = std::move(sent_status)]() mutable {
    pthread_setname_np(pthread_self(), "baton-watchdog");
    bool was_healthy = true;
    while (true) {
      // Without the lock: a check may block (that is what stops the pings),
      // and the destructor must still be able to ask the loop to end.
      const bool healthy = state->health.healthy == nullptr || state->health.healthy();
      const std::string status = state->health.status ? state->health.status() : "serving";
      if (healthy && watchdog) sd_notify(0, "WATCHDOG=1");
      if (healthy != was_healthy) {
        if (healthy) {
          spdlog::info("healthy again{}", watchdog ? ": pinging the systemd watchdog" : "");
        } else {
          spdlog::warn("unhealthy{}", watchdog ? ": not pinging the systemd watchdog" : "");
        }
        was_healthy = healthy;
      }
      const std::string line = healthy ? status : "unhealthy: " + status;
      if (line != last_line) {
        NotifyStatus(line);
        last_line = line;
      }
      MutexLock lock(&state->mu);
      if (!state->stopping) state->cv.WaitFor(period);
      if (state->stopping) return;
    }
  });
}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  state_->cv.SignalAll();
  if (state_->thread.joinable()) state_->thread.join();
}

int ServeUntilTerminated(const DaemonHealth& health, const std::function<void()>& stop) {
  const std::string status = health.status ? health.status() : "serving";
  NotifyReady(status);
  int signal = 0;
  {
    Watchdog watchdog(health, status);
    signal = WaitForTerminationSignal();
    spdlog::info("signal {} received, stopping", signal);
    NotifyStopping();
  }
  stop();
  return 0;
}

}  // namespace baton

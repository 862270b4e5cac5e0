// GatewayProbe: what the agent knows about its gateway. Every
// `interval` it checks the pid (when a pid file is configured) and calls
// GetState with a `timeout` deadline; the outcome decides what the
// heartbeat reports:
//
//   process_gone  the pid exited (or is a zombie): gone, health DOWN
//   refused       no pid known and a fresh TCP connect was refused: gone
//   failed        GetState failed but the process may live (SIGSTOP, hang,
//                 overload): health DOWN, *not* gone; the arbiter waits
//                 for the lease instead of promoting at once
//   ok            health as the gateway reports it
//
// A live pid always wins over a refused connect: a gateway still starting
// up, or briefly unable to accept, is not gone while its process exists.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "baton/v1/control.pb.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "instance-agent/agent_metrics.h"
#include "instance-agent/gateway_client.h"
#include "instance-agent/process_watch.h"

namespace baton::agent {

enum class ProbeOutcome { kOk, kFailed, kRefused, kProcessGone };
const char* ProbeOutcomeName(ProbeOutcome outcome);  // "ok", "failed", "refused", "process_gone"

// Thread-compatible value: the result of the latest probe.
struct ProbeSnapshot {
  ProbeOutcome outcome = ProbeOutcome::kFailed;
  Status error = Status::Unavailable("not probed yet");
  // The last successful GetState, kept across failures: after a crash the
  // heartbeat still names the instance, cluster and last known positions.
  bool has_state = false;
  v1::GetStateResponse state;
  MonoTime started;      // when the latest probe began
  uint64_t probes = 0;   // probes so far

  bool gone() const { return outcome == ProbeOutcome::kRefused || outcome == ProbeOutcome::kProcessGone; }
  bool ok() const { return outcome == ProbeOutcome::kOk; }
  v1::Health health() const { return ok() ? state.health() : v1::HEALTH_DOWN; }
};

struct ProbeOptions {
  Duration interval = std::chrono::milliseconds(25);
  Duration timeout = std::chrono::milliseconds(200);
};

// Start()/Stop() from the owner's thread; ProbeOnce() runs on the "probe"
// thread (or on a test's thread when Start() is never called); snapshot()
// from any thread. `client`, `watch` (may be null: no pid file), `clock` and
// `metrics` must outlive the probe.
class GatewayProbe {
 public:
  // Called on the probing thread after every probe; `changed` says whether
  // gone / health / role / epoch / fenced / handing_over differ from the
  // previous probe.
  // Must not block: it delays the next probe.
  using Listener = std::function<void(const ProbeSnapshot&, bool changed)>;

  GatewayProbe(ProbeOptions options, GatewayClient& client, ProcessWatch* watch, Clock& clock,
               AgentMetrics& metrics, Listener listener);
  ~GatewayProbe();  // Stop()
  GatewayProbe(const GatewayProbe&) = delete;
  GatewayProbe& operator=(const GatewayProbe&) = delete;

  void Start();
  void Stop() EXCLUDES(mu_);

  // One probe: pid, GetState, maybe a TCP connect; updates the snapshot and
  // calls the listener. Blocks up to about 2 * timeout.
  ProbeSnapshot ProbeOnce() EXCLUDES(mu_);
  ProbeSnapshot snapshot() const EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  const ProbeOptions options_;
  GatewayClient& client_;
  ProcessWatch* const watch_;
  Clock& clock_;
  AgentMetrics& metrics_;
  const Listener listener_;

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stop_ GUARDED_BY(mu_) = false;
  ProbeSnapshot snapshot_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace baton::agent

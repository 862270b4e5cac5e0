// The instance agent: looks after one gateway for the arbiter
// (docs/arbiter.md). It wires three parts together:
//
//   GatewayProbe       --(every probe)-->  AssignmentApplier (forget what a
//        |                                  restarted/gone gateway lost)
//        +--(state change: Nudge)-->  ArbiterLink --(grants)--> AssignmentApplier
//
// and serves /healthz (200 while running), /readyz (200 while the arbiter
// stream is up and the last probe succeeded) and /metrics.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "baton/v1/arbiter.pb.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/status.h"
#include "instance-agent/agent_metrics.h"
#include "instance-agent/arbiter_link.h"
#include "instance-agent/assignment_applier.h"
#include "instance-agent/gateway_client.h"
#include "instance-agent/probe.h"
#include "instance-agent/process_watch.h"

namespace baton::agent {

// Start() and Stop() from one thread (main). ready(), http_port() and
// metrics() from any thread once Start() returned. `config` (validated by
// AgentConfigSchema) is copied; `clock` must outlive the agent.
class Agent {
 public:
  explicit Agent(const Config& config, Clock& clock = RealClock());
  ~Agent();  // Stop()
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // INVALID_ARGUMENT for an unusable config value (named); the http.listen
  // errors of HttpServer::Start.
  Status Start();
  // Stops heartbeats first, then the probe and the applier, then HTTP.
  // Idempotent.
  void Stop();

  bool ready() const;
  uint16_t http_port() const;
  const Metrics& metrics() const { return metrics_; }

 private:
  std::optional<v1::Heartbeat> MakeHeartbeat();
  void OnProbe(const ProbeSnapshot& snapshot, bool changed);

  const Config config_;
  Clock& clock_;
  Metrics metrics_;
  AgentMetrics agent_metrics_;
  std::unique_ptr<GrpcGatewayClient> gateway_;
  std::unique_ptr<PidFileWatch> watch_;
  std::unique_ptr<AssignmentApplier> applier_;
  std::unique_ptr<GatewayProbe> probe_;
  std::unique_ptr<ArbiterLink> link_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> warned_no_identity_{false};
  // When the leader last asked for a fresh report that is not sent yet
  // (steady-clock ns since epoch; 0: none): sent after the first probe that
  // began after it.
  std::atomic<int64_t> report_requested_ns_{0};
};

}  // namespace baton::agent

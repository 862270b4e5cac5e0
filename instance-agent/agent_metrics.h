// The agent's Prometheus metrics, in one place so that every name and label
// value is visible at a glance. Every label value is registered up front, so
// /metrics shows zeros instead of missing series.
//
//   baton_agent_probes_total{outcome="ok|failed|refused|process_gone"}
//   baton_agent_heartbeats_sent_total
//   baton_agent_answers_received_total{kind="assignment|empty|redirect|unknown_sequence"}
//   baton_agent_assignments_applied_total{role="active|standby|unassigned|other",code}
//   baton_agent_lease_renewals_total{result="ok|failed|dropped|expired"}
//   baton_agent_arbiter_connects_total{result="ok|redirect|failed"}
//   baton_agent_gateway_health{state="ok|degraded|down|gone"} (1 for the current state)
//   baton_agent_arbiter_connected (0/1)
//   baton_agent_mirror_targets (mirror targets in the assignment the gateway accepted last)
//
// Thread-safe (prometheus-cpp locks internally). `metrics` must outlive it.
#pragma once

#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "baton/v1/common.pb.h"
#include "common/metrics.h"
#include "common/status.h"

namespace baton::agent {

class AgentMetrics {
 public:
  explicit AgentMetrics(Metrics& metrics);

  void Probe(std::string_view outcome);
  void HeartbeatSent() { heartbeats_sent_.Increment(); }
  void Answer(std::string_view kind);
  void AssignmentApplied(v1::Role role, const Status& status);
  void Renewal(std::string_view result);
  // One per stream attempt: "ok" (a leader answered), "redirect" (a
  // follower named the leader), "failed".
  void ArbiterConnect(std::string_view result);
  // `state`: "ok", "degraded", "down" or "gone".
  void SetGatewayHealth(std::string_view state);
  void SetArbiterConnected(bool connected) { arbiter_connected_.Set(connected ? 1 : 0); }
  void SetMirrorTargets(int count) { mirror_targets_.Set(count); }

 private:
  prometheus::Family<prometheus::Counter>& probes_;
  prometheus::Counter& heartbeats_sent_;
  prometheus::Family<prometheus::Counter>& answers_;
  prometheus::Family<prometheus::Counter>& assignments_;
  prometheus::Family<prometheus::Counter>& renewals_;
  prometheus::Family<prometheus::Counter>& connects_;
  prometheus::Family<prometheus::Gauge>& gateway_health_;
  prometheus::Gauge& arbiter_connected_;
  prometheus::Gauge& mirror_targets_;
};

}  // namespace baton::agent

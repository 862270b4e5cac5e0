#include "instance-agent/agent_metrics.h"

#include <array>

#include <prometheus/registry.h>

namespace baton::agent {
namespace {

constexpr std::array<std::string_view, 4> kProbeOutcomes = {"ok", "failed", "refused", "process_gone"};
constexpr std::array<std::string_view, 4> kAnswerKinds = {"assignment", "empty", "redirect", "unknown_sequence"};
constexpr std::array<std::string_view, 4> kRenewalResults = {"ok", "failed", "dropped", "expired"};
constexpr std::array<std::string_view, 4> kHealthStates = {"ok", "degraded", "down", "gone"};

std::string RoleLabel(v1::Role role) {
  switch (role) {
    case v1::ROLE_ACTIVE: return "active";
    case v1::ROLE_STANDBY: return "standby";
    case v1::ROLE_UNASSIGNED: return "unassigned";
    default: return "other";
  }
}

template <typename T>
T& Labelled(prometheus::Family<T>& family, std::string_view name, std::string_view value) {
  return family.Add({{std::string(name), std::string(value)}});
}

}  // namespace

AgentMetrics::AgentMetrics(Metrics& metrics)
    : probes_(prometheus::BuildCounter()
                  .Name("baton_agent_probes_total")
                  .Help("Gateway probes (GetState plus pid liveness) by outcome")
                  .Register(metrics.registry())),
      heartbeats_sent_(prometheus::BuildCounter()
                           .Name("baton_agent_heartbeats_sent_total")
                           .Help("Heartbeats written to the arbiter stream")
                           .Register(metrics.registry())
                           .Add({})),
      answers_(prometheus::BuildCounter()
                   .Name("baton_agent_answers_received_total")
                   .Help("Heartbeat answers from the arbiter by kind")
                   .Register(metrics.registry())),
      assignments_(prometheus::BuildCounter()
                       .Name("baton_agent_assignments_applied_total")
                       .Help("AssignRole calls to the gateway by assigned role and status code")
                       .Register(metrics.registry())),
      renewals_(prometheus::BuildCounter()
                    .Name("baton_agent_lease_renewals_total")
                    .Help("Lease renewals by result (dropped: one was already in flight; expired: granted lease "
                          "already over)")
                    .Register(metrics.registry())),
      connects_(prometheus::BuildCounter()
                    .Name("baton_agent_arbiter_connects_total")
                    .Help("Heartbeat stream attempts by result (ok: a leader answered; redirect: a follower named the leader)")
                    .Register(metrics.registry())),
      gateway_health_(prometheus::BuildGauge()
                          .Name("baton_agent_gateway_health")
                          .Help("1 for the gateway's current health as the probe sees it")
                          .Register(metrics.registry())),
      arbiter_connected_(prometheus::BuildGauge()
                             .Name("baton_agent_arbiter_connected")
                             .Help("1 while a heartbeat stream to an arbiter is up and answering")
                             .Register(metrics.registry())
                             .Add({})),
      mirror_targets_(prometheus::BuildGauge()
                          .Name("baton_agent_mirror_targets")
                          .Help("Mirror targets in the assignment the gateway accepted last")
                          .Register(metrics.registry())
                          .Add({})) {
  for (auto v : kProbeOutcomes) Labelled(probes_, "outcome", v);
  for (auto v : kAnswerKinds) Labelled(answers_, "kind", v);
  for (auto v : kRenewalResults) Labelled(renewals_, "result", v);
  for (auto v : {"ok", "redirect", "failed"}) Labelled(connects_, "result", v);
  for (auto role : {v1::ROLE_ACTIVE, v1::ROLE_STANDBY}) {
    assignments_.Add({{"role", RoleLabel(role)}, {"code", "OK"}});
  }
  SetGatewayHealth("down");
}

void AgentMetrics::Probe(std::string_view outcome) { Labelled(probes_, "outcome", outcome).Increment(); }

void AgentMetrics::Answer(std::string_view kind) { Labelled(answers_, "kind", kind).Increment(); }

void AgentMetrics::AssignmentApplied(v1::Role role, const Status& status) {
  assignments_.Add({{"role", RoleLabel(role)}, {"code", std::string(StatusCodeName(status.code()))}}).Increment();
}

void AgentMetrics::Renewal(std::string_view result) { Labelled(renewals_, "result", result).Increment(); }

void AgentMetrics::ArbiterConnect(std::string_view result) { Labelled(connects_, "result", result).Increment(); }

void AgentMetrics::SetGatewayHealth(std::string_view state) {
  for (auto v : kHealthStates) Labelled(gateway_health_, "state", v).Set(v == state ? 1 : 0);
}

}  // namespace baton::agent

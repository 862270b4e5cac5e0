#include "instance-agent/probe.h"

#include <spdlog/spdlog.h>

namespace baton::agent {
namespace {

bool Differs(const ProbeSnapshot& a, const ProbeSnapshot& b) {
  return a.gone() != b.gone() || a.health() != b.health() || a.state.role() != b.state.role() ||
         a.state.epoch() != b.state.epoch() || a.state.fenced() != b.state.fenced() ||
         a.state.handing_over() != b.state.handing_over();
}

std::string_view HealthState(const ProbeSnapshot& s) {
  if (s.gone()) return "gone";
  switch (s.health()) {
    case v1::HEALTH_OK: return "ok";
    case v1::HEALTH_DEGRADED: return "degraded";
    default: return "down";
  }
}

}  // namespace

const char* ProbeOutcomeName(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::kOk: return "ok";
    case ProbeOutcome::kFailed: return "failed";
    case ProbeOutcome::kRefused: return "refused";
    case ProbeOutcome::kProcessGone: return "process_gone";
  }
  return "?";
}

GatewayProbe::GatewayProbe(ProbeOptions options, GatewayClient& client, ProcessWatch* watch, Clock& clock,
                           AgentMetrics& metrics, Listener listener)
    : options_(options), client_(client), watch_(watch), clock_(clock), metrics_(metrics),
      listener_(std::move(listener)) {}

GatewayProbe::~GatewayProbe() { Stop(); }

void GatewayProbe::Start() { thread_ = std::thread([this] { Loop(); }); }

void GatewayProbe::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

ProbeSnapshot GatewayProbe::snapshot() const {
  MutexLock lock(&mu_);
  return snapshot_;
}

ProbeSnapshot GatewayProbe::ProbeOnce() {
  ProbeSnapshot next = snapshot();
  next.started = clock_.Now();
  ++next.probes;
  const Liveness liveness = watch_ != nullptr ? watch_->Check() : Liveness::kUnknown;
  if (liveness == Liveness::kGone) {
    next.outcome = ProbeOutcome::kProcessGone;
    next.error = Status::Unavailable("gateway process exited");
  } else {
    auto state = client_.GetState(options_.timeout);
    if (state.ok()) {
      next.outcome = ProbeOutcome::kOk;
      next.error = Status::Ok();
      next.has_state = true;
      next.state = std::move(state).value();
    } else {
      next.error = state.status();
      // Refused counts only without a live pid, and only after a fresh
      // connect: gRPC's UNAVAILABLE may be a cached failure from before a
      // restart.
      const bool refused = liveness == Liveness::kUnknown && state.status().code() == StatusCode::kUnavailable &&
                           client_.ConnectRefused(options_.timeout);
      next.outcome = refused ? ProbeOutcome::kRefused : ProbeOutcome::kFailed;
    }
  }
  bool changed = false;
  {
    MutexLock lock(&mu_);
    changed = next.probes == 1 || Differs(snapshot_, next);
    snapshot_ = next;
  }
  metrics_.Probe(ProbeOutcomeName(next.outcome));
  if (changed) {
    metrics_.SetGatewayHealth(HealthState(next));
    if (next.ok()) {
      spdlog::info("gateway probe ok instance={} cluster={} role={} epoch={} health={}{}", next.state.instance_id(),
                   next.state.cluster(), v1::Role_Name(next.state.role()), next.state.epoch(),
                   v1::Health_Name(next.state.health()), next.state.handing_over() ? " handing_over" : "");
    } else {
      spdlog::warn("gateway probe {} instance={}: {}", ProbeOutcomeName(next.outcome), next.state.instance_id(),
                   next.error.ToString());
    }
  }
  if (listener_) listener_(next, changed);
  return next;
}

void GatewayProbe::Loop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stop_) return;
    }
    const MonoTime started = clock_.Now();
    try {
      ProbeOnce();
    } catch (const std::exception& e) {
      // Nothing here is expected to throw; keep probing rather than let the
      // heartbeat report a frozen snapshot.
      spdlog::error("probe failed with an exception: {}", e.what());
      metrics_.Probe("failed");
    }
    const Duration left = started + options_.interval - clock_.Now();
    if (left <= Duration::zero()) continue;
    // A pidfd wakes us the moment the gateway exits, so the fast path does
    // not wait for the next tick; Stop() then lags by one interval at most.
    if (watch_ != nullptr && watch_->WaitForExit(left)) continue;
    MutexLock lock(&mu_);
    if (!stop_) cv_.WaitFor(left);
  }
}

}  // namespace baton::agent

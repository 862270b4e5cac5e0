#include "instance-agent/agent.h"

#include <spdlog/spdlog.h>

namespace baton::agent {
namespace {

Duration Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

}  // namespace

Agent::Agent(const Config& config, Clock& clock)
    : config_(config), clock_(clock), metrics_("agent"), agent_metrics_(metrics_) {}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  const std::vector<std::string>& arbiters = config_.GetStringList("arbiter.addresses");
  if (arbiters.empty()) return Status::InvalidArgument("key 'arbiter.addresses': at least one address is required");
  for (const std::string& address : arbiters) {
    if (auto split = SplitHostPort(address); !split.ok()) return split.status().WithContext("arbiter.addresses");
  }
  const std::string& gateway_address = config_.GetString("agent.gateway");

  gateway_ = std::make_unique<GrpcGatewayClient>(gateway_address);
  if (const std::string& pid_file = config_.GetString("agent.gateway_pid_file"); !pid_file.empty()) {
    watch_ = std::make_unique<PidFileWatch>(pid_file);
  }
  const Duration probe_timeout = Ms(config_.GetInt("agent.probe_timeout_ms"));
  applier_ = std::make_unique<AssignmentApplier>(ApplierOptions{.rpc_timeout = probe_timeout}, *gateway_, clock_,
                                                 agent_metrics_);
  probe_ = std::make_unique<GatewayProbe>(
      ProbeOptions{.interval = Ms(config_.GetInt("agent.probe_interval_ms")), .timeout = probe_timeout}, *gateway_,
      watch_.get(), clock_, agent_metrics_,
      [this](const ProbeSnapshot& snapshot, bool changed) { OnProbe(snapshot, changed); });
  LinkOptions link_options;
  link_options.addresses = arbiters;
  link_options.heartbeat_interval = Ms(config_.GetInt("heartbeat_ms"));
  // A leader answers every heartbeat; ten missed answers (at least 1 s) mean
  // it hangs and another replica should be asked.
  link_options.answer_timeout = std::max<Duration>(std::chrono::seconds(1), 10 * link_options.heartbeat_interval);
  link_options.on_report_request = [this] {
    const int64_t now = clock_.Now().time_since_epoch().count();
    int64_t expected = 0;
    report_requested_ns_.compare_exchange_strong(expected, now);  // the earliest pending request counts
  };
  link_ = std::make_unique<ArbiterLink>(
      link_options, clock_, agent_metrics_, [this] { return MakeHeartbeat(); },
      [this](const v1::Assignment& assignment, MonoTime sent_at) {
        // A gone gateway cannot take it; the first grant after it is back will.
        if (!probe_->snapshot().gone()) applier_->Offer(assignment, sent_at);
      });

  HttpServerOptions options;
  options.listen_address = config_.GetString("http.listen");
  options.metrics = &metrics_;
  options.ready = [this] { return ready(); };
  auto http = HttpServer::Start(options, Router());
  if (!http.ok()) return http.status().WithContext("http.listen");
  http_ = std::move(http).value();

  applier_->Start();
  probe_->Start();
  link_->Start();
  spdlog::info("agent started gateway={} arbiters={} http_port={}", gateway_address, arbiters.size(), http_->port());
  return Status::Ok();
}

void Agent::Stop() {
  // Heartbeats stop first: nothing new is granted while the rest winds down.
  if (link_) link_->Stop();
  if (probe_) probe_->Stop();
  if (applier_) applier_->Stop();
  if (http_) http_->Stop();
}

bool Agent::ready() const {
  return link_ != nullptr && probe_ != nullptr && link_->connected() && probe_->snapshot().ok();
}

uint16_t Agent::http_port() const { return http_ ? http_->port() : 0; }

void Agent::OnProbe(const ProbeSnapshot& snapshot, bool changed) {
  if (snapshot.gone()) {
    applier_->ForgetApplied("gateway process gone");
  } else if (snapshot.ok()) {
    if (changed) applier_->SetIdentity(snapshot.state.cluster(), snapshot.state.instance_id());
    applier_->CheckGatewayState(snapshot.state.role(), snapshot.state.epoch(), snapshot.started);
  }
  // The arbiter hears of a crash now, not at the next tick: that is the
  // fast failover path. A requested report goes out with the first probe
  // that began after the request, so its positions postdate the request.
  int64_t requested = report_requested_ns_.load();
  const bool answers_request = requested != 0 && snapshot.started.time_since_epoch().count() >= requested &&
                               report_requested_ns_.compare_exchange_strong(requested, 0);
  if (changed || answers_request) link_->Nudge();
}

std::optional<v1::Heartbeat> Agent::MakeHeartbeat() {
  const ProbeSnapshot snapshot = probe_->snapshot();
  const v1::GetStateResponse& state = snapshot.state;
  v1::Heartbeat heartbeat;
  heartbeat.set_instance_id(!state.instance_id().empty() ? state.instance_id() : config_.GetString("instance.id"));
  heartbeat.set_cluster(!state.cluster().empty() ? state.cluster() : config_.GetString("instance.cluster"));
  if (heartbeat.instance_id().empty() || heartbeat.cluster().empty()) {
    // Before the first probe this is normal; after it, the operator must act.
    if (snapshot.probes > 0 && !warned_no_identity_.exchange(true)) {
      spdlog::warn("no heartbeat yet: instance id and cluster unknown until the gateway answers a probe "
                   "(or set instance.id and instance.cluster)");
    }
    return std::nullopt;
  }
  const std::string& advertise = config_.GetString("agent.advertise_address");
  heartbeat.set_address(!advertise.empty() ? advertise : config_.GetString("agent.gateway"));
  // A probe that has not come back is news too: a stopped or wedged gateway
  // leaves the last good snapshot in place while its GetState hangs. Calling
  // it down once no probe has completed for a few intervals stops the
  // arbiter's renewals ~probe_timeout_ms sooner, which is what bounds a hang
  // failover at lease + a little.
  const auto stale_after = 3 * std::chrono::milliseconds(config_.GetInt("agent.probe_interval_ms")) +
                           std::chrono::milliseconds(50);
  const bool stale = snapshot.ok() && snapshot.probes > 0 && clock_.Now() - snapshot.started > stale_after;
  heartbeat.set_health(stale ? v1::HEALTH_DOWN : snapshot.health());
  heartbeat.set_gateway_process_gone(snapshot.gone());
  heartbeat.set_priority(static_cast<uint32_t>(config_.GetInt("agent.priority")));
  heartbeat.set_assignment_version(applier_->applied_version());
  if (snapshot.has_state) {
    heartbeat.set_role(state.role());
    heartbeat.set_epoch(state.epoch());
    *heartbeat.mutable_durable() = state.durable();
    *heartbeat.mutable_applied() = state.applied();
    heartbeat.set_lease_remaining_ms(state.lease_remaining_ms());
    heartbeat.set_fenced(state.fenced());
    // The arbiter's switchover waits for this: from then on `durable` is final.
    heartbeat.set_handing_over(state.handing_over());
    // Mirror delivery as the active sees it, for the arbiter's status
    // (docs/operator-api.md); empty on a standby.
    *heartbeat.mutable_mirror_peers() = state.mirror_peers();
    if (state.role() == v1::ROLE_ACTIVE) {
      for (const v1::StandbyState& standby : state.standbys()) {
        if (standby.sync()) heartbeat.add_sync_enforced(standby.instance_id());
      }
    }
    if (snapshot.ok()) {
      heartbeat.set_probe_age_ms(static_cast<uint32_t>(
          std::chrono::ceil<std::chrono::milliseconds>(clock_.Now() - snapshot.started).count()));
    }
  } else {
    heartbeat.set_lease_remaining_ms(-1);
  }
  return heartbeat;
}

}  // namespace baton::agent

#include "arbiter/cluster_book.h"

#include <algorithm>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "arbiter/mirror_targets.h"

namespace baton::arbiter {
namespace {

std::string WithoutDigits(std::string text) {
  std::erase_if(text, [](char c) { return c >= '0' && c <= '9'; });
  return text;
}

std::chrono::milliseconds Ms(MonoTime::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); }

bool InSyncSet(const ClusterState& state, const std::string& id) {
  return std::find(state.sync_set.begin(), state.sync_set.end(), id) != state.sync_set.end();
}

}  // namespace

std::string_view OperationKindName(OperationKind kind) {
  return kind == OperationKind::kSwitchover ? "switchover" : "failover";
}

ClusterBook::ClusterBook(ClusterBookOptions options) : options_(std::move(options)) {}

void ClusterBook::Lead(MonoTime now, std::map<std::string, ClusterState> states,
                       std::map<std::string, ClusterConfig> configs, std::vector<MirrorTargetSpec> mirror_targets) {
  MutexLock lock(&mu_);
  leading_ = true;
  connected_ = true;
  leader_since_ = now;
  clusters_.clear();
  std::sort(mirror_targets.begin(), mirror_targets.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  mirror_targets_ = std::move(mirror_targets);
  for (auto& [name, state] : states) ClusterFor(name).state = std::move(state);
  for (auto& [name, config] : configs) ClusterFor(name).config = std::move(config);
}

void ClusterBook::Resign() {
  MutexLock lock(&mu_);
  const Status lost = Status::Unavailable("this arbiter replica stopped leading; the operation was abandoned");
  for (auto& [name, cluster] : clusters_) {
    if (cluster.operation) cluster.operation->done(OperationResult{.status = lost, .kind = cluster.operation->request.kind});
    FinishMaintenance(cluster, lost);
  }
  leading_ = false;
  connected_ = false;
  clusters_.clear();
  mirror_targets_.clear();
}

void ClusterBook::SetConnected(bool connected, MonoTime now) {
  MutexLock lock(&mu_);
  if (connected && !connected_ && leading_) {
    leader_since_ = now;
    for (auto& [name, cluster] : clusters_) {
      cluster.decider = std::make_unique<ClusterDecider>(options_.timing, now);
      cluster.active_granted = false;
    }
  }
  connected_ = connected;
}

bool ClusterBook::leading() const {
  MutexLock lock(&mu_);
  return leading_;
}

ClusterBook::Cluster& ClusterBook::ClusterFor(const std::string& name) {
  auto [it, inserted] = clusters_.try_emplace(name);
  if (inserted) {
    it->second.decider = std::make_unique<ClusterDecider>(options_.timing, leader_since_);
    it->second.mirror_targets = MirrorTargetsFor(mirror_targets_, name);
  }
  return it->second;
}

HeartbeatOutcome ClusterBook::OnHeartbeat(const v1::Heartbeat& heartbeat, MonoTime now, uint64_t stream_id) {
  HeartbeatOutcome outcome;
  outcome.response.set_sequence(heartbeat.sequence());
  MutexLock lock(&mu_);
  if (!leading_) return outcome;
  Cluster& cluster = ClusterFor(heartbeat.cluster());
  const std::string& id = heartbeat.instance_id();
  InstanceReport& report = cluster.reports[id];
  NoteReport(heartbeat.cluster(), cluster, report.heartbeat, heartbeat);
  report.heartbeat = heartbeat;
  report.received = now;
  report.stream_open = true;
  cluster.stream_of[id] = stream_id;

  if (cluster.promoted_detected_at && id == cluster.state.active && heartbeat.role() == v1::ROLE_ACTIVE &&
      heartbeat.epoch() == cluster.state.epoch) {
    outcome.failover_duration = now - *cluster.promoted_detected_at;
    outcome.completed_cluster = heartbeat.cluster();
    cluster.promoted_detected_at.reset();
    QueueEvent({.cluster = heartbeat.cluster(),
                .type = "failover_complete",
                .instance = id,
                .epoch = heartbeat.epoch(),
                .fields = {{"duration_ms", Ms(outcome.failover_duration).count()},
                           {"message", fmt::format("{} serves as the active at epoch {}, {} ms after the detection", id,
                                                   heartbeat.epoch(), Ms(outcome.failover_duration).count())}}});
  }
  if (!connected_) return outcome;
  if (std::optional<v1::Assignment> assignment = GrantLocked(cluster, id, report, now)) {
    *outcome.response.mutable_assignment() = std::move(*assignment);
  }
  return outcome;
}

std::optional<v1::Assignment> ClusterBook::GrantLocked(Cluster& cluster, const std::string& id,
                                                      const InstanceReport& report, MonoTime now) {
  // While the active is being replaced it must not get another lease; an
  // operator's failover replaces it once the lease it has runs out.
  if (id == cluster.state.active &&
      (cluster.pending || (cluster.operation && cluster.operation->request.kind == OperationKind::kFailover))) {
    return std::nullopt;
  }
  // Before the first promotion there is no epoch to assign anyone to.
  if (cluster.state.epoch == 0) return std::nullopt;
  // A standby's grant tells its gateway the arbiter is reachable, which
  // denies the active its failsafe. Right after this replica took over, the
  // active's agent may still be finding its way here: until the active has
  // been granted once (or a lease has passed, after which it counts as
  // failed anyway), standbys wait, so the handover does not fence a healthy
  // active that failsafe was carrying.
  if (id != cluster.state.active && !cluster.state.active.empty() && !cluster.active_granted &&
      now < leader_since_ + options_.timing.lease) {
    return std::nullopt;
  }
  if (!cluster.decider->ShouldGrant(cluster.state, id, report)) return std::nullopt;
  if (id == cluster.state.active) cluster.active_granted = true;
  v1::Assignment assignment = AssignmentFor(cluster.state, cluster.config, id, cluster.mirror_targets);
  if (assignment.role() == v1::ROLE_UNASSIGNED) return std::nullopt;
  assignment.set_lease_ms(options_.lease_ms);
  assignment.set_failsafe(options_.failsafe);
  if (cluster.operation && cluster.operation->request.kind == OperationKind::kSwitchover &&
      id == cluster.state.active) {
    auto to = cluster.state.members.find(cluster.operation->request.to);
    if (to != cluster.state.members.end()) assignment.set_handover_to(to->second);
  }
  return assignment;
}

void ClusterBook::PushToMembers(
    Cluster& cluster,
    const std::function<std::optional<v1::HeartbeatResponse>(const std::string&, const InstanceReport&)>& make) {
  for (const auto& [id, report] : cluster.reports) {
    auto stream = cluster.stream_of.find(id);
    if (!report.stream_open || stream == cluster.stream_of.end()) continue;
    std::optional<v1::HeartbeatResponse> response = make(id, report);
    if (!response) continue;
    // Answers the latest heartbeat: the agent counts a granted lease from
    // when it sent that one, which is what the leader's lease bound assumes.
    response->set_sequence(report.heartbeat.sequence());
    pushes_.push_back(StreamPush{stream->second, std::move(*response)});
  }
}

void ClusterBook::PushGrants(Cluster& cluster, MonoTime now) {
  // Clang analyses a lambda on its own; PushToMembers runs this one under mu_.
  auto grant = [&](const std::string& id, const InstanceReport& report)
                   NO_THREAD_SAFETY_ANALYSIS -> std::optional<v1::HeartbeatResponse> {
    std::optional<v1::Assignment> assignment = GrantLocked(cluster, id, report, now);
    if (!assignment) return std::nullopt;
    v1::HeartbeatResponse response;
    *response.mutable_assignment() = std::move(*assignment);
    return response;
  };
  PushToMembers(cluster, grant);
}

std::vector<StreamPush> ClusterBook::TakePushes() {
  MutexLock lock(&mu_);
  return std::exchange(pushes_, {});
}

void ClusterBook::OnStreamClosed(const std::string& cluster_name, const std::string& instance, uint64_t stream_id) {
  MutexLock lock(&mu_);
  auto cluster = clusters_.find(cluster_name);
  if (cluster == clusters_.end()) return;
  auto stream = cluster->second.stream_of.find(instance);
  if (stream == cluster->second.stream_of.end() || stream->second != stream_id) return;
  cluster->second.reports[instance].stream_open = false;
}

std::vector<PendingChange> ClusterBook::Decide(MonoTime now) {
  std::vector<PendingChange> changes;
  MutexLock lock(&mu_);
  if (!leading_ || !connected_) return changes;
  for (auto& [name, cluster] : clusters_) {
    if (cluster.pending) continue;
    std::optional<PendingChange> change = DecideCluster(name, cluster, now);
    if (!change) continue;
    cluster.pending = true;
    changes.push_back(std::move(*change));
  }
  return changes;
}

std::optional<PendingChange> ClusterBook::DecideCluster(const std::string& name, Cluster& cluster, MonoTime now) {
  if (cluster.maintenance_request) {
    if (*cluster.maintenance_request == cluster.state.maintenance) {
      cluster.maintenance_request.reset();
      FinishMaintenance(cluster, Status::Ok());
    } else {
      Decision decision;
      decision.new_state = cluster.state;
      decision.new_state->maintenance = *cluster.maintenance_request;
      decision.reason = fmt::format("maintenance {} (operator)", decision.new_state->maintenance ? "on" : "off");
      return PendingChange{name, *decision.new_state, std::move(decision)};
    }
  }
  Decision decision;
  if (cluster.operation && now >= cluster.operation->started + cluster.operation->request.timeout) {
    const auto& op = *cluster.operation;
    FailOperation(name, cluster,
                  Status::DeadlineExceeded(fmt::format(
                      "{} of {} to {} did not complete in {} ms (waiting for: {}); abandoned, nothing changed",
                      OperationKindName(op.request.kind), name, op.request.to, op.request.timeout.count(),
                      cluster.waiting_for.empty() ? "nothing" : cluster.waiting_for)),
                  now);
  }
  if (cluster.operation) {
    const OperatorRequest request{
        .to = cluster.operation->request.to, .force = cluster.operation->request.force, .started = cluster.operation->started};
    const bool switchover = cluster.operation->request.kind == OperationKind::kSwitchover;
    decision = switchover ? cluster.decider->DecideSwitchover(cluster.state, cluster.config, cluster.reports, now, request)
                          : cluster.decider->DecideFailover(cluster.state, cluster.config, cluster.reports, now, request);
    if (!decision.refused.empty()) {
      FailOperation(name, cluster, Status::FailedPrecondition(decision.refused), now);
      return std::nullopt;
    }
    const PromotionReason mine = switchover ? PromotionReason::kSwitchover : PromotionReason::kManualFailover;
    if (decision.promotion == mine) {
      cluster.operation->committing = true;
    } else if (decision.promotion) {
      FailOperation(name, cluster,
                    Status::Aborted("the active failed meanwhile and an automatic failover took over: " + decision.reason),
                    now);
    }
  } else {
    decision = cluster.decider->Decide(cluster.state, cluster.config, cluster.reports, now);
  }
  // Log what it waits for when that changes, not when only a countdown in
  // the text does.
  if (WithoutDigits(decision.waiting_for) != WithoutDigits(cluster.waiting_for) && !decision.waiting_for.empty()) {
    spdlog::info("cluster={} waiting: {}", name, decision.waiting_for);
  }
  cluster.waiting_for = decision.waiting_for;
  // A detected failure waits for reports received after the detection: ask
  // for them now rather than at each agent's next heartbeat.
  if (!decision.new_state && decision.detected_at != MonoTime{} &&
      decision.detected_at != cluster.reports_requested_for && connected_) {
    cluster.reports_requested_for = decision.detected_at;
    PushToMembers(cluster, [&](const std::string& id, const InstanceReport&) -> std::optional<v1::HeartbeatResponse> {
      if (id == cluster.state.active) return std::nullopt;
      v1::HeartbeatResponse response;
      response.set_report_now(true);
      return response;
    });
  }
  if (!decision.new_state) return std::nullopt;
  ClusterState state = *decision.new_state;
  return PendingChange{name, std::move(state), std::move(decision)};
}

void ClusterBook::FailOperation(const std::string& name, Cluster& cluster, const Status& status, MonoTime now) {
  if (!cluster.operation) return;
  auto& op = *cluster.operation;
  spdlog::warn("cluster={}: {} to {} failed: {}", name, OperationKindName(op.request.kind), op.request.to,
               status.ToString());
  op.done(OperationResult{.status = status,
                          .kind = op.request.kind,
                          .from = op.from,
                          .to = op.request.to,
                          .duration = Ms(now - op.started)});
  QueueEvent({.cluster = name,
              .type = std::string(OperationKindName(op.request.kind)),
              .instance = op.request.to,
              .epoch = cluster.state.epoch,
              .fields = {{"result", "failed"},
                         {"code", std::string(StatusCodeName(status.code()))},
                         {"message", status.message()},
                         {"duration_ms", Ms(now - op.started).count()}}});
  // A failover withheld the active's renewals: its silence since then is not
  // a failure for the automatic decisions.
  if (op.request.kind == OperationKind::kFailover) cluster.decider->Reprieve(now);
  cluster.operation.reset();
}

void ClusterBook::FinishMaintenance(Cluster& cluster, const Status& status) {
  for (OperationDone& done : cluster.maintenance_done) done(OperationResult{.status = status});
  cluster.maintenance_done.clear();
}

void ClusterBook::Committed(const PendingChange& change, int32_t zk_version, MonoTime now) {
  MutexLock lock(&mu_);
  if (!leading_) return;
  Cluster& cluster = ClusterFor(change.cluster);
  const ClusterState before = cluster.state;
  cluster.pending = false;
  cluster.state = change.state;
  cluster.state.zk_version = zk_version;
  const Decision& decision = change.decision;
  if (decision.promotion) {
    const MonoTime detected_at = decision.detected_at == MonoTime{} ? now : decision.detected_at;
    cluster.promoted_detected_at = detected_at;
    cluster.demoting = before.active != change.state.active ? before.active : std::string();
    QueueEvent({.cluster = change.cluster,
                .type = "promotion",
                .instance = change.state.active,
                .epoch = change.state.epoch,
                .fields = {{"reason", std::string(PromotionReasonName(*decision.promotion))},
                           {"previous_active", before.active},
                           {"message", decision.reason},
                           {"detected_to_committed_ms", Ms(now - detected_at).count()}}});
  } else if (before.maintenance != change.state.maintenance) {
    QueueEvent({.cluster = change.cluster,
                .type = "maintenance",
                .epoch = change.state.epoch,
                .fields = {{"enabled", change.state.maintenance}, {"message", decision.reason}}});
  } else {
    QueueEvent({.cluster = change.cluster,
                .type = "membership",
                .epoch = change.state.epoch,
                .fields = {{"message", decision.reason}}});
  }
  // Tell every member at once (the new active above all: it serves from its
  // first grant), not at each one's next heartbeat.
  PushGrants(cluster, now);
  if (cluster.maintenance_request && *cluster.maintenance_request == cluster.state.maintenance) {
    cluster.maintenance_request.reset();
    FinishMaintenance(cluster, Status::Ok());
  }
  if (cluster.operation && cluster.operation->committing) {
    auto& op = *cluster.operation;
    const auto duration = Ms(now - op.started);
    op.done(OperationResult{.status = Status::Ok(),
                            .kind = op.request.kind,
                            .from = op.from,
                            .to = change.state.active,
                            .epoch = change.state.epoch,
                            .duration = duration});
    QueueEvent({.cluster = change.cluster,
                .type = std::string(OperationKindName(op.request.kind)),
                .instance = change.state.active,
                .epoch = change.state.epoch,
                .fields = {{"result", "completed"},
                           {"from", op.from},
                           {"duration_ms", duration.count()},
                           {"message", fmt::format("{} from {} to {} completed at epoch {} in {} ms",
                                                   OperationKindName(op.request.kind),
                                                   op.from.empty() ? "(none)" : op.from, change.state.active,
                                                   change.state.epoch, duration.count())}}});
    cluster.operation.reset();
  }
}

void ClusterBook::Abandoned(const std::string& cluster_name, std::optional<ClusterState> reloaded) {
  MutexLock lock(&mu_);
  if (!leading_) return;
  Cluster& cluster = ClusterFor(cluster_name);
  cluster.pending = false;
  if (cluster.operation) cluster.operation->committing = false;  // Decide() tries again
  if (reloaded) cluster.state = std::move(*reloaded);
}

void ClusterBook::SetConfig(const std::string& cluster_name, const ClusterConfig& config) {
  MutexLock lock(&mu_);
  if (!leading_) return;
  ClusterFor(cluster_name).config = config;
}

bool ClusterBook::SetMirrorTargets(std::vector<MirrorTargetSpec> targets, MonoTime now) {
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  MutexLock lock(&mu_);
  if (!leading_ || targets == mirror_targets_) return false;
  mirror_targets_ = std::move(targets);
  for (auto& [name, cluster] : clusters_) {
    std::vector<MirrorTargetSpec> mine = MirrorTargetsFor(mirror_targets_, name);
    if (mine == cluster.mirror_targets) continue;
    cluster.mirror_targets = std::move(mine);
    // The same grant rules as a heartbeat's answer: a member that would get
    // nothing now (an active being replaced) gets the targets with its next
    // grant. Grants wait while ZooKeeper is lost.
    if (connected_) PushGrants(cluster, now);
  }
  return true;
}

std::vector<MirrorTargetSpec> ClusterBook::MirrorTargets() const {
  MutexLock lock(&mu_);
  return mirror_targets_;
}

std::map<std::string, ClusterState> ClusterBook::States() const {
  MutexLock lock(&mu_);
  std::map<std::string, ClusterState> states;
  for (const auto& [name, cluster] : clusters_) states[name] = cluster.state;
  return states;
}

std::map<std::string, Reports> ClusterBook::AllReports() const {
  MutexLock lock(&mu_);
  std::map<std::string, Reports> reports;
  for (const auto& [name, cluster] : clusters_) reports[name] = cluster.reports;
  return reports;
}

std::map<std::string, std::string> ClusterBook::WaitingFor() const {
  MutexLock lock(&mu_);
  std::map<std::string, std::string> waiting;
  for (const auto& [name, cluster] : clusters_) {
    if (!cluster.waiting_for.empty()) waiting[name] = cluster.waiting_for;
  }
  return waiting;
}

Status ClusterBook::StartOperation(const std::string& name, OperationRequest request, MonoTime now,
                                   OperationDone done) {
  MutexLock lock(&mu_);
  if (!leading_ || !connected_) return Status::Unavailable("this arbiter replica does not lead (or lost ZooKeeper)");
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return Status::NotFound("no cluster named \"" + name + "\"");
  Cluster& cluster = it->second;
  const std::string_view kind = OperationKindName(request.kind);
  if (cluster.operation) {
    return Status::Aborted(fmt::format("a {} to {} is already running on {} (started {} ms ago)",
                                       OperationKindName(cluster.operation->request.kind),
                                       cluster.operation->request.to, name,
                                       Ms(now - cluster.operation->started).count()));
  }
  const ClusterState& state = cluster.state;
  auto report_of = [&](const std::string& id) -> const InstanceReport* {
    auto r = cluster.reports.find(id);
    return r == cluster.reports.end() ? nullptr : &r->second;
  };
  if (request.kind == OperationKind::kSwitchover) {
    if (state.active.empty()) return Status::FailedPrecondition(name + " has no active to switch over from; use failover");
    const InstanceReport* active = report_of(state.active);
    if (active == nullptr || !IsHealthyReport(*active) || active->heartbeat.epoch() != state.epoch) {
      return Status::FailedPrecondition(fmt::format("the active {} is not reporting healthy; use failover", state.active));
    }
    if (active->heartbeat.handing_over()) {
      return Status::Aborted(fmt::format("{} is still leaving an earlier handover; retry in a moment", state.active));
    }
    if (request.to.empty()) {
      // The best healthy sync standby, by the promotion order.
      const InstanceReport* best = nullptr;
      for (const std::string& id : state.sync_set) {
        const InstanceReport* r = report_of(id);
        if (r == nullptr || !IsHealthyReport(*r) || id == state.active) continue;
        auto key = [&](const InstanceReport* x, const std::string& xid) {
          return std::make_tuple(x->heartbeat.durable().epoch(), x->heartbeat.durable().seq(),
                                 EffectivePriority(cluster.config, xid, x));
        };
        if (best == nullptr || key(r, id) > key(best, request.to)) {
          best = r;
          request.to = id;
        }
      }
      if (best == nullptr) {
        return Status::FailedPrecondition(fmt::format("no healthy standby in the sync set {{{}}} of {}",
                                                      fmt::join(state.sync_set, ","), name));
      }
    }
  } else if (request.to.empty()) {
    return Status::InvalidArgument("to: a failover needs the instance to promote");
  }
  if (request.to == state.active) return Status::FailedPrecondition(request.to + " is already the active of " + name);
  if (!state.members.contains(request.to)) {
    return Status::FailedPrecondition(fmt::format("{} is not a member of {}", request.to, name));
  }
  if (!InSyncSet(state, request.to) && !(request.kind == OperationKind::kFailover && request.force)) {
    return Status::FailedPrecondition(fmt::format(
        "{} is not in the sync set {{{}}} of {}{}", request.to, fmt::join(state.sync_set, ","), name,
        request.kind == OperationKind::kFailover ? "; pass force to promote it anyway (writes it lacks are lost)"
                                                 : ""));
  }
  const InstanceReport* candidate = report_of(request.to);
  if (candidate == nullptr || !IsHealthyReport(*candidate)) {
    return Status::FailedPrecondition(fmt::format("{} is not reporting healthy", request.to));
  }
  spdlog::info("cluster={}: {} to {} requested (from {}, timeout {} ms{})", name, kind, request.to,
               state.active.empty() ? "(none)" : state.active, request.timeout.count(), request.force ? ", forced" : "");
  QueueEvent({.cluster = name,
              .type = std::string(kind),
              .instance = request.to,
              .epoch = state.epoch,
              .fields = {{"result", "started"},
                         {"from", state.active},
                         {"force", request.force},
                         {"message", fmt::format("{} from {} to {} started", kind,
                                                 state.active.empty() ? "(none)" : state.active, request.to)}}});
  cluster.operation = Cluster::Operation{
      .request = std::move(request), .from = state.active, .started = now, .done = std::move(done)};
  return Status::Ok();
}

Status ClusterBook::RequestMaintenance(const std::string& name, bool enabled, OperationDone done) {
  MutexLock lock(&mu_);
  if (!leading_ || !connected_) return Status::Unavailable("this arbiter replica does not lead (or lost ZooKeeper)");
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return Status::NotFound("no cluster named \"" + name + "\"");
  it->second.maintenance_request = enabled;
  it->second.maintenance_done.push_back(std::move(done));
  return Status::Ok();
}

void ClusterBook::NoteReport(const std::string& name, Cluster& cluster, const v1::Heartbeat& previous,
                             const v1::Heartbeat& heartbeat) {
  const std::string& id = heartbeat.instance_id();
  if (heartbeat.fenced() && !previous.fenced() && heartbeat.role() == v1::ROLE_ACTIVE) {
    QueueEvent({.cluster = name,
                .type = "fencing",
                .instance = id,
                .epoch = heartbeat.epoch(),
                .fields = {{"message", fmt::format("{} reports its lease expired at epoch {}: it acknowledges "
                                                   "nothing until it is renewed or reassigned",
                                                   id, heartbeat.epoch())}}});
  }
  if (!cluster.demoting.empty() && id == cluster.demoting && heartbeat.role() == v1::ROLE_STANDBY &&
      heartbeat.epoch() >= cluster.state.epoch) {
    QueueEvent({.cluster = name,
                .type = "demotion",
                .instance = id,
                .epoch = heartbeat.epoch(),
                .fields = {{"message", fmt::format("the former active {} serves as a standby at epoch {}", id,
                                                   heartbeat.epoch())}}});
    cluster.demoting.clear();
  }
}

void ClusterBook::QueueEvent(ClusterEvent event) {
  if (events_.size() >= kMaxQueuedEvents) events_.erase(events_.begin());
  if (!event.fields.contains("time_ms")) event.fields["time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  events_.push_back(std::move(event));
}

void ClusterBook::AddEvent(ClusterEvent event) {
  MutexLock lock(&mu_);
  QueueEvent(std::move(event));
}

std::vector<ClusterEvent> ClusterBook::TakeEvents() {
  MutexLock lock(&mu_);
  return std::exchange(events_, {});
}

std::map<std::string, ClusterObservation> ClusterBook::Observe(MonoTime now) const {
  MutexLock lock(&mu_);
  std::map<std::string, ClusterObservation> out;
  for (const auto& [name, cluster] : clusters_) {
    ClusterObservation& o = out[name];
    o.state = cluster.state;
    o.config = cluster.config;
    o.reports = cluster.reports;
    o.waiting_for = cluster.waiting_for;
    if (cluster.operation) {
      o.operation = cluster.operation->request;
      o.operation_age = Ms(now - cluster.operation->started);
    }
    o.mirror_targets = cluster.mirror_targets;
  }
  return out;
}

}  // namespace baton::arbiter

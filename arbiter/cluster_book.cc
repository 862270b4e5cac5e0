#include "arbiter/cluster_book.h"

#include <spdlog/spdlog.h>

namespace baton::arbiter {
namespace {

std::string WithoutDigits(std::string text) {
  std::erase_if(text, [](char c) { return c >= '0' && c <= '9'; });
  return text;
}

}  // namespace

ClusterBook::ClusterBook(ClusterBookOptions options) : options_(std::move(options)) {}

void ClusterBook::Lead(MonoTime now, std::map<std::string, ClusterState> states,
                       std::map<std::string, ClusterConfig> configs) {
  MutexLock lock(&mu_);
  leading_ = true;
  connected_ = true;
  leader_since_ = now;
  clusters_.clear();
  for (auto& [name, state] : states) ClusterFor(name).state = std::move(state);
  for (auto& [name, config] : configs) ClusterFor(name).config = std::move(config);
}

void ClusterBook::Resign() {
  MutexLock lock(&mu_);
  leading_ = false;
  connected_ = false;
  clusters_.clear();
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
  if (inserted) it->second.decider = std::make_unique<ClusterDecider>(options_.timing, leader_since_);
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
  report.heartbeat = heartbeat;
  report.received = now;
  report.stream_open = true;
  cluster.stream_of[id] = stream_id;

  if (cluster.promoted_detected_at && id == cluster.state.active && heartbeat.role() == v1::ROLE_ACTIVE &&
      heartbeat.epoch() == cluster.state.epoch) {
    outcome.failover_duration = now - *cluster.promoted_detected_at;
    outcome.completed_cluster = heartbeat.cluster();
    cluster.promoted_detected_at.reset();
  }
  if (!connected_) return outcome;
  // While the active is being replaced it must not get another lease.
  if (cluster.pending && id == cluster.state.active) return outcome;
  // Before the first promotion there is no epoch to assign anyone to.
  if (cluster.state.epoch == 0) return outcome;
  // A standby's grant tells its gateway the arbiter is reachable, which
  // denies the active its failsafe. Right after this replica took over, the
  // active's agent may still be finding its way here: until the active has
  // been granted once (or a lease has passed, after which it counts as
  // failed anyway), standbys wait, so the handover does not fence a healthy
  // active that failsafe was carrying.
  if (id != cluster.state.active && !cluster.state.active.empty() && !cluster.active_granted &&
      now < leader_since_ + options_.timing.lease) {
    return outcome;
  }
  if (!cluster.decider->ShouldGrant(cluster.state, id, report)) return outcome;
  if (id == cluster.state.active) cluster.active_granted = true;
  v1::Assignment assignment = AssignmentFor(cluster.state, cluster.config, id);
  if (assignment.role() == v1::ROLE_UNASSIGNED) return outcome;
  assignment.set_lease_ms(options_.lease_ms);
  assignment.set_failsafe(options_.failsafe);
  *outcome.response.mutable_assignment() = std::move(assignment);
  return outcome;
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
    Decision decision = cluster.decider->Decide(cluster.state, cluster.config, cluster.reports, now);
    // Log what it waits for when that changes, not when only a countdown in
    // the text does.
    if (WithoutDigits(decision.waiting_for) != WithoutDigits(cluster.waiting_for) &&
        !decision.waiting_for.empty()) {
      spdlog::info("cluster={} waiting: {}", name, decision.waiting_for);
    }
    cluster.waiting_for = decision.waiting_for;
    if (!decision.new_state) continue;
    cluster.pending = true;
    ClusterState state = *decision.new_state;
    changes.push_back(PendingChange{name, std::move(state), std::move(decision)});
  }
  return changes;
}

void ClusterBook::Committed(const PendingChange& change, int32_t zk_version, MonoTime now) {
  MutexLock lock(&mu_);
  if (!leading_) return;
  Cluster& cluster = ClusterFor(change.cluster);
  cluster.pending = false;
  cluster.state = change.state;
  cluster.state.zk_version = zk_version;
  if (change.decision.promotion) {
    cluster.promoted_detected_at =
        change.decision.detected_at == MonoTime{} ? now : change.decision.detected_at;
  }
}

void ClusterBook::Abandoned(const std::string& cluster_name, std::optional<ClusterState> reloaded) {
  MutexLock lock(&mu_);
  if (!leading_) return;
  Cluster& cluster = ClusterFor(cluster_name);
  cluster.pending = false;
  if (reloaded) cluster.state = std::move(*reloaded);
}

void ClusterBook::SetConfig(const std::string& cluster_name, const ClusterConfig& config) {
  MutexLock lock(&mu_);
  if (!leading_) return;
  ClusterFor(cluster_name).config = config;
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

}  // namespace baton::arbiter

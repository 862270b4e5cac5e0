#include "arbiter/decisions.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace baton::arbiter {
namespace {

bool IsHealthy(const InstanceReport& report) { return IsHealthyReport(report); }

// When the reported positions were observed, at the latest: the agent's
// probe began probe_age_ms before it sent the heartbeat, which was before we
// received it.
MonoTime ObservedBy(const InstanceReport& report) {
  return report.received - std::chrono::milliseconds(report.heartbeat.probe_age_ms());
}

const InstanceReport* Find(const Reports& reports, const std::string& id) {
  auto it = reports.find(id);
  return it == reports.end() ? nullptr : &it->second;
}

// Milliseconds from `now` to `until`, rounded up so that "1 ms left" is
// never shown as 0 while the wait is not over.
int64_t MsLeft(MonoTime now, MonoTime until) {
  return std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
}

std::string IdList(const std::vector<std::string>& ids) { return fmt::format("{{{}}}", fmt::join(ids, ",")); }

std::string PositionText(const v1::LogPosition& position) {
  return fmt::format("{}:{}", position.epoch(), position.seq());
}

StoredPosition Stored(const v1::LogPosition& position) { return {position.epoch(), position.seq()}; }

std::string PositionText(const StoredPosition& position) { return fmt::format("{}:{}", position.epoch, position.seq); }

struct Candidate {
  std::string id;
  v1::LogPosition durable;
  uint32_t priority = 0;
};

// Promotion order: highest durable (epoch, seq), then highest priority, then
// lowest id.
bool Before(const Candidate& a, const Candidate& b) {
  const auto a_pos = std::make_pair(a.durable.epoch(), a.durable.seq());
  const auto b_pos = std::make_pair(b.durable.epoch(), b.durable.seq());
  if (a_pos != b_pos) return a_pos > b_pos;
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

// One above every epoch stored or reported, so that the new epoch fences
// everything any gateway may have seen, even an epoch the state lost.
uint64_t NextEpoch(const ClusterState& state, const Reports& reports) {
  uint64_t highest = state.epoch;
  for (const auto& [id, report] : reports) {
    const v1::Heartbeat& hb = report.heartbeat;
    highest = std::max({highest, hb.epoch(), hb.durable().epoch(), hb.applied().epoch()});
  }
  return highest + 1;
}

Decision Waiting(std::string what, MonoTime detected_at = {}) {
  Decision decision;
  decision.waiting_for = std::move(what);
  decision.detected_at = detected_at;
  return decision;
}

// Rule 1. Adds reporting instances as members (or updates their address);
// settles pending sync-set members (learns the bar from the active's report
// that it enforces them, drops them once they report reaching it); and, when
// nobody is pending, lets members that report as healthy standbys at the
// current epoch, caught up with the active's reported durable position, join
// the sync set as pending. nullopt when nothing changes.
std::optional<Decision> Membership(const ClusterState& state, const ClusterConfig& config, const Reports& reports) {
  ClusterState next = state;
  std::vector<std::string> notes;
  for (const auto& [id, report] : reports) {
    const std::string& address = report.heartbeat.address();
    if (id.empty() || address.empty()) continue;  // nothing anyone could connect to
    auto [member, added] = next.members.try_emplace(id, address);
    if (added) {
      notes.push_back(fmt::format("add member {} at {}", id, address));
    } else if (member->second != address) {
      notes.push_back(fmt::format("member {} moves from {} to {}", id, member->second, address));
      member->second = address;
    }
  }
  // A standby joins only once it holds what the active last reported
  // durable, and counts as holding every acknowledged write only once it
  // reaches what the active had when it began enforcing it (sync_pending,
  // below): writes acknowledged before that under the smaller sync set (with
  // an empty one, by the active alone) may be missing on it. So nobody joins
  // while the active is not reporting as the healthy active of this epoch.
  const InstanceReport* active = Find(reports, state.active);
  const bool active_reports = active != nullptr && IsHealthy(*active) &&
                              active->heartbeat.role() == v1::ROLE_ACTIVE && active->heartbeat.epoch() == state.epoch;
  std::vector<std::string> learned;
  std::vector<std::string> settled;
  for (auto it = next.sync_pending.begin(); it != next.sync_pending.end();) {
    const std::string& id = it->first;
    std::optional<StoredPosition>& required = it->second;
    if (!required && active_reports) {
      const auto& enforced = active->heartbeat.sync_enforced();
      if (std::find(enforced.begin(), enforced.end(), id) != enforced.end()) {
        required = Stored(active->heartbeat.durable());
        learned.push_back(fmt::format("{} (must reach {})", id, PositionText(*required)));
      }
    }
    // Durable positions only grow within a history, and a report at or past
    // the bar means the member held everything up to it then.
    const InstanceReport* report = Find(reports, id);
    if (required && report != nullptr && Stored(report->heartbeat.durable()) >= *required) {
      settled.push_back(id);
      it = next.sync_pending.erase(it);
    } else {
      ++it;
    }
  }
  // One batch of joins at a time: Promote's check for pending members
  // (UncoveredByPending) assumes they all joined under one assignment.
  std::vector<std::string> joined;
  for (const auto& [id, report] : reports) {
    if (!active_reports || !next.sync_pending.empty()) break;
    if (!next.members.contains(id) || id == next.active) continue;
    if (std::find(next.sync_set.begin(), next.sync_set.end(), id) != next.sync_set.end()) continue;
    if (EffectivePriority(config, id, &report) == 0) continue;
    const v1::Heartbeat& hb = report.heartbeat;
    if (hb.role() != v1::ROLE_STANDBY || hb.epoch() != state.epoch || !IsHealthy(report)) continue;
    if (Stored(hb.durable()) < Stored(active->heartbeat.durable())) continue;
    next.sync_set.push_back(id);
    joined.push_back(id);
  }
  for (const std::string& id : joined) next.sync_pending[id] = std::nullopt;
  if (notes.empty() && joined.empty() && learned.empty() && settled.empty()) return std::nullopt;
  std::sort(next.sync_set.begin(), next.sync_set.end());
  if (!joined.empty()) {
    notes.push_back(fmt::format("{} join{} the sync set at epoch {} (pending until {} reports enforcing {})",
                                fmt::join(joined, ","), joined.size() == 1 ? "s" : "", state.epoch, state.active,
                                joined.size() == 1 ? "it" : "them"));
  }
  if (!learned.empty()) {
    notes.push_back(fmt::format("{} enforces {}", state.active, fmt::join(learned, ", ")));
  }
  if (!settled.empty()) {
    notes.push_back(fmt::format("{} hold{} every acknowledged write", fmt::join(settled, ","),
                                settled.size() == 1 ? "s" : ""));
  }
  Decision decision;
  decision.new_state = std::move(next);
  decision.reason = fmt::format("{}", fmt::join(notes, "; "));
  return decision;
}

// Rule 2: the first active of a cluster.
Decision Bootstrap(const ClusterState& state, const ClusterConfig& config, const Reports& reports, MonoTime now,
                   MonoTime not_before) {
  if (state.maintenance) return Waiting("maintenance");
  if (now < not_before) {
    return Waiting(fmt::format("first lease of this leader: {} ms left before the first promotion", MsLeft(now, not_before)));
  }
  std::vector<Candidate> candidates;
  for (const auto& [id, address] : state.members) {
    const InstanceReport* report = Find(reports, id);
    if (report == nullptr || !IsHealthy(*report)) continue;
    const uint32_t priority = EffectivePriority(config, id, report);
    if (priority == 0) continue;
    candidates.push_back({id, report->heartbeat.durable(), priority});
  }
  if (candidates.empty()) return Waiting("a healthy member with priority >= 1 to report");
  std::sort(candidates.begin(), candidates.end(), Before);

  ClusterState next = state;
  next.epoch = NextEpoch(state, reports);
  next.active = candidates.front().id;
  next.sync_set.clear();
  next.sync_pending.clear();  // the new active has acknowledged nothing yet
  for (size_t i = 1; i < candidates.size(); ++i) next.sync_set.push_back(candidates[i].id);
  std::sort(next.sync_set.begin(), next.sync_set.end());

  Decision decision;
  decision.reason = fmt::format("promote {} to active at epoch {} ({}: first active of the cluster, durable {}; sync set {})",
                                next.active, next.epoch, PromotionReasonName(PromotionReason::kBootstrap),
                                PositionText(candidates.front().durable), IdList(next.sync_set));
  decision.new_state = std::move(next);
  decision.promotion = PromotionReason::kBootstrap;
  decision.detected_at = now;
  return decision;
}

struct Failure {
  MonoTime at;
  PromotionReason reason;
  std::string what;
};

// Rule 3 for a cluster with an active. nullopt while the active is usable or
// its lease may still run.
std::optional<Failure> DetectFailure(const ClusterState& state, std::optional<MonoTime> gone_since, MonoTime now,
                                     MonoTime lease_expired_at) {
  std::optional<Failure> failure;
  if (gone_since) {
    failure = Failure{*gone_since, PromotionReason::kProcessGone,
                      fmt::format("{}'s agent reports its gateway process gone", state.active)};
  }
  // Both can hold; the earlier detection admits more reports as fresh, and
  // each alone proves the old active can acknowledge nothing more.
  if (now >= lease_expired_at && (!failure || lease_expired_at < failure->at)) {
    failure = Failure{lease_expired_at, PromotionReason::kLeaseExpired,
                      fmt::format("{} was not renewed and its lease ran out {} ms ago", state.active,
                                  std::chrono::duration_cast<std::chrono::milliseconds>(now - lease_expired_at).count())};
  }
  return failure;
}

bool InSyncSet(const ClusterState& state, const std::string& id) {
  return std::find(state.sync_set.begin(), state.sync_set.end(), id) != state.sync_set.end();
}

bool PositionBefore(const v1::LogPosition& a, const v1::LogPosition& b) {
  return std::make_pair(a.epoch(), a.seq()) < std::make_pair(b.epoch(), b.seq());
}

// The state after promoting `id`, which holds every acknowledged write at or
// below `holds`: a new epoch, `id` out of the sync set, and every other
// member pending until it reaches `holds` (the writes acknowledged before may
// be on `id` alone).
ClusterState Promoted(const ClusterState& state, const Reports& reports, const std::string& id,
                      const v1::LogPosition& holds) {
  ClusterState next = state;
  next.epoch = NextEpoch(state, reports);
  next.active = id;
  next.sync_set.erase(std::remove(next.sync_set.begin(), next.sync_set.end(), id), next.sync_set.end());
  next.sync_pending.clear();
  for (const std::string& member : next.sync_set) next.sync_pending[member] = Stored(holds);
  return next;
}

// Empty when the fresh reports hold every write the active may have
// acknowledged before it enforced the pending members; else what is still
// missing. Either a fresh report is at or past a pending member's bar (it
// holds all of them), or a quorum of the settled members does, by the rule
// of their own sync set (the one those writes were acknowledged under).
// Membership lets one batch join at a time, so that is the only older set.
std::string UncoveredByPending(const ClusterState& state, const ClusterConfig& config,
                               const std::vector<Candidate>& fresh) {
  if (state.sync_pending.empty() || config.sync_standbys == 0) return {};
  std::optional<StoredPosition> lowest_bar;
  std::vector<std::string> pending;
  for (const auto& [id, required] : state.sync_pending) {
    pending.push_back(id);
    if (required && (!lowest_bar || *required < *lowest_bar)) lowest_bar = *required;
  }
  if (lowest_bar) {
    for (const Candidate& candidate : fresh) {
      if (Stored(candidate.durable) >= *lowest_bar) return {};
    }
  }
  std::vector<std::string> settled;
  for (const std::string& id : state.sync_set) {
    if (!state.sync_pending.contains(id) && id != state.active) settled.push_back(id);
  }
  size_t settled_fresh = 0;
  for (const Candidate& candidate : fresh) {
    if (std::find(settled.begin(), settled.end(), candidate.id) != settled.end()) ++settled_fresh;
  }
  const size_t k = std::min<size_t>(config.sync_standbys, settled.size());
  const size_t needed = config.sync_standbys >= settled.size() ? settled.size() : settled.size() - k + 1;
  if (!settled.empty() && settled_fresh >= needed) return {};
  const std::string bar = lowest_bar ? fmt::format("a fresh report at or past {}", PositionText(*lowest_bar))
                                     : fmt::format("a report of {} that it enforces them", state.active);
  if (settled.empty()) {
    return fmt::format("{}: {} may lack writes acknowledged without them", bar, IdList(pending));
  }
  return fmt::format("{}, or fresh reports from {} of the settled sync set {} ({} so far): {} may lack writes "
                     "acknowledged without them",
                     bar, needed, IdList(settled), settled_fresh, IdList(pending));
}

Decision Refused(std::string why) {
  Decision decision;
  decision.refused = std::move(why);
  return decision;
}

// Rule 4: promote the best fresh sync-set member once a quorum has reported.
// With `chosen` (an operator's failover) the candidate is fixed: it must be
// fresh and healthy, and, unless forced, pass the same quorum and be at
// least as advanced as every fresh report.
Decision Promote(const ClusterState& state, const ClusterConfig& config, const Reports& reports, MonoTime now,
                 MonoTime not_before, const Failure& failure, const OperatorRequest* chosen = nullptr) {
  if (state.maintenance && chosen == nullptr) return Waiting("maintenance", failure.at);
  if (now < not_before) {
    return Waiting(fmt::format("first lease of this leader: {} ms left before any promotion", MsLeft(now, not_before)),
                   failure.at);
  }
  const InstanceReport* chosen_report = nullptr;
  if (chosen != nullptr) {
    chosen_report = Find(reports, chosen->to);
    if (chosen_report == nullptr || !IsHealthy(*chosen_report) || ObservedBy(*chosen_report) <= failure.at) {
      return Waiting(fmt::format("a healthy report from {} after the failure", chosen->to), failure.at);
    }
    if (!chosen->force && !InSyncSet(state, chosen->to)) {
      return Refused(fmt::format("{} is not in the sync set {}; pass force to promote it anyway", chosen->to,
                                 IdList(state.sync_set)));
    }
  }
  std::vector<std::string> sync_set;
  for (const std::string& id : state.sync_set) {
    if (id != state.active) sync_set.push_back(id);  // the active is never its own successor
  }
  std::string winner;
  v1::LogPosition winner_durable;
  std::string quorum_note;
  if (chosen != nullptr && chosen->force) {
    winner = chosen->to;
    winner_durable = chosen_report->heartbeat.durable();
    quorum_note = "forced";
  } else {
    if (sync_set.empty()) {
      return Waiting("a sync standby: the sync set is empty, so nobody can be promoted", failure.at);
    }
    // Acknowledged writes are on k members of the sync set, so any |S| - k + 1
    // include one that has each of them. k = 0 puts no write on any standby:
    // the best we can do is hear from all of them. While the configured k is
    // clamped to |S|, the active may still ack under a smaller, older sync set
    // (a member just joined and raised the effective k before the active's
    // assignment caught up), so then every member must report.
    const bool clamped = config.sync_standbys >= sync_set.size();
    const size_t k = std::min<size_t>(config.sync_standbys, sync_set.size());
    const size_t needed = k == 0 || clamped ? sync_set.size() : sync_set.size() - k + 1;
    std::vector<Candidate> fresh;
    for (const std::string& id : sync_set) {
      const InstanceReport* report = Find(reports, id);
      // Observed strictly after the detection: earlier positions may predate
      // writes the old active acknowledged.
      if (report == nullptr || !IsHealthy(*report) || ObservedBy(*report) <= failure.at) continue;
      fresh.push_back({id, report->heartbeat.durable(), EffectivePriority(config, id, report)});
    }
    if (fresh.size() < needed) {
      return Waiting(fmt::format("fresh reports from {} of the sync set {} ({} so far)", needed, IdList(sync_set),
                                 fresh.size()),
                     failure.at);
    }
    if (std::string uncovered = UncoveredByPending(state, config, fresh); !uncovered.empty()) {
      return Waiting(std::move(uncovered), failure.at);
    }
    std::sort(fresh.begin(), fresh.end(), Before);
    const Candidate& best = fresh.front();
    if (chosen != nullptr) {
      if (PositionBefore(chosen_report->heartbeat.durable(), best.durable)) {
        return Refused(fmt::format("{} is behind {} ({} < {}); fail over to {}, or pass force to accept the loss",
                                   chosen->to, best.id, PositionText(chosen_report->heartbeat.durable()),
                                   PositionText(best.durable), best.id));
      }
      winner = chosen->to;
      winner_durable = chosen_report->heartbeat.durable();
    } else {
      if (best.priority == 0) {
        // Promoting a less advanced member could lose a write only `best` has.
        return Waiting(fmt::format("{} holds the highest durable position {} but has priority 0", best.id,
                                   PositionText(best.durable)),
                       failure.at);
      }
      winner = best.id;
      winner_durable = best.durable;
    }
    quorum_note = fmt::format("{} of {} sync standbys reported", fresh.size(), sync_set.size());
  }

  const PromotionReason reason = chosen != nullptr ? PromotionReason::kManualFailover : failure.reason;
  Decision decision;
  decision.new_state = Promoted(state, reports, winner, winner_durable);
  decision.reason = fmt::format("promote {} to active at epoch {} ({}: {}; {}, durable {})", winner,
                                decision.new_state->epoch, PromotionReasonName(reason), failure.what, quorum_note,
                                PositionText(winner_durable));
  decision.promotion = reason;
  decision.detected_at = failure.at;
  return decision;
}

}  // namespace

std::string_view PromotionReasonName(PromotionReason reason) {
  switch (reason) {
    case PromotionReason::kBootstrap:
      return "bootstrap";
    case PromotionReason::kProcessGone:
      return "process_gone";
    case PromotionReason::kLeaseExpired:
      return "lease_expired";
    case PromotionReason::kSwitchover:
      return "switchover";
    case PromotionReason::kManualFailover:
      return "manual_failover";
  }
  return "unknown";
}

bool IsHealthyReport(const InstanceReport& report) {
  const v1::Health health = report.heartbeat.health();
  return report.stream_open && !report.heartbeat.gateway_process_gone() &&
         (health == v1::HEALTH_OK || health == v1::HEALTH_DEGRADED);
}

void ClusterDecider::Reprieve(MonoTime now) {
  lease_expired_at_ = std::max(lease_expired_at_, now + timing_.lease + timing_.lease_margin);
}

uint32_t EffectivePriority(const ClusterConfig& config, const std::string& instance, const InstanceReport* report) {
  if (auto it = config.priorities.find(instance); it != config.priorities.end()) return it->second;
  return report == nullptr ? 0 : report->heartbeat.priority();
}

ClusterDecider::ClusterDecider(DecisionTiming timing, MonoTime leader_since)
    : timing_(timing),
      first_promotion_at_(leader_since + timing.lease + timing.lease_margin),
      lease_expired_at_(first_promotion_at_) {}

void ClusterDecider::Track(const ClusterState& state, MonoTime now) {
  if (tracking_ && state.epoch == granted_epoch_ && state.active == granted_active_) return;
  if (tracking_ && !state.active.empty()) {
    // A new active (ours or an operator's) gets a lease's time to report
    // before its silence counts as a failure.
    lease_expired_at_ = std::max(lease_expired_at_, now + timing_.lease + timing_.lease_margin);
  }
  tracking_ = true;
  granted_epoch_ = state.epoch;
  granted_active_ = state.active;
  gone_since_.reset();
}

bool ClusterDecider::ShouldGrant(const ClusterState& state, const std::string& instance, const InstanceReport& report) {
  if (!state.members.contains(instance)) return false;
  if (instance != state.active) return true;
  if (state.epoch < decided_epoch_ || !IsHealthy(report)) return false;
  tracking_ = true;
  granted_epoch_ = state.epoch;
  granted_active_ = state.active;
  // The agent sent the heartbeat before we received it, so the gateway's
  // lease ends by received + lease; never shorten a bound already given.
  lease_expired_at_ = std::max(lease_expired_at_, report.received + timing_.lease + timing_.lease_margin);
  return true;
}

void ClusterDecider::Observe(const ClusterState& state, const Reports& reports, MonoTime now) {
  Track(state, now);
  // The first "gone" report is the detection: the agent keeps repeating it,
  // and measuring freshness from the latest repeat could starve the quorum.
  const InstanceReport* active = state.active.empty() ? nullptr : Find(reports, state.active);
  if (active == nullptr || !active->heartbeat.gateway_process_gone()) {
    gone_since_.reset();
  } else if (!gone_since_) {
    gone_since_ = active->received;
  }
}

Decision ClusterDecider::Decide(const ClusterState& state, const ClusterConfig& config, const Reports& reports,
                                MonoTime now) {
  Observe(state, reports, now);
  if (std::optional<Decision> membership = Membership(state, config, reports)) return std::move(*membership);

  Decision decision;
  if (state.active.empty() && state.epoch == 0) {
    decision = Bootstrap(state, config, reports, now, lease_expired_at_);
  } else if (state.active.empty()) {
    if (now < lease_expired_at_) {
      return Waiting(fmt::format("the cluster has no active; leases granted before: {} ms left",
                                 MsLeft(now, lease_expired_at_)));
    }
    decision = Promote(state, config, reports, now, first_promotion_at_,
                       Failure{lease_expired_at_, PromotionReason::kLeaseExpired,
                               fmt::format("the cluster has no active at epoch {}", state.epoch)});
  } else if (std::optional<Failure> failure = DetectFailure(state, gone_since_, now, lease_expired_at_)) {
    decision = Promote(state, config, reports, now, first_promotion_at_, *failure);
  } else {
    const InstanceReport* active = Find(reports, state.active);
    if (active == nullptr || !IsHealthy(*active)) {
      return Waiting(fmt::format("lease of {}: {} ms left", state.active, MsLeft(now, lease_expired_at_)));
    }
    return decision;  // a healthy active: nothing to do
  }
  if (decision.new_state) decided_epoch_ = std::max(decided_epoch_, decision.new_state->epoch);
  return decision;
}

Decision ClusterDecider::DecideSwitchover(const ClusterState& state, const ClusterConfig& config,
                                          const Reports& reports, MonoTime now, const OperatorRequest& request) {
  Decision automatic = Decide(state, config, reports, now);
  if (automatic.new_state || state.active.empty()) return automatic;
  if (request.to == state.active) return Refused(fmt::format("{} is already the active", request.to));
  if (!state.members.contains(request.to) || !InSyncSet(state, request.to)) {
    return Refused(fmt::format("{} is no longer in the sync set {}", request.to, IdList(state.sync_set)));
  }
  const InstanceReport* active = Find(reports, state.active);
  if (active == nullptr || !active->heartbeat.handing_over() || active->heartbeat.epoch() != state.epoch ||
      ObservedBy(*active) <= request.started) {
    return Waiting(fmt::format("{} to confirm that it hands over to {}", state.active, request.to));
  }
  // Nothing is acknowledged once the gateway hands over, so every
  // acknowledged write is at or below this position.
  const v1::LogPosition& handed_over_at = active->heartbeat.durable();
  const InstanceReport* candidate = Find(reports, request.to);
  if (candidate == nullptr || !IsHealthy(*candidate) || candidate->heartbeat.role() != v1::ROLE_STANDBY ||
      candidate->heartbeat.epoch() != state.epoch) {
    return Waiting(fmt::format("{} to report healthy as a standby at epoch {}", request.to, state.epoch));
  }
  if (PositionBefore(candidate->heartbeat.durable(), handed_over_at)) {
    return Waiting(fmt::format("{} to catch up to {} (at {})", request.to, PositionText(handed_over_at),
                               PositionText(candidate->heartbeat.durable())));
  }
  Decision decision;
  decision.new_state = Promoted(state, reports, request.to, handed_over_at);
  if (EffectivePriority(config, state.active, active) > 0) {
    decision.new_state->sync_set.push_back(state.active);
    std::sort(decision.new_state->sync_set.begin(), decision.new_state->sync_set.end());
    decision.new_state->sync_pending[state.active] = Stored(handed_over_at);  // settled by its next report
  }
  decision.reason = fmt::format("promote {} to active at epoch {} ({}: {} handed over at {}, {} durable {}; sync set {})",
                                request.to, decision.new_state->epoch, PromotionReasonName(PromotionReason::kSwitchover),
                                state.active, PositionText(handed_over_at), request.to,
                                PositionText(candidate->heartbeat.durable()), IdList(decision.new_state->sync_set));
  decision.promotion = PromotionReason::kSwitchover;
  decision.detected_at = request.started;
  decided_epoch_ = std::max(decided_epoch_, decision.new_state->epoch);
  return decision;
}

Decision ClusterDecider::DecideFailover(const ClusterState& state, const ClusterConfig& config,
                                        const Reports& reports, MonoTime now, const OperatorRequest& request) {
  Observe(state, reports, now);
  if (std::optional<Decision> membership = Membership(state, config, reports)) return std::move(*membership);
  if (!state.members.contains(request.to)) {
    return Refused(fmt::format("{} is not a member of the cluster", request.to));
  }
  if (request.to == state.active) return Refused(fmt::format("{} is already the active", request.to));
  std::optional<Failure> failure;
  if (state.active.empty()) {
    if (now >= lease_expired_at_) {
      failure = Failure{lease_expired_at_, PromotionReason::kManualFailover,
                        fmt::format("the cluster has no active at epoch {}", state.epoch)};
    }
  } else {
    failure = DetectFailure(state, gone_since_, now, lease_expired_at_);
  }
  if (!failure) {
    return Waiting(fmt::format("the lease of {} to run out: {} ms left before {} may be promoted",
                               state.active.empty() ? std::string("the last active") : state.active,
                               MsLeft(now, lease_expired_at_), request.to));
  }
  Decision decision = Promote(state, config, reports, now, first_promotion_at_, *failure, &request);
  if (decision.new_state) decided_epoch_ = std::max(decided_epoch_, decision.new_state->epoch);
  return decision;
}

}  // namespace baton::arbiter

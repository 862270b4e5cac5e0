// The arbiter's failover rules on a manual clock: lease arithmetic to the
// millisecond, the new leader's wait, fast and lease paths, candidate order,
// quorum of fresh reports, epochs, maintenance, bootstrap and membership.
#include "arbiter/decisions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace baton::arbiter {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr auto kLease = 2000ms;
constexpr auto kMargin = 40ms;

DecisionTiming Timing() { return DecisionTiming{kLease, kMargin}; }

// g1 active at epoch 4, g2 and g3 its sync standbys; every report matches the
// stored membership, so only what a test changes can change the state.
class DecisionsTest : public ::testing::Test {
 protected:
  DecisionsTest() : decider_(Timing(), clock_.Now() - 1h) {
    state_.epoch = 4;
    state_.active = "g1";
    state_.members = {{"g1", "g1:7000"}, {"g2", "g2:7000"}, {"g3", "g3:7000"}};
    state_.sync_set = {"g2", "g3"};
    // Granted now, so the lease path holds off until now + lease + margin.
    ActiveHealthy();
    EXPECT_TRUE(Grant("g1"));
  }

  InstanceReport& Report(const std::string& id, v1::Role role, uint64_t seq, uint64_t epoch = 4, uint32_t priority = 1) {
    InstanceReport& report = reports_[id];
    report = InstanceReport{};
    v1::Heartbeat& hb = report.heartbeat;
    hb.set_instance_id(id);
    hb.set_cluster("c1");
    hb.set_address(id + ":7000");
    hb.set_health(v1::HEALTH_OK);
    hb.set_role(role);
    hb.set_epoch(epoch);
    hb.mutable_durable()->set_epoch(epoch);
    hb.mutable_durable()->set_seq(seq);
    hb.set_priority(priority);
    report.received = clock_.Now();
    return report;
  }
  InstanceReport& Standby(const std::string& id, uint64_t seq, uint32_t priority = 1) {
    return Report(id, v1::ROLE_STANDBY, seq, state_.epoch, priority);
  }
  void ActiveHealthy() { Report("g1", v1::ROLE_ACTIVE, 100); }
  void ActiveGone() {
    InstanceReport& report = Report("g1", v1::ROLE_ACTIVE, 100);
    report.heartbeat.set_health(v1::HEALTH_DOWN);
    report.heartbeat.set_gateway_process_gone(true);
  }
  bool Grant(const std::string& id) { return decider_.ShouldGrant(state_, id, reports_.at(id)); }
  Decision Decide() { return decider_.Decide(state_, config_, reports_, clock_.Now()); }
  // The fast path detected now; fresh standby reports come 1 ms later.
  Decision FailOverWith(uint64_t g2_seq, uint32_t g2_priority, uint64_t g3_seq, uint32_t g3_priority) {
    ActiveGone();
    clock_.Advance(1ms);
    Standby("g2", g2_seq, g2_priority);
    Standby("g3", g3_seq, g3_priority);
    return Decide();
  }

  ManualClock clock_;
  ClusterState state_;
  ClusterConfig config_;
  Reports reports_;
  ClusterDecider decider_;
};

std::string Promoted(const Decision& decision) {
  return decision.promotion && decision.new_state ? decision.new_state->active : "";
}

TEST_F(DecisionsTest, LeaseIsSurelyOverExactlyLeasePlusMarginAfterTheGrantedReport) {
  const MonoTime t = clock_.Now();
  ActiveHealthy();
  ASSERT_TRUE(Grant("g1"));
  EXPECT_EQ(decider_.lease_surely_expired_at(), t + kLease + kMargin);

  clock_.Advance(10ms);  // SIGSTOP: probes time out, the agent reports it down
  Report("g1", v1::ROLE_ACTIVE, 100).heartbeat.set_health(v1::HEALTH_DOWN);
  EXPECT_FALSE(Grant("g1"));
  EXPECT_EQ(decider_.lease_surely_expired_at(), t + kLease + kMargin);

  clock_.Advance(kLease + kMargin - 11ms);  // t + lease + margin - 1 ms
  Standby("g2", 100);
  Standby("g3", 100);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "lease of g1: 1 ms left");

  clock_.Advance(1ms);  // detected; the reports above predate it
  d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.detected_at, t + kLease + kMargin);
  EXPECT_EQ(d.waiting_for, "fresh reports from 2 of the sync set {g2,g3} (0 so far)");

  clock_.Advance(1ms);
  Standby("g2", 100);
  Standby("g3", 100);
  d = Decide();
  EXPECT_EQ(Promoted(d), "g2");
  EXPECT_EQ(d.promotion, PromotionReason::kLeaseExpired);
  EXPECT_EQ(d.detected_at, t + kLease + kMargin);
  EXPECT_THAT(d.reason, HasSubstr("promote g2 to active at epoch 5 (lease_expired: g1 was not renewed"));
}

TEST_F(DecisionsTest, LeaseBoundNeverMovesBackwards) {
  const MonoTime t = clock_.Now();
  clock_.Advance(1s);
  ActiveHealthy();
  ASSERT_TRUE(Grant("g1"));
  reports_["g1"].received = t;  // an older report answered late
  ASSERT_TRUE(Grant("g1"));
  EXPECT_EQ(decider_.lease_surely_expired_at(), t + 1s + kLease + kMargin);

  state_.epoch = 5;  // another (epoch, active): the bound still only grows
  ASSERT_TRUE(Grant("g1"));
  EXPECT_EQ(decider_.lease_surely_expired_at(), t + 1s + kLease + kMargin);
}

TEST_F(DecisionsTest, StandbysAreGrantedNonMembersAreNot) {
  Standby("g2", 1).heartbeat.set_health(v1::HEALTH_DOWN);
  EXPECT_TRUE(Grant("g2"));  // a standby assignment promises nothing
  Report("g9", v1::ROLE_UNASSIGNED, 0, 0);
  EXPECT_FALSE(Grant("g9"));
  EXPECT_EQ(decider_.lease_surely_expired_at(), clock_.Now() + kLease + kMargin);  // the fixture's grant only
}

TEST_F(DecisionsTest, ActiveIsRefusedUnlessHealthyAndConnected) {
  ActiveHealthy();
  reports_["g1"].heartbeat.set_health(v1::HEALTH_DEGRADED);
  EXPECT_TRUE(Grant("g1"));
  reports_["g1"].heartbeat.set_health(v1::HEALTH_UNSPECIFIED);
  EXPECT_FALSE(Grant("g1"));
  ActiveHealthy();
  reports_["g1"].stream_open = false;
  EXPECT_FALSE(Grant("g1"));
  ActiveGone();
  EXPECT_FALSE(Grant("g1"));
}

TEST(DecisionsNewLeader, WaitsOneLeaseBeforePromotingButRenewsAtOnce) {
  ManualClock clock;
  const MonoTime since = clock.Now();
  ClusterDecider decider(Timing(), since);
  ClusterState state;
  state.epoch = 4;
  state.active = "g1";
  state.members = {{"g1", "g1:7000"}, {"g2", "g2:7000"}};
  state.sync_set = {"g2"};
  Reports reports;
  auto report = [&](const std::string& id, v1::Role role) {
    InstanceReport& r = reports[id];
    r.heartbeat.set_address(id + ":7000");
    r.heartbeat.set_health(v1::HEALTH_OK);
    r.heartbeat.set_role(role);
    r.heartbeat.set_epoch(4);
    r.heartbeat.set_priority(1);
    r.received = clock.Now();
  };
  report("g1", v1::ROLE_ACTIVE);
  EXPECT_TRUE(decider.ShouldGrant(state, "g1", reports["g1"]));  // renewing never moves the active
  reports["g1"].heartbeat.set_gateway_process_gone(true);  // even the fast path waits

  clock.Advance(kLease + kMargin - 1ms);
  report("g2", v1::ROLE_STANDBY);
  Decision d = decider.Decide(state, ClusterConfig{}, reports, clock.Now());
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "first lease of this leader: 1 ms left before any promotion");

  clock.Advance(1ms);
  d = decider.Decide(state, ClusterConfig{}, reports, clock.Now());
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.new_state->active, "g2");
  EXPECT_EQ(d.promotion, PromotionReason::kProcessGone);
  EXPECT_EQ(d.detected_at, since);
}

TEST_F(DecisionsTest, FastPathPromotesWithoutWaitingForTheLease) {
  ActiveHealthy();
  ASSERT_TRUE(Grant("g1"));
  clock_.Advance(100ms);
  const MonoTime gone_at = clock_.Now();
  Decision d = FailOverWith(120, 1, 110, 1);
  EXPECT_LT(clock_.Now(), decider_.lease_surely_expired_at());
  EXPECT_EQ(Promoted(d), "g2");
  EXPECT_EQ(d.promotion, PromotionReason::kProcessGone);
  EXPECT_EQ(d.detected_at, gone_at);
  EXPECT_EQ(d.new_state->epoch, 5u);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g3"));  // the new active leaves it
  EXPECT_EQ(d.new_state->members, state_.members);
  EXPECT_EQ(d.reason,
            "promote g2 to active at epoch 5 (process_gone: g1's agent reports its gateway process gone; "
            "2 of 2 sync standbys reported, durable 4:120)");
}

// The agent keeps repeating "gone"; freshness counts from the first report,
// or standbys reporting between repeats would never all be fresh at once.
TEST_F(DecisionsTest, RepeatedGoneReportsKeepTheFirstDetection) {
  ActiveGone();
  const MonoTime first = clock_.Now();
  EXPECT_FALSE(Decide().new_state);
  clock_.Advance(10ms);
  Standby("g2", 100);
  clock_.Advance(10ms);
  ActiveGone();  // repeated, newer than g2's report
  clock_.Advance(10ms);
  Standby("g3", 100);
  Decision d = Decide();
  EXPECT_EQ(Promoted(d), "g2");
  EXPECT_EQ(d.detected_at, first);
}

TEST_F(DecisionsTest, LeaseExpiryBeforeTheProcessIsSeenGoneIsTheDetection) {
  const MonoTime expired_at = decider_.lease_surely_expired_at();
  Report("g1", v1::ROLE_ACTIVE, 100).heartbeat.set_health(v1::HEALTH_DOWN);
  clock_.Advance(kLease + kMargin + 1ms);
  Standby("g2", 100);  // fresh for the lease expiry, stale for what follows
  Standby("g3", 100);
  clock_.Advance(5ms);
  ActiveGone();
  Decision d = Decide();
  EXPECT_EQ(Promoted(d), "g2");
  EXPECT_EQ(d.promotion, PromotionReason::kLeaseExpired);
  EXPECT_EQ(d.detected_at, expired_at);
}

TEST_F(DecisionsTest, NewActiveGetsALeaseToReportAndTheOldOneIsNotRenewedMeanwhile) {
  Decision d = FailOverWith(100, 1, 100, 1);
  ASSERT_EQ(Promoted(d), "g2");
  ActiveHealthy();  // the old process is back before the new state is persisted
  EXPECT_FALSE(Grant("g1"));

  state_ = *d.new_state;  // persisted; g2 has not reported since
  reports_.erase("g2");
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.reason, "g3 holds every acknowledged write") << "g3 reported 4:100, the winner's position";
  state_ = *d.new_state;
  d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "lease of g2: 2040 ms left");
  clock_.Advance(kLease + kMargin);  // g2 never reports: its silence is a failure
  Standby("g3", 100);
  d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "fresh reports from 1 of the sync set {g3} (0 so far)");
}

TEST_F(DecisionsTest, CandidatesOrderByDurablePositionThenPriorityThenId) {
  EXPECT_EQ(Promoted(FailOverWith(100, 9, 101, 1)), "g3");  // position first
  EXPECT_EQ(Promoted(FailOverWith(100, 1, 100, 2)), "g3");  // then priority
  EXPECT_EQ(Promoted(FailOverWith(100, 3, 100, 3)), "g2");  // then id
  // The epoch of a position outranks its seq.
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g2", 10);
  Standby("g3", 500).heartbeat.mutable_durable()->set_epoch(3);
  EXPECT_EQ(Promoted(Decide()), "g2");
}

TEST_F(DecisionsTest, ConfigPriorityOverridesTheReportedOne) {
  config_.priorities["g3"] = 7;
  EXPECT_EQ(Promoted(FailOverWith(100, 5, 100, 1)), "g3");
  EXPECT_EQ(EffectivePriority(config_, "g3", &reports_["g3"]), 7u);
  EXPECT_EQ(EffectivePriority(config_, "g2", &reports_["g2"]), 5u);
  EXPECT_EQ(EffectivePriority(config_, "g2", nullptr), 0u);
}

TEST_F(DecisionsTest, StandbyOutsideTheSyncSetIsNeverPromoted) {
  state_.members["g4"] = "g4:7000";
  // The most advanced, but never joined the sync set.
  Report("g4", v1::ROLE_UNASSIGNED, 900, 0).heartbeat.mutable_durable()->set_epoch(4);
  EXPECT_EQ(Promoted(FailOverWith(100, 1, 90, 1)), "g2");
}

TEST_F(DecisionsTest, PriorityZeroByConfigNeverJoinsTheSyncSetAndIsNeverPromoted) {
  state_.members["g4"] = "g4:7000";
  config_.priorities["g4"] = 0;
  Standby("g4", 900, /*priority=*/5);  // the agent's priority is overridden
  Decision d = Decide();
  EXPECT_FALSE(d.new_state) << d.reason;
  EXPECT_EQ(Promoted(FailOverWith(100, 1, 90, 1)), "g2");
}

TEST_F(DecisionsTest, PriorityZeroSyncMemberWithTheOnlyNewestWriteBlocksPromotion) {
  config_.priorities["g3"] = 0;  // set after g3 joined the sync set
  Decision d = FailOverWith(100, 1, 120, 1);
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "g3 holds the highest durable position 4:120 but has priority 0");
  EXPECT_EQ(Promoted(FailOverWith(120, 1, 120, 1)), "g2");
}

TEST_F(DecisionsTest, QuorumIsSyncSetSizeMinusSyncStandbysPlusOne) {
  state_.members["g4"] = "g4:7000";
  state_.sync_set = {"g2", "g3", "g4"};
  config_.sync_standbys = 1;
  ActiveGone();
  Standby("g4", 500);  // received with the detection, not after it: stale
  clock_.Advance(1ms);
  Standby("g2", 100);
  Standby("g3", 100);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "fresh reports from 3 of the sync set {g2,g3,g4} (2 so far)");

  Standby("g4", 500).stream_open = false;  // a closed stream is not fresh either
  EXPECT_FALSE(Decide().new_state);
  Standby("g4", 500).heartbeat.set_health(v1::HEALTH_DOWN);
  EXPECT_FALSE(Decide().new_state);
  Standby("g4", 500);
  EXPECT_EQ(Promoted(Decide()), "g4");

  config_.sync_standbys = 2;  // any 2 of 3 hold every acknowledged write
  reports_.erase("g4");
  EXPECT_EQ(Promoted(Decide()), "g2");
}

// sync_standbys 2 with one sync standby acks on that one alone; when a second
// joins, the active may still be acking under the old set, so one fresh
// report is not enough even though |S| - k + 1 = 1.
TEST_F(DecisionsTest, ClampedSyncStandbysNeedsEverySyncMember) {
  state_.sync_set = {"g2", "g3"};
  config_.sync_standbys = 2;
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g3", 100);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "fresh reports from 2 of the sync set {g2,g3} (1 so far)");
  Standby("g2", 90);
  EXPECT_EQ(Promoted(Decide()), "g3");
}

TEST_F(DecisionsTest, EmptySyncSetCannotPromote) {
  state_.sync_set.clear();
  state_.members.erase("g3");
  ActiveGone();
  clock_.Advance(1ms);
  Report("g2", v1::ROLE_STANDBY, 100, 3);  // not at the current epoch: does not join
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "a sync standby: the sync set is empty, so nobody can be promoted");
}

TEST_F(DecisionsTest, ActiveIsNeverItsOwnSuccessor) {
  state_.sync_set = {"g1", "g2"};  // a broken state must not make the active a candidate
  clock_.Advance(kLease + kMargin + 1ms);  // the lease path holds
  Report("g1", v1::ROLE_STANDBY, 999);
  Standby("g2", 100);
  Decision d = Decide();
  EXPECT_EQ(Promoted(d), "g2");
  EXPECT_EQ(d.promotion, PromotionReason::kLeaseExpired);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g1"));
}

TEST_F(DecisionsTest, NewEpochIsAboveStoredAndReportedEpochs) {
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g2", 100);
  Standby("g3", 100).heartbeat.set_epoch(9);  // a candidate ahead of the stored epoch
  Decision d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.new_state->epoch, 10u);

  reports_["g3"].heartbeat.set_epoch(4);
  reports_["g2"].heartbeat.mutable_applied()->set_epoch(12);
  EXPECT_EQ(Decide().new_state->epoch, 13u);

  reports_["g2"].heartbeat.mutable_applied()->set_epoch(0);
  state_.epoch = 20;  // the stored epoch rules when it is the highest
  reports_["g2"].heartbeat.set_epoch(20);
  reports_["g3"].heartbeat.set_epoch(20);
  EXPECT_EQ(Decide().new_state->epoch, 21u);
}

TEST_F(DecisionsTest, MaintenanceSkipsPromotionButNotMembership) {
  state_.maintenance = true;
  Decision d = FailOverWith(100, 1, 100, 1);
  EXPECT_FALSE(d.new_state);
  EXPECT_FALSE(d.promotion);
  EXPECT_EQ(d.waiting_for, "maintenance");

  Report("g4", v1::ROLE_UNASSIGNED, 0, 0);
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_FALSE(d.promotion);
  EXPECT_EQ(d.new_state->members.at("g4"), "g4:7000");
}

TEST_F(DecisionsTest, MembershipChangeComesAloneAndPromotionFollows) {
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g2", 100);
  Standby("g3", 100);
  Report("g4", v1::ROLE_UNASSIGNED, 0, 0);
  EXPECT_FALSE(Grant("g4"));  // not a member yet
  Decision d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_FALSE(d.promotion);
  EXPECT_EQ(d.reason, "add member g4 at g4:7000");
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g2", "g3"));  // not a standby of epoch 4 yet
  state_ = *d.new_state;
  EXPECT_TRUE(Grant("g4"));

  d = Decide();
  EXPECT_EQ(Promoted(d), "g2");
}

TEST_F(DecisionsTest, MemberReportingAsHealthyStandbyAtTheCurrentEpochJoinsTheSyncSet) {
  state_.sync_set = {"g2"};
  ActiveHealthy();
  ASSERT_TRUE(Grant("g1"));
  Standby("g2", 100);
  Report("g3", v1::ROLE_STANDBY, 100, /*epoch=*/3);  // still at the old epoch
  EXPECT_FALSE(Decide().new_state);
  Standby("g3", 100).heartbeat.set_health(v1::HEALTH_DOWN);
  EXPECT_FALSE(Decide().new_state);
  Standby("g3", 100);
  Decision d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g2", "g3"));
  EXPECT_EQ(d.reason, "g3 joins the sync set at epoch 4 (pending until g1 reports enforcing it)");

  Report("g2", v1::ROLE_STANDBY, 100).heartbeat.set_address("g2:7001");
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.new_state->members.at("g2"), "g2:7001");
}

// Found by the chaos runner (tests/chaos, seed 116): in a two-gateway
// cluster right after a failover the new active g1 acknowledges alone (its
// sync set is empty). The old active g2 came back, reported as a standby at
// the new epoch before it had received anything of it, joined the sync set,
// and when g1 was killed it was promoted without g1's acknowledged writes.
// A standby joins only once it holds what the active last reported durable.
TEST_F(DecisionsTest, AStandbyJoinsTheSyncSetOnlyOnceCaughtUpWithTheActive) {
  state_.members.erase("g3");
  reports_.erase("g3");
  state_.sync_set.clear();
  Report("g1", v1::ROLE_ACTIVE, 150);  // acknowledged 4:1..4:150 alone
  InstanceReport& behind = Standby("g2", 0);
  behind.heartbeat.mutable_durable()->set_epoch(3);
  behind.heartbeat.mutable_durable()->set_seq(90);
  EXPECT_FALSE(Decide().new_state) << "3:90 lacks the active's writes of epoch 4";
  Standby("g2", 149);
  EXPECT_FALSE(Decide().new_state) << "4:149 < 4:150";

  // The active dies before g2 caught up: g2 must not join (it could not be
  // told what it lacks), and nobody is promoted.
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g2", 149);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "a sync standby: the sync set is empty, so nobody can be promoted");

  // Caught up with a healthy active: joins.
  Report("g1", v1::ROLE_ACTIVE, 160);
  clock_.Advance(1ms);
  Standby("g2", 160);
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g2"));
  EXPECT_EQ(d.reason, "g2 joins the sync set at epoch 4 (pending until g1 reports enforcing it)");
}

// The gap the join rule above left: g2 caught up with the active's last
// report, but g1 went on acknowledging alone until it applied the assignment
// that names g2. Were g1 to die in between, g2 would lack those writes. So
// g2 is pending until g1 reports enforcing it and g2 reaches g1's durable
// position of that report.
TEST_F(DecisionsTest, AMemberJoiningAnEmptySyncSetIsPendingUntilItHoldsWhatTheActiveAckedAlone) {
  state_.members.erase("g3");
  reports_.erase("g3");
  state_.sync_set.clear();
  Report("g1", v1::ROLE_ACTIVE, 150);
  Standby("g2", 150);
  Decision d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g2"));
  EXPECT_THAT(d.new_state->sync_pending, ElementsAre(Pair("g2", std::nullopt)));
  state_ = *d.new_state;
  const ClusterState joined = state_;

  // g1 dies before it reported enforcing g2: nobody is promoted.
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g2", 160);
  d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for,
            "a report of g1 that it enforces them: {g2} may lack writes acknowledged without them");

  // Instead g1 lives and reports enforcing g2 at 4:170: that is g2's bar.
  ClusterDecider decider(Timing(), clock_.Now() - 1h);
  state_ = joined;
  Report("g1", v1::ROLE_ACTIVE, 170).heartbeat.add_sync_enforced("g2");
  Standby("g2", 165);
  d = decider.Decide(state_, config_, reports_, clock_.Now());
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_pending, ElementsAre(Pair("g2", StoredPosition{4, 170})));
  EXPECT_EQ(d.reason, "g1 enforces g2 (must reach 4:170)");
  state_ = *d.new_state;
  EXPECT_FALSE(decider.Decide(state_, config_, reports_, clock_.Now()).new_state) << "4:165 < 4:170";
  Standby("g2", 170);
  d = decider.Decide(state_, config_, reports_, clock_.Now());
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_pending, IsEmpty());
  EXPECT_EQ(d.reason, "g2 holds every acknowledged write");
}

TEST_F(DecisionsTest, APendingMemberIsPromotableOnceItReachesItsBar) {
  state_.members.erase("g3");
  reports_.erase("g3");
  state_.sync_set = {"g2"};
  state_.sync_pending = {{"g2", StoredPosition{4, 170}}};
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g2", 169);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for,
            "a fresh report at or past 4:170: {g2} may lack writes acknowledged without them");
  Standby("g2", 175);
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_FALSE(d.promotion) << "settling it comes first";
  state_ = *d.new_state;
  EXPECT_EQ(Promoted(Decide()), "g2");
}

// Two standbys join one sync standby at once with sync_standbys 2: the
// quorum of the new set (2 of 3) could be the two newcomers, which may lack
// what g1 acknowledged on g2 alone before it enforced them. Until one of
// them is at its bar, the settled g2 must report too.
TEST_F(DecisionsTest, WhileMembersArePendingTheSettledSetMustHoldTheOlderWrites) {
  state_.members["g4"] = "g4:7000";
  state_.sync_set = {"g2", "g3", "g4"};
  state_.sync_pending = {{"g3", std::nullopt}, {"g4", StoredPosition{4, 200}}};
  config_.sync_standbys = 2;
  ActiveGone();
  clock_.Advance(1ms);
  Standby("g3", 190);
  Standby("g4", 190);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for,
            "a fresh report at or past 4:200, or fresh reports from 1 of the settled sync set {g2} (0 so far): "
            "{g3,g4} may lack writes acknowledged without them");
  Standby("g2", 180);
  EXPECT_EQ(Promoted(Decide()), "g3");  // best of the three; holds everything g2 holds

  // Or one of the batch at g4's bar: it holds every write acknowledged
  // before the batch was enforced.
  reports_.erase("g2");
  Standby("g3", 205);
  EXPECT_EQ(Promoted(Decide()), "g3");
}

TEST_F(DecisionsTest, NobodyJoinsWhileAMemberIsPending) {
  state_.members["g4"] = "g4:7000";
  state_.sync_set = {"g2", "g3"};
  state_.sync_pending = {{"g3", std::nullopt}};
  ActiveHealthy();
  Standby("g2", 100);
  Standby("g3", 90);
  Standby("g4", 100);
  EXPECT_FALSE(Decide().new_state);
  Report("g1", v1::ROLE_ACTIVE, 100).heartbeat.add_sync_enforced("g3");
  Decision d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g2", "g3")) << "g4 waits for g3 to settle";
  state_ = *d.new_state;
  Standby("g3", 100);
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g2", "g3", "g4")) << "settled and joined in one change";
  EXPECT_THAT(d.new_state->sync_pending, ElementsAre(Pair("g4", std::nullopt)));
}

// After a failover the writes of the old epoch may be on the winner alone
// (here g3 lags): were g2 to die before g3 holds 4:120, promoting g3 would
// lose them.
TEST_F(DecisionsTest, APromotionLeavesTheOtherMembersPendingOnTheWinnersPosition) {
  Decision d = FailOverWith(120, 1, 100, 1);
  ASSERT_EQ(Promoted(d), "g2");
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g3"));
  EXPECT_THAT(d.new_state->sync_pending, ElementsAre(Pair("g3", StoredPosition{4, 120})));
  state_ = *d.new_state;  // g2 active at epoch 5
  Report("g2", v1::ROLE_ACTIVE, 0, 5).heartbeat.set_health(v1::HEALTH_DOWN);
  reports_["g2"].heartbeat.set_gateway_process_gone(true);
  EXPECT_FALSE(Decide().new_state);  // the detection
  clock_.Advance(1ms);
  Report("g3", v1::ROLE_STANDBY, 110, 4);
  d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for,
            "a fresh report at or past 4:120: {g3} may lack writes acknowledged without them");
  Report("g3", v1::ROLE_STANDBY, 120, 4);
  d = Decide();
  ASSERT_TRUE(d.new_state);
  EXPECT_THAT(d.new_state->sync_pending, IsEmpty());
  state_ = *d.new_state;
  EXPECT_EQ(Promoted(Decide()), "g3");
}

TEST_F(DecisionsTest, HealthyActiveMeansNothingToDo) {
  ActiveHealthy();
  ASSERT_TRUE(Grant("g1"));
  Standby("g2", 100);
  Standby("g3", 100);
  Decision d = Decide();
  EXPECT_FALSE(d.new_state);
  EXPECT_THAT(d.reason, IsEmpty());
  EXPECT_THAT(d.waiting_for, IsEmpty());
}

TEST_F(DecisionsTest, ClusterWithoutActivePromotesOnceEarlierLeasesAreOver) {
  state_.active.clear();
  state_.sync_set = {"g1", "g2", "g3"};
  Decision d = Decide();
  EXPECT_EQ(d.waiting_for, "the cluster has no active; leases granted before: 2040 ms left");
  clock_.Advance(kLease + kMargin + 1ms);
  Standby("g1", 100);
  Standby("g2", 100);
  d = Decide();
  EXPECT_EQ(d.waiting_for, "fresh reports from 3 of the sync set {g1,g2,g3} (2 so far)");
  Standby("g3", 101);
  d = Decide();
  EXPECT_EQ(Promoted(d), "g3");
  EXPECT_EQ(d.promotion, PromotionReason::kLeaseExpired);
}

TEST(DecisionsBootstrap, FirstActiveAfterTheFirstLeaseWithHealthyOthersAsSyncSet) {
  ManualClock clock;
  ClusterDecider decider(Timing(), clock.Now());
  ClusterState state;
  ClusterConfig config;
  config.priorities["g4"] = 0;
  Reports reports;
  for (const char* id : {"g1", "g2", "g3", "g4", "g5"}) {
    InstanceReport& r = reports[id];
    r.heartbeat.set_address(std::string(id) + ":7000");
    r.heartbeat.set_health(v1::HEALTH_OK);
    r.heartbeat.set_role(v1::ROLE_UNASSIGNED);
    r.heartbeat.set_priority(1);
    r.received = clock.Now();
  }
  reports["g2"].heartbeat.mutable_durable()->set_seq(5);  // data from standalone use
  reports["g2"].heartbeat.mutable_durable()->set_epoch(2);
  reports["g5"].heartbeat.set_health(v1::HEALTH_DOWN);

  Decision d = decider.Decide(state, config, reports, clock.Now());
  ASSERT_TRUE(d.new_state);
  EXPECT_FALSE(d.promotion);
  EXPECT_EQ(d.new_state->members.size(), 5u);
  state = *d.new_state;

  clock.Advance(kLease + kMargin - 1ms);
  d = decider.Decide(state, config, reports, clock.Now());
  EXPECT_FALSE(d.new_state);
  EXPECT_EQ(d.waiting_for, "first lease of this leader: 1 ms left before the first promotion");

  clock.Advance(1ms);
  d = decider.Decide(state, config, reports, clock.Now());
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.promotion, PromotionReason::kBootstrap);
  EXPECT_EQ(d.new_state->active, "g2");
  EXPECT_EQ(d.new_state->epoch, 3u);  // above the epoch g2 reports
  EXPECT_THAT(d.new_state->sync_set, ElementsAre("g1", "g3"));  // not g4 (priority 0), not g5 (down)
  EXPECT_EQ(d.reason, "promote g2 to active at epoch 3 (bootstrap: first active of the cluster, durable 2:5; sync set {g1,g3})");

  state.maintenance = true;
  EXPECT_EQ(decider.Decide(state, config, reports, clock.Now()).waiting_for, "maintenance");
  state.maintenance = false;
  for (auto& [id, r] : reports) r.heartbeat.set_health(v1::HEALTH_DOWN);
  EXPECT_EQ(decider.Decide(state, config, reports, clock.Now()).waiting_for,
            "a healthy member with priority >= 1 to report");
}

TEST(DecisionsNames, PromotionReasonsMatchMetricLabels) {
  EXPECT_EQ(PromotionReasonName(PromotionReason::kBootstrap), "bootstrap");
  EXPECT_EQ(PromotionReasonName(PromotionReason::kProcessGone), "process_gone");
  EXPECT_EQ(PromotionReasonName(PromotionReason::kLeaseExpired), "lease_expired");
}

}  // namespace
}  // namespace baton::arbiter

// Operator work in the arbiter on a manual clock: the switchover and manual
// failover rules of ClusterDecider, and how ClusterBook runs operations and
// maintenance requests (validation, handover grants, completion, timeouts,
// events). No I/O.
#include <map>
#include <optional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "arbiter/cluster_book.h"
#include "arbiter/decisions.h"
#include "arbiter/status_view.h"
#include "common/clock.h"

namespace baton::arbiter {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

v1::Heartbeat Beat(const std::string& id, v1::Role role, uint64_t epoch, uint64_t seq, bool handing_over = false) {
  v1::Heartbeat hb;
  hb.set_instance_id(id);
  hb.set_cluster("c1");
  hb.set_address(id + ":7000");
  hb.set_health(v1::HEALTH_OK);
  hb.set_role(role);
  hb.set_epoch(epoch);
  hb.mutable_durable()->set_epoch(epoch);
  hb.mutable_durable()->set_seq(seq);
  hb.set_priority(1);
  hb.set_handing_over(handing_over);
  return hb;
}

// g1 active at epoch 4 with sync standbys g2 and g3; g4 a member with
// priority 0, so outside the sync set. The decider has led for an hour, so no
// first-lease wait.
class OperatorDecisionsTest : public ::testing::Test {
 protected:
  OperatorDecisionsTest() : decider_({2000ms, 40ms}, clock_.Now() - 1h) {
    state_.epoch = 4;
    state_.active = "g1";
    state_.members = {{"g1", "g1:7000"}, {"g2", "g2:7000"}, {"g3", "g3:7000"}, {"g4", "g4:7000"}};
    state_.sync_set = {"g2", "g3"};
    config_.priorities["g4"] = 0;
    Report(Beat("g1", v1::ROLE_ACTIVE, 4, 100));
    Report(Beat("g2", v1::ROLE_STANDBY, 4, 100));
    Report(Beat("g3", v1::ROLE_STANDBY, 4, 100));
    Report(Beat("g4", v1::ROLE_STANDBY, 4, 100));
    EXPECT_TRUE(decider_.ShouldGrant(state_, "g1", reports_.at("g1")));
    request_.started = clock_.Now();
    clock_.Advance(1ms);
  }
  void Report(const v1::Heartbeat& hb) {
    reports_[hb.instance_id()] = InstanceReport{.heartbeat = hb, .received = clock_.Now()};
  }
  Decision Switchover(const std::string& to) {
    request_.to = to;
    return decider_.DecideSwitchover(state_, config_, reports_, clock_.Now(), request_);
  }
  Decision Failover(const std::string& to, bool force = false) {
    request_.to = to;
    request_.force = force;
    return decider_.DecideFailover(state_, config_, reports_, clock_.Now(), request_);
  }

  ManualClock clock_;
  ClusterState state_;
  ClusterConfig config_;
  Reports reports_;
  ClusterDecider decider_;
  OperatorRequest request_;
};

TEST_F(OperatorDecisionsTest, SwitchoverWaitsForTheHandoverThenForTheCandidateToCatchUp) {
  Decision d = Switchover("g2");
  EXPECT_FALSE(d.new_state);
  EXPECT_THAT(d.waiting_for, HasSubstr("g1 to confirm"));

  // A handover report from before the request is no evidence.
  reports_["g1"].heartbeat.set_handing_over(true);
  reports_["g1"].received = request_.started;
  EXPECT_FALSE(Switchover("g2").new_state);

  Report(Beat("g1", v1::ROLE_ACTIVE, 4, 120, /*handing_over=*/true));
  d = Switchover("g2");
  EXPECT_FALSE(d.new_state);
  EXPECT_THAT(d.waiting_for, HasSubstr("g2 to catch up to 4:120 (at 4:100)"));

  Report(Beat("g2", v1::ROLE_STANDBY, 4, 120));
  d = Switchover("g2");
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.promotion, PromotionReason::kSwitchover);
  EXPECT_EQ(d.new_state->active, "g2");
  EXPECT_EQ(d.new_state->epoch, 5u);
  EXPECT_EQ(d.new_state->sync_set, (std::vector<std::string>{"g1", "g3"})) << "the old active replaces the candidate";
  EXPECT_THAT(d.reason, HasSubstr("switchover: g1 handed over at 4:120"));
}

TEST_F(OperatorDecisionsTest, SwitchoverLeavesAPriorityZeroActiveOutOfTheSyncSet) {
  config_.priorities["g1"] = 0;
  Report(Beat("g1", v1::ROLE_ACTIVE, 4, 100, true));
  Decision d = Switchover("g3");
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.new_state->sync_set, std::vector<std::string>{"g2"});
}

TEST_F(OperatorDecisionsTest, SwitchoverIsRefusedForACandidateOutsideTheSyncSet) {
  Report(Beat("g1", v1::ROLE_ACTIVE, 4, 100, true));
  EXPECT_THAT(Switchover("g4").refused, HasSubstr("no longer in the sync set"));
  EXPECT_THAT(Switchover("g1").refused, HasSubstr("already the active"));
}

TEST_F(OperatorDecisionsTest, AnActiveThatDiesDuringASwitchoverIsFailedOverAutomatically) {
  v1::Heartbeat gone = Beat("g1", v1::ROLE_ACTIVE, 4, 100);
  gone.set_gateway_process_gone(true);
  gone.set_health(v1::HEALTH_DOWN);
  Report(gone);
  clock_.Advance(1ms);
  Report(Beat("g2", v1::ROLE_STANDBY, 4, 100));
  Report(Beat("g3", v1::ROLE_STANDBY, 4, 101));
  Decision d = Switchover("g2");
  ASSERT_TRUE(d.new_state);
  EXPECT_EQ(d.promotion, PromotionReason::kProcessGone);
  EXPECT_EQ(d.new_state->active, "g3") << "the automatic rules pick the best, not the operator's candidate";
}

TEST_F(OperatorDecisionsTest, FailoverWaitsForTheLeaseOfTheActive) {
  Decision d = Failover("g2");
  EXPECT_FALSE(d.new_state);
  EXPECT_THAT(d.waiting_for, HasSubstr("lease of g1 to run out"));
  clock_.Advance(2040ms);  // lease + margin after the grant
  Report(Beat("g2", v1::ROLE_STANDBY, 4, 100));
  Report(Beat("g3", v1::ROLE_STANDBY, 4, 100));
  d = Failover("g2");
  ASSERT_TRUE(d.new_state) << d.waiting_for << d.refused;
  EXPECT_EQ(d.promotion, PromotionReason::kManualFailover);
  EXPECT_EQ(d.new_state->active, "g2");
  EXPECT_EQ(d.new_state->sync_set, std::vector<std::string>{"g3"});
}

TEST_F(OperatorDecisionsTest, FailoverToAMemberThatIsBehindIsRefusedUnlessForced) {
  clock_.Advance(2040ms);
  Report(Beat("g2", v1::ROLE_STANDBY, 4, 90));
  Report(Beat("g3", v1::ROLE_STANDBY, 4, 100));
  EXPECT_THAT(Failover("g2").refused, HasSubstr("g2 is behind g3 (4:90 < 4:100)"));
  Decision forced = Failover("g2", /*force=*/true);
  ASSERT_TRUE(forced.new_state);
  EXPECT_EQ(forced.new_state->active, "g2");
  EXPECT_THAT(forced.reason, HasSubstr("forced"));
}

TEST_F(OperatorDecisionsTest, FailoverOutsideTheSyncSetNeedsForce) {
  clock_.Advance(2040ms);
  Report(Beat("g4", v1::ROLE_STANDBY, 4, 100));
  EXPECT_THAT(Failover("g4").refused, HasSubstr("not in the sync set"));
  Decision forced = Failover("g4", true);
  ASSERT_TRUE(forced.new_state);
  EXPECT_EQ(forced.new_state->active, "g4");
  EXPECT_EQ(forced.new_state->sync_set, (std::vector<std::string>{"g2", "g3"}));
}

TEST_F(OperatorDecisionsTest, FailoverNeedsTheQuorumWithoutForce) {
  config_.sync_standbys = 2;  // clamped to |S| = 2: every member must report
  clock_.Advance(2040ms);
  Report(Beat("g2", v1::ROLE_STANDBY, 4, 100));
  Decision d = Failover("g2");
  EXPECT_FALSE(d.new_state);
  EXPECT_THAT(d.waiting_for, HasSubstr("fresh reports from 2"));
}

TEST_F(OperatorDecisionsTest, AReportOfAProbeFromBeforeTheDetectionIsNotFresh) {
  clock_.Advance(2040ms);  // the lease is surely over now: detected at this instant
  clock_.Advance(10ms);
  v1::Heartbeat old_probe = Beat("g2", v1::ROLE_STANDBY, 4, 100);
  old_probe.set_probe_age_ms(20);  // the probe began 10 ms before the detection
  Report(old_probe);
  Report(Beat("g3", v1::ROLE_STANDBY, 4, 100));
  Decision d = Failover("g2");
  EXPECT_FALSE(d.new_state);
  EXPECT_THAT(d.waiting_for, HasSubstr("a healthy report from g2 after the failure"));
  Report(Beat("g2", v1::ROLE_STANDBY, 4, 100));
  EXPECT_TRUE(Failover("g2").new_state);
}

TEST_F(OperatorDecisionsTest, FailoverIgnoresMaintenance) {
  state_.maintenance = true;
  clock_.Advance(2040ms);
  Report(Beat("g2", v1::ROLE_STANDBY, 4, 100));
  Report(Beat("g3", v1::ROLE_STANDBY, 4, 100));
  EXPECT_TRUE(Failover("g3").new_state);
}

// --- ClusterBook -------------------------------------------------------------

class OperationsBookTest : public ::testing::Test {
 protected:
  OperationsBookTest() : book_({.timing = {2000ms, 40ms}, .lease_ms = 2000, .failsafe = true}) {
    state_.epoch = 4;
    state_.active = "g1";
    state_.members = {{"g1", "g1:7000"}, {"g2", "g2:7000"}};
    state_.sync_set = {"g2"};
    state_.zk_version = 3;
    book_.Lead(clock_.Now() - 1h, {{"c1", state_}}, {{"c1", ClusterConfig{}}});
    Beat1(Beat("g1", v1::ROLE_ACTIVE, 4, 10));
    Beat1(Beat("g2", v1::ROLE_STANDBY, 4, 10));
  }
  HeartbeatOutcome Beat1(const v1::Heartbeat& hb) { return book_.OnHeartbeat(hb, clock_.Now(), hb.instance_id() == "g1" ? 1 : 2); }
  OperationDone Record() {
    return [this](const OperationResult& r) { results_.push_back(r); };
  }
  std::vector<std::string> EventTypes() {
    std::vector<std::string> types;
    for (const ClusterEvent& e : book_.TakeEvents()) types.push_back(e.type + ":" + e.fields.value("result", e.fields.value("reason", "")));
    return types;
  }

  ManualClock clock_;
  ClusterState state_;
  ClusterBook book_;
  std::vector<OperationResult> results_;
};

TEST_F(OperationsBookTest, ASwitchoverHandsOverPromotesAndReportsItsResult) {
  ASSERT_TRUE(book_.StartOperation("c1", {.kind = OperationKind::kSwitchover}, clock_.Now(), Record()).ok());
  EXPECT_EQ(book_.Observe(clock_.Now()).at("c1").operation->to, "g2") << "the best sync standby";
  clock_.Advance(1ms);
  HeartbeatOutcome granted = Beat1(Beat("g1", v1::ROLE_ACTIVE, 4, 10));
  ASSERT_TRUE(granted.response.has_assignment());
  EXPECT_EQ(granted.response.assignment().handover_to(), "g2:7000");
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());

  Beat1(Beat("g1", v1::ROLE_ACTIVE, 4, 12, true));
  Beat1(Beat("g2", v1::ROLE_STANDBY, 4, 12));
  auto changes = book_.Decide(clock_.Now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state.active, "g2");
  EXPECT_TRUE(results_.empty()) << "done only once persisted";
  clock_.Advance(5ms);
  book_.Committed(changes[0], 4, clock_.Now());
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_TRUE(results_[0].status.ok());
  EXPECT_EQ(results_[0].from, "g1");
  EXPECT_EQ(results_[0].to, "g2");
  EXPECT_EQ(results_[0].epoch, 5u);
  EXPECT_EQ(results_[0].duration, 6ms);
  EXPECT_EQ(EventTypes(), (std::vector<std::string>{"switchover:started", "promotion:switchover",
                                                      "switchover:completed"}));
  // The old active, told it is a standby, reports so: a demotion.
  HeartbeatOutcome demoted = Beat1(Beat("g1", v1::ROLE_ACTIVE, 4, 12, true));
  ASSERT_TRUE(demoted.response.has_assignment());
  EXPECT_EQ(demoted.response.assignment().role(), v1::ROLE_STANDBY);
  Beat1(Beat("g1", v1::ROLE_STANDBY, 5, 12));
  EXPECT_EQ(EventTypes(), std::vector<std::string>{"demotion:"});
}

TEST_F(OperationsBookTest, OperationsAreValidatedAtOnce) {
  EXPECT_EQ(book_.StartOperation("nope", {}, clock_.Now(), Record()).code(), StatusCode::kNotFound);
  EXPECT_EQ(book_.StartOperation("c1", {.to = "g1"}, clock_.Now(), Record()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_.StartOperation("c1", {.to = "g7"}, clock_.Now(), Record()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_.StartOperation("c1", {.kind = OperationKind::kFailover}, clock_.Now(), Record()).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(book_.StartOperation("c1", {.to = "g2"}, clock_.Now(), Record()).ok());
  EXPECT_EQ(book_.StartOperation("c1", {.to = "g2"}, clock_.Now(), Record()).code(), StatusCode::kAborted)
      << "one operation at a time";
  book_.Resign();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code(), StatusCode::kUnavailable) << "leadership lost ends it";
}

TEST_F(OperationsBookTest, AnOperationPastItsTimeoutIsAbandonedAndTheActiveResumes) {
  ASSERT_TRUE(book_.StartOperation("c1", {.to = "g2", .timeout = 100ms}, clock_.Now(), Record()).ok());
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());
  clock_.Advance(100ms);
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(results_[0].status.message(), HasSubstr("g1 to confirm"));
  HeartbeatOutcome granted = Beat1(Beat("g1", v1::ROLE_ACTIVE, 4, 10));
  ASSERT_TRUE(granted.response.has_assignment());
  EXPECT_EQ(granted.response.assignment().handover_to(), "") << "the handover is called off";
}

TEST_F(OperationsBookTest, AFailoverWithholdsTheActivesRenewals) {
  ASSERT_TRUE(book_.StartOperation("c1", {.kind = OperationKind::kFailover, .to = "g2"}, clock_.Now(), Record()).ok());
  EXPECT_FALSE(Beat1(Beat("g1", v1::ROLE_ACTIVE, 4, 10)).response.has_assignment());
  clock_.Advance(2041ms);
  Beat1(Beat("g2", v1::ROLE_STANDBY, 4, 10));
  auto changes = book_.Decide(clock_.Now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state.active, "g2");
  EXPECT_EQ(changes[0].decision.promotion, PromotionReason::kManualFailover);
}

TEST_F(OperationsBookTest, MaintenanceIsPersistedThroughDecide) {
  ASSERT_TRUE(book_.RequestMaintenance("c1", true, Record()).ok());
  auto changes = book_.Decide(clock_.Now());
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].state.maintenance);
  book_.Committed(changes[0], 4, clock_.Now());
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_TRUE(results_[0].status.ok());
  EXPECT_EQ(EventTypes(), std::vector<std::string>{"maintenance:"});
  // Asking for what is already so answers at the next decision.
  ASSERT_TRUE(book_.RequestMaintenance("c1", true, Record()).ok());
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());
  EXPECT_EQ(results_.size(), 2u);
}

TEST_F(OperationsBookTest, AFencedActiveIsAnEvent) {
  v1::Heartbeat fenced = Beat("g1", v1::ROLE_ACTIVE, 4, 10);
  fenced.set_fenced(true);
  Beat1(fenced);
  Beat1(fenced);
  EXPECT_EQ(EventTypes(), std::vector<std::string>{"fencing:"}) << "once per change";
}

TEST_F(OperationsBookTest, ADetectedFailureAsksForReportsAndThePromotionIsPushed) {
  v1::Heartbeat gone = Beat("g1", v1::ROLE_ACTIVE, 4, 10);
  gone.set_gateway_process_gone(true);
  gone.set_health(v1::HEALTH_DOWN);
  Beat1(gone);
  // Detected; the decider needs a report from g2 received after it, and
  // asks for one at once.
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());
  std::vector<StreamPush> asked = book_.TakePushes();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].stream_id, 2u) << "g2's stream; not the failed active";
  EXPECT_TRUE(asked[0].response.report_now());
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());
  EXPECT_TRUE(book_.TakePushes().empty()) << "asked once per detection";

  clock_.Advance(1ms);
  v1::Heartbeat fresh = Beat("g2", v1::ROLE_STANDBY, 4, 10);
  fresh.set_sequence(41);
  Beat1(fresh);
  auto changes = book_.Decide(clock_.Now());
  ASSERT_EQ(changes.size(), 1u);
  book_.Committed(changes[0], 4, clock_.Now());
  std::map<uint64_t, v1::HeartbeatResponse> pushed;
  for (StreamPush& p : book_.TakePushes()) pushed[p.stream_id] = p.response;
  ASSERT_EQ(pushed.size(), 2u);
  EXPECT_EQ(pushed[2].sequence(), 41u) << "answers g2's latest heartbeat: the lease counts from it";
  EXPECT_EQ(pushed[2].assignment().role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(pushed[2].assignment().epoch(), 5u);
  EXPECT_EQ(pushed[1].assignment().role(), v1::ROLE_STANDBY) << "the old active learns it is replaced";
  EXPECT_EQ(pushed[1].assignment().epoch(), 5u);
}

// --- status_view -------------------------------------------------------------

TEST(StatusViewTest, ConfigUpdatesAreCheckedFieldByField) {
  ClusterConfig current;
  current.version = 3;
  auto apply = [&](const char* body) { return ApplyConfigUpdate(current, nlohmann::json::parse(body)); };
  EXPECT_THAT(apply(R"({"sync_standbys": 1})").status().message(), HasSubstr("\"version\""));
  EXPECT_EQ(apply(R"({"version": 2})").status().code(), StatusCode::kAborted);
  EXPECT_THAT(apply(R"({"version": 3, "bogus": 1})").status().message(), HasSubstr("\"bogus\""));
  EXPECT_THAT(apply(R"({"version": 3, "sync_standbys": -1})").status().message(), HasSubstr("sync_standbys"));
  EXPECT_THAT(apply(R"({"version": 3, "priorities": {"g1": "high"}})").status().message(), HasSubstr("priorities.g1"));
  EXPECT_THAT(apply(R"({"version": 3, "mirror": {"mode": "x"}})").status().message(), HasSubstr("mirror.mode"));
  EXPECT_EQ(apply(R"([1])").status().code(), StatusCode::kInvalidArgument);
  auto next = apply(R"({"version": 3, "priorities": {"g1": 7}, "mirror": {"mode": "sync"}})");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->version, 4u);
  EXPECT_EQ(next->priorities.at("g1"), 7u);
  EXPECT_EQ(next->mirror_mode, "sync");
  EXPECT_EQ(next->sync_standbys, current.sync_standbys);
}

TEST(StatusViewTest, AFollowerOverlaysTheStoredStateAndAgesTheObservation) {
  ClusterObservation o;
  o.state.epoch = 4;
  o.state.active = "g1";
  o.state.members = {{"g1", "a:1"}, {"g2", "b:1"}};
  o.state.sync_set = {"g2"};
  MonoTime now{};
  o.reports["g1"] = InstanceReport{.heartbeat = Beat("g1", v1::ROLE_ACTIVE, 4, 50), .received = now - 10ms};
  o.reports["g2"] = InstanceReport{.heartbeat = Beat("g2", v1::ROLE_STANDBY, 4, 45), .received = now - 20ms};
  nlohmann::json published = ClusterView("c1", o, now);
  EXPECT_EQ(published["instances"][1]["lag_entries"], 5);
  published["as_of_ms"] = 1000;

  ClusterState stored = o.state;
  stored.epoch = 5;  // a promotion the observation has not seen yet
  nlohmann::json view = FollowerClusterView("c1", stored, ClusterConfig{}, published.dump(), 1300);
  EXPECT_EQ(view["epoch"], 5);
  EXPECT_EQ(view["observed_age_ms"], 300);
  EXPECT_EQ(view["instances"][0]["last_report_ms_ago"], 310);
  EXPECT_FALSE(view.contains("as_of_ms"));
  nlohmann::json never = FollowerClusterView("c1", stored, ClusterConfig{}, std::nullopt, 1300);
  EXPECT_EQ(never["observed_age_ms"], -1);
  EXPECT_EQ(never["instances"].size(), 2u);
  EXPECT_EQ(never["instances"][0]["role"], "unknown");
}

// Regression (tests/fuzz rest target): an observation whose instance id is
// not a string made the follower's view throw, so GET /v1/clusters/{c}
// answered 500 on every follower until the leader published again.
TEST(StatusViewTest, AFollowerToleratesAnObservationWithANonStringInstanceId) {
  ClusterState stored;
  stored.active = "g1";
  stored.members = {{"g1", "a:1"}, {"g2", "b:1"}};
  stored.sync_set = {"g2"};
  const std::string observed =
      R"({"as_of_ms": 1000, "instances": [{"id": 20}, {"id": "g2"}], "mirror": {"targets": []}, "operation": {}})";
  nlohmann::json view;
  ASSERT_NO_THROW(view = FollowerClusterView("c1", stored, ClusterConfig{}, observed, 1300));
  EXPECT_EQ(view["instances"][0]["sync"], false);
  EXPECT_EQ(view["instances"][1]["sync"], true);
  EXPECT_EQ(view["observed_age_ms"], 300);
}

}  // namespace
}  // namespace baton::arbiter

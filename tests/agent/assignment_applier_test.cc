// AssignmentApplier against a fake gateway and a manual clock: which grants
// become AssignRole or RenewLease, the lease arithmetic, and that a hung
// gateway never builds up a queue of renewals.
#include "instance-agent/assignment_applier.h"

#include <gtest/gtest.h>

#include "common/metrics.h"
#include "tests/agent/agent_test_util.h"
#include "tests/support/test_util.h"

namespace baton::agent {
namespace {

using std::chrono::milliseconds;
using testing::ControlCall;
using testing::FakeGatewayClient;

int64_t Nanos(MonoTime t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(); }

v1::Assignment Active(uint64_t epoch, uint32_t lease_ms, uint64_t version = 1) {
  v1::Assignment a;
  a.set_role(v1::ROLE_ACTIVE);
  a.set_epoch(epoch);
  a.set_lease_ms(lease_ms);
  a.set_active_address("127.0.0.1:7700");
  (*a.mutable_standbys())["g2"] = "127.0.0.1:7701";
  (*a.mutable_standbys())["g3"] = "127.0.0.1:7702";
  a.add_sync_set("g2");
  a.set_config_version(version);
  return a;
}

class ApplierTest : public ::testing::Test {
 protected:
  ApplierTest() : agent_metrics_(metrics_), applier_({.rpc_timeout = milliseconds(200)}, gateway_, clock_, agent_metrics_) {
    applier_.Start();
  }
  ~ApplierTest() override {
    gateway_.Hang(false);
    applier_.Stop();
  }

  // Waits until the fake has seen `n` control calls.
  std::vector<ControlCall> WaitCalls(size_t n) {
    EXPECT_TRUE(baton::testing::WaitFor([&] { return gateway_.calls().size() >= n; }, milliseconds(5000)))
        << "calls: " << gateway_.calls().size() << " want " << n;
    return gateway_.calls();
  }
  double Metric(const std::string& name, const std::map<std::string, std::string>& labels) {
    return testing::MetricValue(metrics_.Serialize(), name, labels);
  }
  // Offers and waits until it has been handled (applied, renewed or skipped).
  void OfferAndWait(const v1::Assignment& a, MonoTime sent_at, size_t calls_after) {
    applier_.Offer(a, sent_at);
    WaitCalls(calls_after);
  }

  ManualClock clock_;
  Metrics metrics_{"agent"};
  AgentMetrics agent_metrics_;
  FakeGatewayClient gateway_;
  AssignmentApplier applier_;
};

TEST_F(ApplierTest, FirstGrantAssignsWithLeaseCountedFromSendTime) {
  const MonoTime sent = clock_.Now();
  clock_.Advance(milliseconds(300));  // the answer took 300 ms to arrive
  auto calls = (applier_.Offer(Active(7, 2000), sent), WaitCalls(1));
  ASSERT_EQ(calls[0].method, "AssignRole");
  EXPECT_EQ(calls[0].assignment.epoch(), 7u);
  EXPECT_EQ(calls[0].lease_ms, 1700u);
  EXPECT_EQ(calls[0].deadline_monotonic_ns, Nanos(sent + milliseconds(2000)));
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied_version() == 1; }, milliseconds(5000)));
}

TEST_F(ApplierTest, SameAssignmentRenewsWithEpochAndDeadline) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  clock_.Advance(milliseconds(100));
  const MonoTime sent = clock_.Now();
  clock_.Advance(milliseconds(20));
  auto calls = (applier_.Offer(Active(7, 1500), sent), WaitCalls(2));
  ASSERT_EQ(calls[1].method, "RenewLease");
  EXPECT_EQ(calls[1].epoch, 7u);
  EXPECT_EQ(calls[1].lease_ms, 1480u);
  EXPECT_EQ(calls[1].deadline_monotonic_ns, Nanos(sent + milliseconds(1500)));
}

TEST_F(ApplierTest, ChangedAssignmentIsAssignedAgain) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  v1::Assignment changed = Active(7, 2000, 2);
  changed.add_sync_set("g3");
  auto calls = (applier_.Offer(changed, clock_.Now()), WaitCalls(2));
  EXPECT_EQ(calls[1].method, "AssignRole");
  EXPECT_EQ(calls[1].assignment.sync_set_size(), 2);
}

// A switchover starting, and being abandoned, at the same epoch: only
// AssignRole carries handover_to to the gateway.
TEST_F(ApplierTest, HandoverToAloneIsAChangeBothWays) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  v1::Assignment handover = Active(7, 2000);
  handover.set_handover_to("127.0.0.1:7701");
  EXPECT_NE(AssignmentApplier::KeyOf(handover), AssignmentApplier::KeyOf(Active(7, 2000)));
  auto calls = (applier_.Offer(handover, clock_.Now()), WaitCalls(2));
  ASSERT_EQ(calls[1].method, "AssignRole");
  EXPECT_EQ(calls[1].assignment.handover_to(), "127.0.0.1:7701");
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] { return applier_.applied().has_value() && !applier_.applied()->handover_to().empty(); },
      milliseconds(5000)));
  calls = (applier_.Offer(handover, clock_.Now()), WaitCalls(3));
  EXPECT_EQ(calls[2].method, "RenewLease") << "the same handover again is a renewal";
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] { return Metric("baton_agent_lease_renewals_total", {{"result", "ok"}}) == 1; }, milliseconds(5000)));
  calls = (applier_.Offer(Active(7, 2000), clock_.Now()), WaitCalls(4));
  ASSERT_EQ(calls[3].method, "AssignRole") << "abandoned: the gateway must hear that handover_to is gone";
  EXPECT_EQ(calls[3].assignment.handover_to(), "");
}

// A mirror target added, changed or deleted through the arbiter's REST API
// changes neither the epoch nor the config version: the targets alone must
// make it an AssignRole, or the gateway would never hear of them.
TEST_F(ApplierTest, MirrorTargetsAloneAreAChange) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  EXPECT_EQ(Metric("baton_agent_mirror_targets", {}), 0);
  v1::Assignment mirrored = Active(7, 2000);
  v1::MirrorTarget* target = mirrored.add_mirror_targets();
  target->set_name("site-b");
  target->set_cluster("c2");
  target->add_addresses("10.0.0.7:7700");
  auto calls = (applier_.Offer(mirrored, clock_.Now()), WaitCalls(2));
  ASSERT_EQ(calls[1].method, "AssignRole");
  ASSERT_EQ(calls[1].assignment.mirror_targets_size(), 1);
  EXPECT_EQ(calls[1].assignment.mirror_targets(0).name(), "site-b");
  ASSERT_TRUE(baton::testing::WaitFor([&] { return Metric("baton_agent_mirror_targets", {}) == 1; },
                                      milliseconds(5000)));

  calls = (applier_.Offer(mirrored, clock_.Now()), WaitCalls(3));
  EXPECT_EQ(calls[2].method, "RenewLease") << "the same targets again are a renewal";
  v1::Assignment moved = mirrored;
  moved.mutable_mirror_targets(0)->set_addresses(0, "10.0.0.9:7700");
  calls = (applier_.Offer(moved, clock_.Now()), WaitCalls(4));
  ASSERT_EQ(calls[3].method, "AssignRole") << "a new address is a change";
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] { return applier_.applied() && applier_.applied()->mirror_targets(0).addresses(0) == "10.0.0.9:7700"; },
      milliseconds(5000)));
  calls = (applier_.Offer(Active(7, 2000), clock_.Now()), WaitCalls(5));
  ASSERT_EQ(calls[4].method, "AssignRole") << "deleted: the gateway must stop delivering to it";
  EXPECT_EQ(calls[4].assignment.mirror_targets_size(), 0);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return Metric("baton_agent_mirror_targets", {}) == 0; },
                                      milliseconds(5000)));
}

TEST_F(ApplierTest, KeyIgnoresLeaseAndMapInsertionOrder) {
  v1::Assignment a = Active(3, 100);
  v1::Assignment b;
  b.set_role(v1::ROLE_ACTIVE);
  b.set_epoch(3);
  b.set_lease_ms(9999);
  b.set_active_address("127.0.0.1:7700");
  (*b.mutable_standbys())["g3"] = "127.0.0.1:7702";  // inserted in the other order
  (*b.mutable_standbys())["g2"] = "127.0.0.1:7701";
  b.add_sync_set("g2");
  b.set_config_version(1);
  EXPECT_EQ(AssignmentApplier::KeyOf(a), AssignmentApplier::KeyOf(b));
  b.set_epoch(4);
  EXPECT_NE(AssignmentApplier::KeyOf(a), AssignmentApplier::KeyOf(b));
}

TEST_F(ApplierTest, RenewalsArrivingWhileOneIsInFlightAreDropped) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  gateway_.Hang(true);
  applier_.Offer(Active(7, 2000), clock_.Now());
  ASSERT_TRUE(baton::testing::WaitFor([&] { return gateway_.blocked() == 1; }, milliseconds(5000)));
  for (int i = 0; i < 20; ++i) applier_.Offer(Active(7, 2000), clock_.Now());
  EXPECT_EQ(Metric("baton_agent_lease_renewals_total", {{"result", "dropped"}}), 20);
  gateway_.Hang(false);
  // One more after the hang: exactly one renewal follows, not a backlog.
  ASSERT_TRUE(baton::testing::WaitFor([&] { return gateway_.blocked() == 0; }, milliseconds(5000)));
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] { return Metric("baton_agent_lease_renewals_total", {{"result", "ok"}}) == 1; }, milliseconds(5000)));
  auto calls = (applier_.Offer(Active(7, 2000), clock_.Now()), WaitCalls(3));
  EXPECT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].method, "RenewLease");
}

TEST_F(ApplierTest, ChangedAssignmentBehindAHungCallIsKeptNewestWins) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  gateway_.Hang(true);
  applier_.Offer(Active(7, 2000), clock_.Now());  // renewal, now stuck in the gateway
  ASSERT_TRUE(baton::testing::WaitFor([&] { return gateway_.blocked() == 1; }, milliseconds(5000)));
  applier_.Offer(Active(8, 2000, 2), clock_.Now());
  applier_.Offer(Active(7, 2000), clock_.Now());  // a renewal of the old one: dropped
  applier_.Offer(Active(9, 2000, 3), clock_.Now());
  gateway_.Hang(false);
  auto calls = WaitCalls(3);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied_version() == 3; }, milliseconds(5000)));
  calls = gateway_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].method, "RenewLease");
  EXPECT_EQ(calls[2].method, "AssignRole");
  EXPECT_EQ(calls[2].assignment.epoch(), 9u);
}

TEST_F(ApplierTest, RenewalOfAnAssignmentInFlightIsDropped) {
  gateway_.Hang(true);
  applier_.Offer(Active(7, 2000), clock_.Now());
  ASSERT_TRUE(baton::testing::WaitFor([&] { return gateway_.blocked() == 1; }, milliseconds(5000)));
  applier_.Offer(Active(7, 2000), clock_.Now());
  EXPECT_EQ(Metric("baton_agent_lease_renewals_total", {{"result", "dropped"}}), 1);
  gateway_.Hang(false);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  EXPECT_EQ(gateway_.calls().size(), 1u);
}

TEST_F(ApplierTest, ActiveWhoseLeaseIsAlreadyOverIsNotAssigned) {
  const MonoTime sent = clock_.Now();
  clock_.Advance(milliseconds(2500));
  applier_.Offer(Active(7, 2000), sent);
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] {
        return Metric("baton_agent_assignments_applied_total", {{"role", "active"}, {"code", "DEADLINE_EXCEEDED"}}) == 1;
      },
      milliseconds(5000)));
  EXPECT_TRUE(gateway_.calls().empty());
  EXPECT_FALSE(applier_.applied().has_value());
}

TEST_F(ApplierTest, StandbyWithAnExpiredLeaseStillTakesItsRole) {
  v1::Assignment standby = Active(7, 2000);
  standby.set_role(v1::ROLE_STANDBY);
  const MonoTime sent = clock_.Now();
  clock_.Advance(milliseconds(2500));
  auto calls = (applier_.Offer(standby, sent), WaitCalls(1));
  EXPECT_EQ(calls[0].method, "AssignRole");
  EXPECT_EQ(calls[0].lease_ms, 1u);
  EXPECT_EQ(calls[0].deadline_monotonic_ns, Nanos(sent + milliseconds(2000)));
}

TEST_F(ApplierTest, ExpiredRenewalIsSkipped) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  const MonoTime sent = clock_.Now();
  clock_.Advance(milliseconds(2000));
  applier_.Offer(Active(7, 2000), sent);
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] { return Metric("baton_agent_lease_renewals_total", {{"result", "expired"}}) == 1; }, milliseconds(5000)));
  EXPECT_EQ(gateway_.calls().size(), 1u);
}

TEST_F(ApplierTest, NoLeaseIsPassedAsZero) {
  OfferAndWait(Active(7, 0), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  auto calls = (applier_.Offer(Active(7, 0), clock_.Now()), WaitCalls(2));
  EXPECT_EQ(calls[0].lease_ms, 0u);
  EXPECT_EQ(calls[0].deadline_monotonic_ns, 0);
  EXPECT_EQ(calls[1].method, "RenewLease");
  EXPECT_EQ(calls[1].lease_ms, 0u);
  EXPECT_EQ(calls[1].deadline_monotonic_ns, 0);
}

TEST_F(ApplierTest, FailedAssignRoleIsRetriedByTheNextGrant) {
  gateway_.SetAssignStatus(Status::Unavailable("fake: down"));
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor(
      [&] { return Metric("baton_agent_assignments_applied_total", {{"role", "active"}, {"code", "UNAVAILABLE"}}) == 1; },
      milliseconds(5000)));
  gateway_.SetAssignStatus(Status::Ok());
  auto calls = (applier_.Offer(Active(7, 2000), clock_.Now()), WaitCalls(2));
  EXPECT_EQ(calls[1].method, "AssignRole");
}

TEST_F(ApplierTest, ForgetAppliedMakesTheNextGrantAnAssignment) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  applier_.ForgetApplied("test: gateway restarted");
  EXPECT_EQ(applier_.applied_version(), 0u);
  auto calls = (applier_.Offer(Active(7, 2000), clock_.Now()), WaitCalls(2));
  EXPECT_EQ(calls[1].method, "AssignRole");
}

TEST_F(ApplierTest, ActiveRefusingItsRenewalIsAssignedAgain) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  gateway_.SetRenewStatus(Status::FailedPrecondition("fake: not an assigned active"));
  OfferAndWait(Active(7, 2000), clock_.Now(), 2);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return !applier_.applied().has_value(); }, milliseconds(5000)));
  auto calls = (applier_.Offer(Active(7, 2000), clock_.Now()), WaitCalls(3));
  EXPECT_EQ(calls[2].method, "AssignRole");
}

TEST_F(ApplierTest, GatewayStateMismatchForgetsOnlyForProbesAfterTheApply) {
  OfferAndWait(Active(7, 2000), clock_.Now(), 1);
  ASSERT_TRUE(baton::testing::WaitFor([&] { return applier_.applied().has_value(); }, milliseconds(5000)));
  const MonoTime before = clock_.Now() - milliseconds(1);
  applier_.CheckGatewayState(v1::ROLE_UNASSIGNED, 0, before);  // a probe that began before the apply
  EXPECT_TRUE(applier_.applied().has_value());
  clock_.Advance(milliseconds(25));
  applier_.CheckGatewayState(v1::ROLE_ACTIVE, 7, clock_.Now());  // as assigned
  EXPECT_TRUE(applier_.applied().has_value());
  applier_.CheckGatewayState(v1::ROLE_UNASSIGNED, 0, clock_.Now());  // restarted
  EXPECT_FALSE(applier_.applied().has_value());
}

}  // namespace
}  // namespace baton::agent

// Lease and failsafe arithmetic on a manual clock: exact deadlines.
#include "gateway/role.h"

#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "gateway/control_service.h"

namespace baton::gateway {
namespace {

using namespace std::chrono_literals;

v1::Assignment Active(uint64_t epoch, uint32_t lease_ms, bool failsafe = false) {
  v1::Assignment a;
  a.set_role(v1::ROLE_ACTIVE);
  a.set_epoch(epoch);
  a.set_lease_ms(lease_ms);
  a.set_failsafe(failsafe);
  (*a.mutable_standbys())["s1"] = "127.0.0.1:1";
  return a;
}

TEST(RoleStateTest, StandaloneIsActiveWithoutLease) {
  ManualClock clock;
  RoleState role(clock, 1);
  EXPECT_TRUE(role.CheckWrite().ok());
  clock.Advance(std::chrono::hours(24));
  EXPECT_TRUE(role.CheckWrite().ok());
  EXPECT_EQ(role.lease_remaining_ms(), -1);
  EXPECT_FALSE(role.assigned());
}

TEST(RoleStateTest, LeaseExpiresExactlyAtItsDeadline) {
  ManualClock clock;
  RoleState role(clock, 1);
  ASSERT_TRUE(role.Assign(Active(3, 2000)).ok());
  clock.Advance(1999ms);
  EXPECT_TRUE(role.CheckWrite().ok());
  bool all = false;
  EXPECT_TRUE(role.CheckAck(3, &all).ok());
  EXPECT_FALSE(all);
  EXPECT_FALSE(role.fenced());
  EXPECT_TRUE(role.CheckRead().ok());
  clock.Advance(1ms);
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.CheckAck(3, &all).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.CheckRead().code(), StatusCode::kFailedPrecondition)
      << "a fenced active may have a successor already: its reads could be stale";
  EXPECT_TRUE(role.fenced());
  EXPECT_EQ(role.lease_remaining_ms(), 0);

  ASSERT_TRUE(role.RenewLease(3, 500).ok());
  EXPECT_TRUE(role.CheckWrite().ok());
  EXPECT_TRUE(role.CheckRead().ok());
  EXPECT_EQ(role.lease_remaining_ms(), 500);
  clock.Advance(500ms);
  EXPECT_TRUE(role.fenced());
}

TEST(RoleStateTest, RenewalForAnotherEpochIsRefused) {
  ManualClock clock;
  RoleState role(clock, 1);
  ASSERT_TRUE(role.Assign(Active(3, 1000)).ok());
  EXPECT_EQ(role.RenewLease(2, 1000).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.RenewLease(4, 1000).code(), StatusCode::kFailedPrecondition);
  clock.Advance(1000ms);
  EXPECT_TRUE(role.fenced()) << "a refused renewal must not extend the lease";
}

TEST(RoleStateTest, EpochNeverGoesDown) {
  ManualClock clock;
  RoleState role(clock, 1);
  ASSERT_TRUE(role.Assign(Active(5, 0)).ok());
  Status lower = role.Assign(Active(4, 0));
  EXPECT_EQ(lower.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lower.message().find("epoch 4"), std::string::npos) << lower;
  EXPECT_EQ(role.epoch(), 5u);
  EXPECT_TRUE(role.Assign(Active(5, 0)).ok()) << "the same epoch may be re-assigned";
}

TEST(RoleStateTest, StandbyRefusesClientsAndNamesTheActive) {
  ManualClock clock;
  RoleState role(clock, 1);
  v1::Assignment a;
  a.set_role(v1::ROLE_STANDBY);
  a.set_epoch(2);
  a.set_active_address("10.0.0.1:7700");
  ASSERT_TRUE(role.Assign(a).ok());
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kUnavailable);
  EXPECT_EQ(role.CheckRead().code(), StatusCode::kUnavailable);
  EXPECT_EQ(role.active_address(), "10.0.0.1:7700");
  bool all = false;
  EXPECT_EQ(role.CheckAck(2, &all).code(), StatusCode::kUnavailable);
}

TEST(RoleStateTest, WriteFromAnOlderEpochIsNotAcknowledged) {
  ManualClock clock;
  RoleState role(clock, 1);
  ASSERT_TRUE(role.Assign(Active(7, 0)).ok());
  bool all = false;
  EXPECT_EQ(role.CheckAck(6, &all).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(role.CheckAck(0, &all).ok()) << "a write without a record of its own";
}

TEST(RoleStateTest, FailsafeKeepsServingOnlyWhileEveryStandbyAcks) {
  ManualClock clock;
  RoleState role(clock, 1);
  std::atomic<bool> standbys_ack{true};
  role.set_failsafe_probe([&] { return standbys_ack.load(); });
  ASSERT_TRUE(role.Assign(Active(2, 1000, /*failsafe=*/true)).ok());
  clock.Advance(5000ms);
  EXPECT_TRUE(role.CheckWrite().ok()) << "past the lease, the failsafe holds";
  bool all = false;
  EXPECT_TRUE(role.CheckAck(2, &all).ok());
  EXPECT_TRUE(all) << "under the failsafe a write must be on every standby";
  EXPECT_TRUE(role.CheckRead().ok()) << "nobody can be promoted while every standby acks here";
  EXPECT_FALSE(role.fenced());
  standbys_ack = false;
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.CheckRead().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(role.fenced());
}

TEST(RoleStateTest, FailsafeIsOffUnlessTheAssignmentSwitchesItOn) {
  ManualClock clock;
  RoleState role(clock, 1);
  role.set_failsafe_probe([] { return true; });
  ASSERT_TRUE(role.Assign(Active(2, 1000, /*failsafe=*/false)).ok());
  clock.Advance(1000ms);
  EXPECT_TRUE(role.fenced());
}

v1::Assignment Standby(uint64_t epoch, uint32_t lease_ms) {
  v1::Assignment a;
  a.set_role(v1::ROLE_STANDBY);
  a.set_epoch(epoch);
  a.set_lease_ms(lease_ms);
  a.set_active_address("10.0.0.1:7700");
  return a;
}

TEST(RoleStateTest, UnderAnArbiterNothingIsServedUntilTheFirstAssignment) {
  ManualClock clock;
  RoleState role(clock, 4, /*standalone=*/false);
  EXPECT_EQ(role.role(), v1::ROLE_UNASSIGNED);
  EXPECT_FALSE(role.assigned());
  Status write = role.CheckWrite();
  EXPECT_EQ(write.code(), StatusCode::kUnavailable);
  EXPECT_EQ(write.message(), "this gateway has no role yet (waiting for the arbiter)");
  EXPECT_EQ(role.CheckRead().code(), StatusCode::kUnavailable);
  bool all = false;
  EXPECT_EQ(role.CheckAck(4, &all).code(), StatusCode::kUnavailable);
  EXPECT_EQ(role.active_address(), "");
  EXPECT_FALSE(role.fenced()) << "fenced applies to an active only";
  EXPECT_EQ(role.RenewLease(4, 2000).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.role(), v1::ROLE_UNASSIGNED) << "a renewal does not assign";

  ASSERT_TRUE(role.Assign(Active(5, 2000)).ok());
  EXPECT_EQ(role.role(), v1::ROLE_ACTIVE);
  EXPECT_TRUE(role.CheckWrite().ok());
}

TEST(RoleStateTest, StandbyRenewalRecordsArbiterContactForAQuarterLease) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  ASSERT_TRUE(role.Assign(Standby(2, 0)).ok());
  EXPECT_FALSE(role.arbiter_contact()) << "no lease, no arbiter behind the assignment";

  ASSERT_TRUE(role.RenewLease(2, 2000).ok());
  EXPECT_TRUE(role.arbiter_contact());
  EXPECT_EQ(role.role(), v1::ROLE_STANDBY);
  EXPECT_EQ(role.lease_remaining_ms(), -1) << "a standby holds no lease";
  clock.Advance(499ms);
  EXPECT_TRUE(role.arbiter_contact());
  clock.Advance(1ms);
  EXPECT_FALSE(role.arbiter_contact()) << "contact lasts lease_ms / 4";

  EXPECT_EQ(role.RenewLease(3, 2000).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.RenewLease(1, 2000).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(role.arbiter_contact()) << "a refused renewal records nothing";

  // An absolute deadline bounds the contact too (a renewal that sat in a
  // socket says little about the arbiter now).
  ASSERT_TRUE(role.RenewLease(2, 2000, clock.Now() + 100ms).ok());
  clock.Advance(99ms);
  EXPECT_TRUE(role.arbiter_contact());
  clock.Advance(1ms);
  EXPECT_FALSE(role.arbiter_contact());

  // An assignment with a lease is a grant as well; promotion ends contact.
  ASSERT_TRUE(role.Assign(Standby(2, 400)).ok());
  EXPECT_TRUE(role.arbiter_contact());
  ASSERT_TRUE(role.Assign(Active(3, 2000)).ok());
  EXPECT_FALSE(role.arbiter_contact());
}

TEST(RoleStateTest, AbsoluteDeadlineBoundsTheLease) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  ASSERT_TRUE(role.Assign(Active(3, 2000), clock.Now() + 500ms).ok());
  EXPECT_EQ(role.lease_remaining_ms(), 500);
  clock.Advance(499ms);
  EXPECT_TRUE(role.CheckWrite().ok());
  clock.Advance(1ms);
  EXPECT_TRUE(role.fenced());

  // The earlier of receipt + lease_ms and the deadline wins.
  ASSERT_TRUE(role.RenewLease(3, 2000, clock.Now() + 3000ms).ok());
  EXPECT_EQ(role.lease_remaining_ms(), 2000);
  clock.Advance(2000ms);
  EXPECT_TRUE(role.fenced());

  // A renewal whose deadline has already passed (delivered late, e.g. to a
  // gateway that was stopped) leaves the gateway fenced.
  ASSERT_TRUE(role.RenewLease(3, 2000, clock.Now() - 1ms).ok());
  EXPECT_TRUE(role.fenced());
  EXPECT_EQ(role.lease_remaining_ms(), 0);
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kFailedPrecondition);
  bool all = false;
  EXPECT_EQ(role.CheckAck(3, &all).code(), StatusCode::kFailedPrecondition);

  // lease_ms 0 means "no lease", but an explicit deadline still bounds it.
  ASSERT_TRUE(role.RenewLease(3, 0, clock.Now() + 10ms).ok());
  EXPECT_EQ(role.lease_remaining_ms(), 10);
  clock.Advance(10ms);
  EXPECT_TRUE(role.fenced());
}

v1::Assignment HandingOver(uint64_t epoch, uint32_t lease_ms, const std::string& to) {
  v1::Assignment a = Active(epoch, lease_ms);
  a.set_handover_to(to);
  return a;
}

bool Mentions(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

// Switchover: the active named to hand over takes and acknowledges no write
// (so the position it reports stays final), sends clients to the candidate,
// and still serves reads under the same lease.
TEST(RoleStateTest, HandingOverRefusesWritesAndAcksAndNamesTheCandidate) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  ASSERT_TRUE(role.Assign(Active(3, 2000)).ok());
  EXPECT_FALSE(role.handing_over());
  EXPECT_EQ(role.active_address(), "") << "a serving active sends nobody elsewhere";

  ASSERT_TRUE(role.Assign(HandingOver(3, 2000, "10.0.0.2:7700")).ok());
  EXPECT_TRUE(role.handing_over());
  EXPECT_EQ(role.role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(role.epoch(), 3u);
  Status write = role.CheckWrite();
  EXPECT_EQ(write.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Mentions(write, "handing over to 10.0.0.2:7700")) << write;
  EXPECT_EQ(role.active_address(), "10.0.0.2:7700") << "baton-active names the candidate";
  EXPECT_EQ(role.CheckAppend().code(), StatusCode::kUnavailable) << "a write admitted earlier is not logged";

  bool all = true;
  Status ack = role.CheckAck(3, &all);
  EXPECT_EQ(ack.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Mentions(ack, "handing over")) << ack;
  EXPECT_FALSE(all);
  EXPECT_EQ(role.CheckAck(0, &all).code(), StatusCode::kUnavailable) << "nor a write without a record";
  EXPECT_EQ(role.CheckAck(2, &all).code(), StatusCode::kFailedPrecondition) << "an older epoch says so first";

  EXPECT_TRUE(role.CheckRead().ok()) << "reads go on";
  EXPECT_FALSE(role.fenced());
  EXPECT_EQ(role.lease_remaining_ms(), 2000) << "the lease is the assignment's, as ever";
}

TEST(RoleStateTest, RenewalKeepsTheHandoverAndTheLeaseRunsAsBefore) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  ASSERT_TRUE(role.Assign(HandingOver(3, 1000, "10.0.0.2:7700")).ok());
  clock.Advance(900ms);
  ASSERT_TRUE(role.RenewLease(3, 1000).ok());
  EXPECT_TRUE(role.handing_over()) << "a renewal carries no assignment";
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kUnavailable);
  EXPECT_EQ(role.active_address(), "10.0.0.2:7700");
  EXPECT_EQ(role.lease_remaining_ms(), 1000);
  EXPECT_TRUE(role.CheckRead().ok());

  clock.Advance(1000ms);
  EXPECT_TRUE(role.fenced()) << "without renewals it is fenced at the deadline, handover or not";
  EXPECT_EQ(role.CheckRead().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(role.handing_over());
  bool all = false;
  EXPECT_NE(role.CheckAck(3, &all).code(), StatusCode::kOk);
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kUnavailable) << "the candidate is still where to go";
}

TEST(RoleStateTest, ReassignmentWithoutHandoverAtTheSameEpochResumesWrites) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  ASSERT_TRUE(role.Assign(Active(3, 2000)).ok());
  ASSERT_TRUE(role.Assign(HandingOver(3, 2000, "10.0.0.2:7700")).ok());
  ASSERT_EQ(role.CheckWrite().code(), StatusCode::kUnavailable);

  ASSERT_TRUE(role.Assign(Active(3, 2000)).ok()) << "switchover abandoned";
  EXPECT_FALSE(role.handing_over());
  EXPECT_TRUE(role.CheckWrite().ok());
  EXPECT_TRUE(role.CheckAppend().ok());
  bool all = false;
  EXPECT_TRUE(role.CheckAck(3, &all).ok());
  EXPECT_EQ(role.active_address(), "");
}

TEST(RoleStateTest, StandbyAtAHigherEpochEndsTheHandover) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  ASSERT_TRUE(role.Assign(HandingOver(3, 2000, "10.0.0.2:7700")).ok());

  v1::Assignment standby = Standby(4, 2000);
  standby.set_active_address("10.0.0.2:7700");
  standby.set_handover_to("10.0.0.9:7700");  // meaningless for a standby
  ASSERT_TRUE(role.Assign(standby).ok());
  EXPECT_FALSE(role.handing_over());
  EXPECT_EQ(role.role(), v1::ROLE_STANDBY);
  Status write = role.CheckWrite();
  EXPECT_EQ(write.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Mentions(write, "standby; the active is 10.0.0.2:7700")) << write;
  EXPECT_EQ(role.active_address(), "10.0.0.2:7700");
  EXPECT_EQ(role.CheckRead().code(), StatusCode::kUnavailable);
  bool all = false;
  EXPECT_EQ(role.CheckAck(4, &all).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(role.arbiter_contact()) << "an ordinary standby from here on";
}

TEST(FailsafeRuleTest, EveryStandbyMustAckRecentlyWithoutArbiterContact) {
  ManualClock clock;
  const Duration window = 500ms;
  const MonoTime t0 = clock.Now();
  const StandbyAckView fresh{.streaming = true, .last_ack = t0, .arbiter_contact = false};
  EXPECT_TRUE(FailsafeHolds({fresh, fresh}, t0, window));
  EXPECT_TRUE(FailsafeHolds({fresh, fresh}, t0 + 500ms, window)) << "an ack exactly one window old still counts";
  EXPECT_FALSE(FailsafeHolds({fresh, fresh}, t0 + 501ms, window)) << "silent standbys";
  EXPECT_FALSE(FailsafeHolds({}, t0, window)) << "no standby: nobody confirms the arbiter is gone";
  EXPECT_FALSE(FailsafeHolds({fresh, std::nullopt}, t0, window)) << "a standby without a sender";

  StandbyAckView contact = fresh;
  contact.arbiter_contact = true;
  EXPECT_FALSE(FailsafeHolds({fresh, contact}, t0, window)) << "one standby hears the arbiter";
  StandbyAckView broken = fresh;
  broken.streaming = false;
  EXPECT_FALSE(FailsafeHolds({fresh, broken}, t0, window)) << "one stream is down";
}

// The failsafe as the gateway wires it: RoleState asks FailsafeHolds() over
// the standbys' latest acks (here set by the test, as the senders would).
TEST(RoleStateTest, FailsafeEndsWhenAStandbyHearsTheArbiterOrFallsSilent) {
  ManualClock clock;
  RoleState role(clock, 1, /*standalone=*/false);
  std::vector<std::optional<StandbyAckView>> acks(2);
  const Duration window = 200ms;
  auto ack_all = [&](bool contact) {
    for (auto& a : acks) a = StandbyAckView{.streaming = true, .last_ack = clock.Now(), .arbiter_contact = contact};
  };
  role.set_failsafe_probe([&] { return FailsafeHolds(acks, clock.Now(), window); });
  ASSERT_TRUE(role.Assign(Active(2, 1000, /*failsafe=*/true)).ok());
  ack_all(false);

  // Past the lease, both standbys acking without contact: failsafe.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(150ms);
    ack_all(false);
  }
  EXPECT_TRUE(role.CheckWrite().ok());
  bool all = false;
  EXPECT_TRUE(role.CheckAck(2, &all).ok());
  EXPECT_TRUE(all);

  // One ack says its agent was just renewed: the arbiter is reachable from
  // there, so this active is the one cut off and stops at once.
  acks[1]->arbiter_contact = true;
  EXPECT_TRUE(role.fenced());
  EXPECT_EQ(role.CheckAck(2, &all).code(), StatusCode::kFailedPrecondition);
  ack_all(false);
  EXPECT_FALSE(role.fenced()) << "the latest acks decide";

  // Silence for longer than the window ends it as well, exactly then.
  clock.Advance(200ms);
  EXPECT_FALSE(role.fenced());
  clock.Advance(1ms);
  EXPECT_TRUE(role.fenced());

  // Within the lease, contact reports change nothing.
  ASSERT_TRUE(role.RenewLease(2, 1000).ok());
  ack_all(true);
  EXPECT_TRUE(role.CheckWrite().ok());
  clock.Advance(1000ms);
  EXPECT_TRUE(role.fenced());
}

// The agent sends CLOCK_MONOTONIC nanoseconds; the gateway's production
// clock must read the same time line.
TEST(MonotonicDeadlineTest, SharesTheRealClocksOrigin) {
  EXPECT_FALSE(MonotonicDeadline(0).has_value()) << "0 = no deadline";
  timespec ts{};
  ASSERT_EQ(::clock_gettime(CLOCK_MONOTONIC, &ts), 0);
  const int64_t ns = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  const MonoTime now = RealClock().Now();
  std::optional<MonoTime> converted = MonotonicDeadline(ns);
  ASSERT_TRUE(converted.has_value());
  EXPECT_LE(*converted, now);
  EXPECT_LT(now - *converted, std::chrono::seconds(1));
}

}  // namespace
}  // namespace baton::gateway

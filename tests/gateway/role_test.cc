// Lease and failsafe arithmetic on a manual clock: exact deadlines.
#include "gateway/role.h"

#include <gtest/gtest.h>

#include <atomic>

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
  clock.Advance(1ms);
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(role.CheckAck(3, &all).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(role.fenced());
  EXPECT_EQ(role.lease_remaining_ms(), 0);

  ASSERT_TRUE(role.RenewLease(3, 500).ok());
  EXPECT_TRUE(role.CheckWrite().ok());
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
  EXPECT_FALSE(role.fenced());
  standbys_ack = false;
  EXPECT_EQ(role.CheckWrite().code(), StatusCode::kFailedPrecondition);
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

}  // namespace
}  // namespace baton::gateway

// ClusterBook: what the leader answers to heartbeats around leadership,
// ZooKeeper connectivity and pending promotions (no I/O, plain time values).
#include "arbiter/cluster_book.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace baton::arbiter {
namespace {

using namespace std::chrono_literals;

v1::Heartbeat Beat(const std::string& id, v1::Role role, uint64_t epoch, bool gone = false) {
  v1::Heartbeat hb;
  hb.set_instance_id(id);
  hb.set_cluster("c1");
  hb.set_address(id + ":7000");
  hb.set_health(gone ? v1::HEALTH_DOWN : v1::HEALTH_OK);
  hb.set_gateway_process_gone(gone);
  hb.set_role(role);
  hb.set_epoch(epoch);
  hb.set_priority(1);
  hb.set_sequence(7);
  return hb;
}

class ClusterBookTest : public ::testing::Test {
 protected:
  ClusterBookTest() : book_({.timing = {2000ms, 40ms}, .lease_ms = 2000, .failsafe = true}) {
    state_.epoch = 3;
    state_.active = "g1";
    state_.members = {{"g1", "g1:7000"}, {"g2", "g2:7000"}, {"g3", "g3:7000"}};
    state_.sync_set = {"g2", "g3"};
    state_.zk_version = 5;
  }
  void Lead() { book_.Lead(clock_.Now(), {{"c1", state_}}, {{"c1", ClusterConfig{}}}); }

  ManualClock clock_;
  ClusterState state_;
  ClusterBook book_;
};

TEST_F(ClusterBookTest, AFollowerAnswersWithoutAnAssignment) {
  auto outcome = book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1);
  EXPECT_FALSE(outcome.response.has_assignment());
  EXPECT_EQ(outcome.response.sequence(), 7u);
}

TEST_F(ClusterBookTest, TheLeaderRenewsTheStoredActiveAtOnceWithLeaseAndFailsafe) {
  Lead();
  auto active = book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1);
  ASSERT_TRUE(active.response.has_assignment());
  EXPECT_EQ(active.response.assignment().role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(active.response.assignment().epoch(), 3u);
  EXPECT_EQ(active.response.assignment().lease_ms(), 2000u);
  EXPECT_TRUE(active.response.assignment().failsafe());
  auto standby = book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2);
  ASSERT_TRUE(standby.response.has_assignment());  // after the active's grant
  EXPECT_EQ(standby.response.assignment().role(), v1::ROLE_STANDBY);
  EXPECT_EQ(standby.response.assignment().active_address(), "g1:7000");
}

// A standby's grant denies the active its failsafe; a new leader must not
// give that before the active itself has been renewed.
TEST_F(ClusterBookTest, ANewLeaderGrantsStandbysOnlyAfterTheActiveOrOneLease) {
  Lead();
  EXPECT_FALSE(book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2).response.has_assignment());
  EXPECT_TRUE(book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1).response.has_assignment());
  EXPECT_TRUE(book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2).response.has_assignment());

  ClusterBook other({.timing = {2000ms, 40ms}, .lease_ms = 2000, .failsafe = true});
  other.Lead(clock_.Now(), {{"c1", state_}}, {{"c1", ClusterConfig{}}});
  clock_.Advance(1999ms);
  EXPECT_FALSE(other.OnHeartbeat(Beat("g3", v1::ROLE_STANDBY, 3), clock_.Now(), 3).response.has_assignment());
  clock_.Advance(1ms);
  EXPECT_TRUE(other.OnHeartbeat(Beat("g3", v1::ROLE_STANDBY, 3), clock_.Now(), 3).response.has_assignment());
}

TEST_F(ClusterBookTest, NothingIsGrantedOrDecidedWhileZookeeperIsDisconnected) {
  Lead();
  book_.SetConnected(false, clock_.Now());
  EXPECT_FALSE(book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1).response.has_assignment());
  clock_.Advance(10s);
  book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3, /*gone=*/true), clock_.Now(), 1);
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty());
}

TEST_F(ClusterBookTest, ReconnectingGivesAHealthyActiveALeaseBeforeAnyFailover) {
  Lead();
  book_.SetConnected(false, clock_.Now());
  clock_.Advance(5s);  // far past the last (only) grant's lease
  book_.SetConnected(true, clock_.Now());
  clock_.Advance(10ms);
  book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2);
  book_.OnHeartbeat(Beat("g3", v1::ROLE_STANDBY, 3), clock_.Now(), 3);
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty()) << "a healthy active was failed over after a ZooKeeper blip";
  EXPECT_TRUE(book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1).response.has_assignment());
}

TEST_F(ClusterBookTest, APendingPromotionStopsRenewalsOfTheOldActiveUntilCommitted) {
  Lead();
  clock_.Advance(3s);  // past the new leader's first lease
  book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3, /*gone=*/true), clock_.Now(), 1);
  clock_.Advance(1ms);
  book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2);
  book_.OnHeartbeat(Beat("g3", v1::ROLE_STANDBY, 3), clock_.Now(), 3);
  auto changes = book_.Decide(clock_.Now());
  ASSERT_EQ(changes.size(), 1u);
  ASSERT_TRUE(changes[0].decision.promotion);
  EXPECT_EQ(changes[0].state.epoch, 4u);
  // The old active's agent says it is back: still no lease while pending.
  EXPECT_FALSE(book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1).response.has_assignment());
  EXPECT_TRUE(book_.Decide(clock_.Now()).empty()) << "a second change while one is pending";

  book_.Committed(changes[0], 6, clock_.Now());
  const std::string promoted = changes[0].state.active;
  auto old = book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3), clock_.Now(), 1);
  ASSERT_TRUE(old.response.has_assignment());
  EXPECT_EQ(old.response.assignment().role(), v1::ROLE_STANDBY) << "the old active is told it is a standby";
  EXPECT_EQ(old.response.assignment().epoch(), 4u);
  clock_.Advance(50ms);
  auto done = book_.OnHeartbeat(Beat(promoted, v1::ROLE_ACTIVE, 4), clock_.Now(), 2);
  EXPECT_GT(done.failover_duration.count(), 0) << "failover completion not reported";
  EXPECT_EQ(done.completed_cluster, "c1");
}

TEST_F(ClusterBookTest, AnAbandonedWriteTakesTheReloadedStateAndAllowsDecidingAgain) {
  Lead();
  clock_.Advance(3s);
  book_.OnHeartbeat(Beat("g1", v1::ROLE_ACTIVE, 3, /*gone=*/true), clock_.Now(), 1);
  clock_.Advance(1ms);
  book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2);
  book_.OnHeartbeat(Beat("g3", v1::ROLE_STANDBY, 3), clock_.Now(), 3);
  auto changes = book_.Decide(clock_.Now());
  ASSERT_EQ(changes.size(), 1u);
  ClusterState reloaded = state_;
  reloaded.zk_version = 9;
  book_.Abandoned("c1", reloaded);
  EXPECT_EQ(book_.States().at("c1").zk_version, 9);
  EXPECT_EQ(book_.Decide(clock_.Now()).size(), 1u);
}

TEST_F(ClusterBookTest, OnlyTheNewestStreamOfAnInstanceClosesItsReport) {
  Lead();
  book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 1);
  book_.OnHeartbeat(Beat("g2", v1::ROLE_STANDBY, 3), clock_.Now(), 2);  // reconnected
  book_.OnStreamClosed("c1", "g2", 1);
  EXPECT_TRUE(book_.AllReports().at("c1").at("g2").stream_open);
  book_.OnStreamClosed("c1", "g2", 2);
  EXPECT_FALSE(book_.AllReports().at("c1").at("g2").stream_open);
}

}  // namespace
}  // namespace baton::arbiter

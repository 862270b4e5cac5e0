// Automatic failover with the real parts (PRODUCT.md §5): a real ZooKeeper,
// baton-arbiter replicas, baton-gateway processes and one baton-agent each,
// all on loopback. A client that follows `baton-active` writes throughout;
// afterwards every write it saw acknowledged must be on the new active.
//
// Every wait has a deadline; the writer is bounded in count and time; only
// processes the fixtures started are signalled.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/following_writer.h"
#include "tests/support/ha_cluster.h"
#include "tests/support/metrics_text.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr uint32_t kLeaseMs = 2000;

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ZookeeperAvailable()) GTEST_SKIP() << ZookeeperUnavailableReason();
  }
};

// Every acknowledged write is on gateway `i` with its acknowledged vector.
void ExpectAllAcked(GatewayCluster& gateways, int i, const std::vector<FollowingWriter::Ack>& acks) {
  for (const std::string& problem : MissingAcks(gateways, i, acks)) ADD_FAILURE() << problem;
}

// Starts `ha` and waits until it has an active and the arbiter has both
// standbys in the sync set, settled (each reported as a standby at the current
// epoch and holding what the active acknowledged before it enforced them),
// so that a failover has its quorum. Returns the active's index and the
// stored state at that point.
void StartWithFullSyncSet(HaCluster& ha, int* active, arbiter::ClusterState* state) {
  ASSERT_TRUE(ha.Start().ok()) << ha.DescribeLogs();
  auto found = ha.WaitForActive(seconds(10));
  ASSERT_TRUE(found.ok()) << found.status();
  *active = *found;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto stored = ha.ReadState();
        if (!stored.ok() || stored->sync_set.size() != 2 || !stored->sync_pending.empty()) return false;
        *state = std::move(stored).value();
        return true;
      },
      seconds(20), milliseconds(50)))
      << "the sync set never reached 2 members";
}

TEST_F(FailoverTest, SigkillOfTheActiveUnderLoadPromotesAStandbyAtOnce) {
  HaCluster ha({.gateways = 3, .lease_ms = kLeaseMs});
  int active = -1;
  arbiter::ClusterState before;
  ASSERT_NO_FATAL_FAILURE(StartWithFullSyncSet(ha, &active, &before));

  FollowingWriter writer(ha.gateways(), {.dimension = 4});
  writer.Start(active);
  ASSERT_TRUE(writer.WaitForMoreAcks(50, seconds(10)));
  const auto killed_at = steady_clock::now();
  ASSERT_TRUE(ha.gateways().Kill(active).ok());

  auto promoted = ha.WaitForActive(seconds(10), [&](int i) { return i != active; });
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  const auto promoted_after = steady_clock::now() - killed_at;
  // The fast path does not wait for the lease.
  EXPECT_LT(promoted_after, milliseconds(kLeaseMs))
      << "promotion took " << std::chrono::duration_cast<milliseconds>(promoted_after).count() << " ms";

  ASSERT_TRUE(writer.WaitForMoreAcks(50, seconds(10))) << "the client did not resume writing; last error " << writer.last_error();
  writer.Stop();
  auto after = ha.ReadState();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->epoch, before.epoch + 1) << "exactly one promotion";
  EXPECT_EQ(after->active, ha.gateways().id(*promoted));
  ExpectAllAcked(ha.gateways(), *promoted, writer.acks());

  // The arbiter counts what it did: the bootstrap and this promotion, and the
  // time from detection to each new active reporting as active.
  std::string body;
  const bool counted = WaitFor(
      [&] {
        auto metrics = HttpGet(ha.arbiter_http_port(0), "/metrics");
        if (!metrics.ok()) return false;
        body = metrics->second;
        return MetricValue(body, "baton_arbiter_failover_duration_seconds_count") >= 2;
      },
      seconds(5));
  EXPECT_TRUE(counted) << body;
  EXPECT_EQ(MetricValue(body, "baton_arbiter_leader"), 1) << body;
  EXPECT_EQ(MetricValue(body, "baton_arbiter_promotions_total", {{"reason", "bootstrap"}}), 1) << body;
  EXPECT_EQ(MetricValue(body, "baton_arbiter_promotions_total", {{"reason", "process_gone"}}), 1) << body;
  EXPECT_EQ(MetricValue(body, "baton_arbiter_promotions_total", {{"reason", "lease_expired"}}), 0) << body;
  EXPECT_GE(MetricValue(body, "baton_arbiter_heartbeat_duration_seconds_count"), 1) << body;
  EXPECT_EQ(PromtoolProblems(body, ha.pid_file(0) + ".metrics"), "");
}

TEST_F(FailoverTest, SigstopOfTheActivePromotesOnlyAfterTheLeaseAndTheOldActiveReturnsAsStandby) {
  HaCluster ha({.gateways = 3, .lease_ms = kLeaseMs});
  int active = -1;
  arbiter::ClusterState before;
  ASSERT_NO_FATAL_FAILURE(StartWithFullSyncSet(ha, &active, &before));

  FollowingWriter writer(ha.gateways(), {.dimension = 4});
  writer.Start(active);
  ASSERT_TRUE(writer.WaitForMoreAcks(50, seconds(10)));
  const auto stopped_at = steady_clock::now();
  ASSERT_TRUE(ha.gateways().Pause(active).ok());

  auto promoted = ha.WaitForActive(seconds(15), [&](int i) { return i != active; });
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  const auto promoted_at = steady_clock::now();
  const auto promoted_after = promoted_at - stopped_at;
  EXPECT_GE(promoted_after, milliseconds(kLeaseMs)) << "promoted before the old lease surely ran out";

  // Continued, the old active is past its deadline: it acknowledges nothing.
  ASSERT_TRUE(ha.gateways().Resume(active).ok());
  auto direct = ha.gateways().Upsert(active, GatewayCluster::MakeObject("after-stop", {1, 2, 3, 4}), seconds(5));
  EXPECT_FALSE(direct.status.ok()) << "the old active acknowledged a write after its lease";
  ASSERT_TRUE(writer.WaitForMoreAcks(50, seconds(10))) << "the client did not resume writing; last error " << writer.last_error();
  writer.Stop();
  // An answer the active sent just before SIGSTOP can still be read by the
  // client after `stopped_at`; what must never happen is an answer from the
  // old active once another instance was promoted (its lease is over then).
  for (const auto& ack : writer.acks()) {
    if (ack.gateway == active) {
      EXPECT_LT(ack.at, promoted_at) << ack.id << " acked by the stopped active after the promotion";
    }
  }

  auto state = ha.ReadState();
  ASSERT_TRUE(state.ok()) << state.status();
  Status standby = ha.gateways().WaitForState(
      active, [&](const v1::GetStateResponse& s) { return s.role() == v1::ROLE_STANDBY && s.epoch() == state->epoch; },
      seconds(15), "old active back as standby at the new epoch");
  EXPECT_TRUE(standby.ok()) << standby;
  EXPECT_TRUE(ha.gateways().WaitCaughtUp(*promoted, active, seconds(20)).ok()) << "tail not reconciled";
  ExpectAllAcked(ha.gateways(), *promoted, writer.acks());

  // It rejoins the sync set, pending until the new active reports enforcing
  // it (Heartbeat.sync_enforced) and it holds the position of that report;
  // the member that stayed in the set across the promotion settles too.
  arbiter::ClusterState rejoined;
  const bool settled = WaitFor(
      [&] {
        auto stored = ha.ReadState();
        if (!stored.ok()) return false;
        rejoined = std::move(stored).value();
        const auto& sync = rejoined.sync_set;
        return std::find(sync.begin(), sync.end(), ha.gateways().id(active)) != sync.end() &&
               rejoined.sync_pending.empty();
      },
      seconds(20), milliseconds(50));
  EXPECT_TRUE(settled) << "sync set " << rejoined.sync_set.size() << " members, " << rejoined.sync_pending.size()
                       << " pending\n" << ha.DescribeLogs();
}

TEST_F(FailoverTest, SigkillOfTheActivesAgentFencesTheGatewayAtItsDeadlineThenPromotes) {
  HaCluster ha({.gateways = 3, .lease_ms = kLeaseMs});
  int active = -1;
  arbiter::ClusterState before;
  ASSERT_NO_FATAL_FAILURE(StartWithFullSyncSet(ha, &active, &before));

  const auto killed_at = steady_clock::now();
  ASSERT_TRUE(ha.KillAgent(active).ok());
  // Its standbys still reach the arbiter, so failsafe does not keep it going.
  Status fenced = ha.gateways().WaitForState(
      active, [](const v1::GetStateResponse& s) { return s.fenced() || s.role() != v1::ROLE_ACTIVE; },
      milliseconds(kLeaseMs + 2000), "the active fences itself");
  ASSERT_TRUE(fenced.ok()) << fenced;
  auto write = ha.gateways().Upsert(active, GatewayCluster::MakeObject("fenced", {1, 2, 3, 4}), seconds(5));
  EXPECT_FALSE(write.status.ok()) << "a fenced active acknowledged a write";

  auto promoted = ha.WaitForActive(seconds(10), [&](int i) { return i != active; });
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  // The last lease ran from the agent's last heartbeat, up to one heartbeat
  // interval before the kill (measured: 1,987 ms after it once).
  EXPECT_GE(steady_clock::now() - killed_at, milliseconds(kLeaseMs - ha.options().heartbeat_ms));
}

TEST_F(FailoverTest, SigkillOfTheArbiterLeaderHandsLeadershipOverWithoutAPromotion) {
  HaCluster ha({.gateways = 3, .arbiters = 3, .lease_ms = kLeaseMs});
  int active = -1;
  arbiter::ClusterState before;
  ASSERT_NO_FATAL_FAILURE(StartWithFullSyncSet(ha, &active, &before));
  auto leader = ha.LeaderArbiter();
  ASSERT_TRUE(leader.ok()) << leader.status();

  FollowingWriter writer(ha.gateways(), {.dimension = 4});
  writer.Start(active);
  ASSERT_TRUE(writer.WaitForMoreAcks(20, seconds(10)));
  ASSERT_TRUE(ha.KillArbiter(*leader).ok());
  const auto killed_at = steady_clock::now();

  int new_leader = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto l = ha.LeaderArbiter();
        if (!l.ok() || *l == *leader) return false;
        new_leader = *l;
        return true;
      },
      milliseconds(ha.options().zookeeper_session_timeout_ms + 3000), milliseconds(50)))
      << "no new leader within the session timeout";
  // The new leader waits a lease, then renews the same active; the writer
  // keeps going throughout (failsafe covers the leaderless seconds).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = ha.gateways().GetState(active);
        return s.ok() && s->lease_remaining_ms() > static_cast<int64_t>(kLeaseMs / 2) &&
               steady_clock::now() - killed_at > milliseconds(ha.options().zookeeper_session_timeout_ms);
      },
      seconds(15), milliseconds(50)))
      << "the new leader " << new_leader << " never renewed the active";
  ASSERT_TRUE(writer.WaitForMoreAcks(20, seconds(5)));
  writer.Stop();
  EXPECT_LT(writer.LongestGapAfter(killed_at), milliseconds(1000)) << "writes stalled while the leader changed";
  auto after = ha.ReadState();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->epoch, before.epoch) << "a promotion happened although the active never failed";
  EXPECT_EQ(after->active, before.active);
}

TEST_F(FailoverTest, ZookeeperDownForThirtySecondsPromotesNobodyAndTheActiveKeepsServing) {
  HaCluster ha({.gateways = 3, .lease_ms = kLeaseMs});
  int active = -1;
  arbiter::ClusterState before;
  ASSERT_NO_FATAL_FAILURE(StartWithFullSyncSet(ha, &active, &before));

  FollowingWriter writer(ha.gateways(), {.dimension = 4});
  writer.Start(active);
  ASSERT_TRUE(writer.WaitForMoreAcks(20, seconds(10)));
  ha.zookeeper()->Stop();
  const auto stopped_at = steady_clock::now();
  // For 30 s: the same active keeps acknowledging (under failsafe once its
  // lease runs out) and nobody else becomes active.
  while (steady_clock::now() - stopped_at < seconds(30)) {
    ASSERT_TRUE(writer.WaitForMoreAcks(10, seconds(3))) << "writes stopped while ZooKeeper was down";
    for (int i = 0; i < ha.gateways().size(); ++i) {
      if (i == active) continue;
      auto s = ha.gateways().GetState(i);
      ASSERT_TRUE(s.ok() && s->role() != v1::ROLE_ACTIVE) << ha.gateways().id(i) << " became active";
    }
  }
  ASSERT_TRUE(ha.zookeeper()->Start().ok());
  // Recovery by itself: a leader again, the lease renewed, same epoch.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = ha.gateways().GetState(active);
        return s.ok() && s->role() == v1::ROLE_ACTIVE && s->lease_remaining_ms() > static_cast<int64_t>(kLeaseMs / 2);
      },
      seconds(30), milliseconds(50)))
      << "the active's lease was never renewed after ZooKeeper returned";
  writer.Stop();
  for (const auto& ack : writer.acks()) EXPECT_EQ(ack.gateway, active);
  auto after = ha.ReadState();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->epoch, before.epoch);
  EXPECT_EQ(after->active, before.active);
}

TEST_F(FailoverTest, LosingOneMemberOfAThreeNodeZookeeperEnsembleInterruptsNothing) {
  ZookeeperEnsemble ensemble(3);
  ASSERT_TRUE(ensemble.Start().ok());
  HaCluster ha({.gateways = 3, .lease_ms = kLeaseMs, .zookeeper_connect = ensemble.connect_string()});
  int active = -1;
  arbiter::ClusterState before;
  ASSERT_NO_FATAL_FAILURE(StartWithFullSyncSet(ha, &active, &before));

  FollowingWriter writer(ha.gateways(), {.dimension = 4});
  writer.Start(active);
  ASSERT_TRUE(writer.WaitForMoreAcks(20, seconds(10)));
  const auto killed_at = steady_clock::now();
  ensemble.StopMember(0);
  // Longer than a session timeout and two leases: any interruption shows.
  const auto observe = milliseconds(ha.options().zookeeper_session_timeout_ms + 2 * kLeaseMs);
  while (steady_clock::now() - killed_at < observe) {
    ASSERT_TRUE(writer.WaitForMoreAcks(10, seconds(2))) << "writes stopped";
  }
  writer.Stop();
  EXPECT_LT(writer.LongestGapAfter(killed_at), milliseconds(1000));
  auto s = ha.gateways().GetState(active);
  ASSERT_TRUE(s.ok());
  EXPECT_GT(s->lease_remaining_ms(), 0) << "the lease lapsed: the arbiter was interrupted";
  auto after = ha.ReadState();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->epoch, before.epoch);
}

}  // namespace
}  // namespace baton::testing

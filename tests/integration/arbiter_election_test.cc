// Arbiter election and guarded state writes against a real ZooKeeper:
// the lowest ephemeral sequential znode leads, a follower takes over when the
// leader's session ends (watching only its predecessor), and a deposed
// replica cannot write cluster state.
#include <atomic>
#include <memory>

#include <gtest/gtest.h>

#include "arbiter/election.h"
#include "arbiter/state_store.h"
#include "common/zk_client.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::arbiter {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

class ArbiterElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::ZookeeperAvailable()) GTEST_SKIP() << testing::ZookeeperUnavailableReason();
    ASSERT_TRUE(zookeeper_.Start().ok());
  }

  std::unique_ptr<ZkClient> Connect() {
    ZkOptions options;
    options.connect_string = zookeeper_.connect_string();
    options.session_timeout_ms = 4000;
    auto zk = ZkClient::Connect(options);
    EXPECT_TRUE(zk.ok()) << zk.status();
    return zk.ok() ? std::move(zk).value() : nullptr;
  }

  testing::ZookeeperServer zookeeper_;
};

struct Replica {
  std::unique_ptr<ZkClient> zk;
  std::unique_ptr<Election> election;
  std::atomic<int> changes{0};
};

TEST_F(ArbiterElectionTest, LowestLeadsAndTheNextTakesOverWhenItsSessionEnds) {
  Replica replicas[3];
  for (int i = 0; i < 3; ++i) {
    replicas[i].zk = Connect();
    ASSERT_NE(replicas[i].zk, nullptr);
    Replica* r = &replicas[i];
    r->election = std::make_unique<Election>(*r->zk, "/baton/arbiter/election",
                                             "{\"id\":\"a" + std::to_string(i + 1) + "\"}",
                                             [r](bool) { r->changes.fetch_add(1); });
    ASSERT_TRUE(r->election->Start().ok());
  }
  EXPECT_TRUE(replicas[0].election->is_leader());
  EXPECT_FALSE(replicas[1].election->is_leader());
  EXPECT_FALSE(replicas[2].election->is_leader());
  auto leader = replicas[2].election->ReadLeaderData();
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(*leader, "{\"id\":\"a1\"}");

  // Closing the leader's session removes its znode at once; only its
  // successor is woken, and leads.
  replicas[0].election.reset();
  replicas[0].zk.reset();
  ASSERT_TRUE(WaitFor([&] { return replicas[1].election->is_leader(); }, 10s));
  EXPECT_FALSE(replicas[2].election->is_leader());
  EXPECT_EQ(replicas[2].changes.load(), 0) << "the third replica was woken (herd effect)";

  // The middle of the queue leaving re-points the last one at the leader.
  Replica extra;
  extra.zk = Connect();
  extra.election = std::make_unique<Election>(*extra.zk, "/baton/arbiter/election", "{}", nullptr);
  ASSERT_TRUE(extra.election->Start().ok());
  replicas[2].election.reset();
  replicas[2].zk.reset();
  replicas[1].election.reset();
  replicas[1].zk.reset();
  ASSERT_TRUE(WaitFor([&] { return extra.election->is_leader(); }, 10s));
}

// Regression (found by TSan): the predecessor watch captured the election,
// so one that fired after the election was destroyed, on a client that was
// not, ran on freed memory (the arbiter drops its election before its
// session). Against the old election.cc this test crashed (SIGSEGV, gcc
// build).
TEST_F(ArbiterElectionTest, AWatchFiringAfterTheElectionIsGoneTouchesNothing) {
  auto leader_zk = Connect();
  auto follower_zk = Connect();
  ASSERT_NE(leader_zk, nullptr);
  ASSERT_NE(follower_zk, nullptr);
  const std::string dir = "/baton/arbiter/election";
  auto leader = std::make_unique<Election>(*leader_zk, dir, "{}", nullptr);
  ASSERT_TRUE(leader->Start().ok());
  std::atomic<int> changes{0};
  auto follower = std::make_unique<Election>(*follower_zk, dir, "{}", [&](bool) { changes.fetch_add(1); });
  ASSERT_TRUE(follower->Start().ok());
  ASSERT_FALSE(follower->is_leader());
  const std::string watched = leader->own_path();

  follower.reset();  // its watch on the leader's znode stays with follower_zk
  leader.reset();
  leader_zk.reset();  // the session ends: the watched znode goes, the watch fires
  // Events reach the dispatcher in order: once a watch armed later on a node
  // created later has run, the election's watch has run too.
  std::atomic<bool> marker_seen{false};
  auto marker = follower_zk->ExistsW("/baton/marker", [&](const ZkWatchEvent&) { marker_seen = true; });
  ASSERT_TRUE(marker.ok()) << marker.status();
  // ZooKeeper delivers a watch event before the read that sees the change.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto stat = follower_zk->Exists(watched);
        return stat.ok() && !stat->has_value();
      },
      10s));
  ASSERT_TRUE(follower_zk->Create("/baton/marker", "", CreateMode::kPersistent).ok());
  ASSERT_TRUE(WaitFor([&] { return marker_seen.load(); }, 10s));
  EXPECT_EQ(changes.load(), 0) << "on_change ran after the election was destroyed";
}

TEST_F(ArbiterElectionTest, GuardedWritesNeedTheWritersElectionZnodeAndTheStoredVersion) {
  auto zk = Connect();
  ASSERT_NE(zk, nullptr);
  Election election(*zk, "/baton/arbiter/election", "{}", nullptr);
  ASSERT_TRUE(election.Start().ok());
  StateStore store(*zk, "/baton");

  ClusterState state;
  state.epoch = 1;
  state.active = "g1";
  state.members = {{"g1", "127.0.0.1:1"}, {"g2", "127.0.0.1:2"}};
  state.sync_set = {"g2"};
  auto created = store.WriteState(election.own_path(), "c1", state);
  ASSERT_TRUE(created.ok()) << created.status();
  auto loaded = store.LoadState("c1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->active, "g1");
  EXPECT_EQ(loaded->zk_version, *created);

  // A stale version is refused: somebody else wrote in between.
  ClusterState stale = state;  // zk_version -1: "create"
  stale.epoch = 2;
  auto refused = store.WriteState(election.own_path(), "c1", stale);
  EXPECT_EQ(refused.status().code(), StatusCode::kAborted) << refused.status();

  // A replica whose election znode is gone (deposed) cannot write.
  ClusterState next = *loaded;
  next.epoch = 2;
  auto deposed = store.WriteState(election.own_path() + "0", "c1", next);
  EXPECT_EQ(deposed.status().code(), StatusCode::kNotFound) << deposed.status();
  auto unchanged = store.LoadState("c1");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->epoch, 1u);

  auto written = store.WriteState(election.own_path(), "c1", next);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(store.LoadState("c1")->epoch, 2u);
  auto clusters = store.ListClusters();
  ASSERT_TRUE(clusters.ok());
  EXPECT_EQ(*clusters, std::vector<std::string>{"c1"});
}

// The event history: guarded appends, newest-first reads with a filter, the
// trim, and a reader's cache that stays right when the events znode is
// recreated (its children are numbered from 0 again).
TEST_F(ArbiterElectionTest, EventsAreAppendedTrimmedAndReadThroughACache) {
  auto zk = Connect();
  ASSERT_NE(zk, nullptr);
  Election election(*zk, "/baton-events/arbiter/election", "{}", nullptr);
  ASSERT_TRUE(election.Start().ok());
  StateStore store(*zk, "/baton-events");
  auto event = [](const std::string& cluster, int n) {
    return R"({"cluster":")" + cluster + R"(","n":)" + std::to_string(n) + "}";
  };
  ASSERT_TRUE(store.AppendEvents(election.own_path(), {event("c1", 0), event("c2", 1), event("c1", 2)}).ok());
  EXPECT_EQ(store.AppendEvents("/baton-events/arbiter/election/n_9999999999", {event("c1", 9)}).code(),
            StatusCode::kNotFound)
      << "a replica without its election znode records nothing";

  EventCache cache;
  auto c1 = store.ReadEvents(10, [](const std::string& json) { return json.find("\"c1\"") != std::string::npos; },
                             &cache);
  ASSERT_TRUE(c1.ok()) << c1.status();
  ASSERT_EQ(c1->size(), 2u);
  EXPECT_EQ((*c1)[0].json, event("c1", 0)) << "oldest first";
  EXPECT_EQ((*c1)[1].json, event("c1", 2));
  auto last = store.ReadEvents(1, {}, &cache);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].json, event("c1", 2));

  ASSERT_TRUE(store.TrimEvents(1).ok());
  auto trimmed = store.ReadEvents(10, {}, &cache);
  ASSERT_TRUE(trimmed.ok());
  ASSERT_EQ(trimmed->size(), 1u) << "only the newest is kept";

  // Recreated: same sequence numbers, other events; the cache must not
  // answer with the old ones.
  auto children = zk->GetChildren("/baton-events/events");
  ASSERT_TRUE(children.ok()) << children.status();
  for (const std::string& child : *children) {
    ASSERT_TRUE(zk->Delete("/baton-events/events/" + child).ok());
  }
  ASSERT_TRUE(zk->Delete("/baton-events/events").ok());
  ASSERT_TRUE(store.AppendEvents(election.own_path(), {event("c3", 0), event("c3", 1), event("c3", 2)}).ok());
  auto fresh = store.ReadEvents(10, {}, &cache);
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(fresh->size(), 3u);
  EXPECT_EQ((*fresh)[2].json, event("c3", 2));
}

}  // namespace
}  // namespace baton::arbiter

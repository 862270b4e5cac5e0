// Mirror targets through the arbiter's REST API against the real parts
// (docs/operator-api.md "Mirror targets"): a real ZooKeeper, three
// baton-arbiter replicas, baton-gateway processes with their baton-agents on
// loopback. Create, read, replace (compare-and-set) and delete from leader
// and follower; 400/401/404/409; a change reaches every member's agent
// within about a heartbeat; seeds from `mirror.targets` are created once and
// never override an operator's change or deletion; the active's delivery to
// each target shows in the cluster's status.
//
// Every wait has a deadline; only processes the fixtures started are
// signalled.
#include <sys/wait.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "arbiter/election.h"
#include "arbiter/state_store.h"
#include "common/zk_client.h"
#include "tests/support/binaries.h"
#include "tests/support/ha_cluster.h"
#include "tests/support/metrics_text.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kToken[] = "s3cret";
const std::map<std::string, std::string> kAuth = {{"Authorization", std::string("Bearer ") + kToken}};

// An address nothing listens on: the target's peer is down.
std::string DeadAddress() { return "127.0.0.1:" + std::to_string(PickFreePort()); }

class MirrorTargetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ZookeeperAvailable()) GTEST_SKIP() << ZookeeperUnavailableReason();
  }

  // Starts `ha`, waits for an active and a sync standby, finds the leading
  // and one following arbiter.
  void StartCluster(HaCluster& ha) {
    ASSERT_TRUE(ha.Start().ok()) << ha.DescribeLogs();
    auto active = ha.WaitForActive(seconds(10));
    ASSERT_TRUE(active.ok()) << active.status();
    active_ = *active;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto stored = ha.ReadState();
          return stored.ok() && stored->sync_set.size() == 1 && stored->sync_pending.empty();
        },
        seconds(20), milliseconds(50)))
        << "no sync standby";
    FindLeader(ha);
  }

  void FindLeader(HaCluster& ha) {
    int leader = -1;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto found = ha.LeaderArbiter();
          if (!found.ok() || !ha.arbiter_running(*found)) return false;
          // Leading means answering as the leader, not only holding the znode.
          json status = Get(ha.arbiter_http_port(*found), "/v1/status");
          if (!status.contains("leader") || !status["leader"].is_object() ||
              status["leader"].value("id", "") != status.value("answered_by", "?")) {
            return false;
          }
          leader = *found;
          return true;
        },
        seconds(30)))
        << "no arbiter leads";
    leader_ = leader;
    leader_port_ = ha.arbiter_http_port(leader);
    for (int i = 1; i < ha.options().arbiters; ++i) {
      const int follower = (leader + i) % ha.options().arbiters;
      if (ha.arbiter_running(follower)) {
        follower_port_ = ha.arbiter_http_port(follower);
        break;
      }
    }
  }

  static HttpAnswer Call(uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::map<std::string, std::string>& headers = kAuth) {
    auto answer = HttpCall(port, method, path, body, headers);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *answer : HttpAnswer{};
  }

  static json Get(uint16_t port, const std::string& path) {
    auto answer = HttpCall(port, "GET", path, "", {}, seconds(5));
    if (!answer.ok() || answer->status != 200) return json::object();
    json doc = json::parse(answer->body, nullptr, false);
    return doc.is_object() ? doc : json::object();
  }

  static json Body(const HttpAnswer& answer) {
    json doc = json::parse(answer.body, nullptr, false);
    return doc.is_discarded() ? json::object() : doc;
  }
  static std::string ErrorCode(const HttpAnswer& answer) {
    json doc = Body(answer);
    return doc.contains("error") ? doc["error"].value("code", "") : "";
  }
  static std::string ErrorMessage(const HttpAnswer& answer) {
    json doc = Body(answer);
    return doc.contains("error") ? doc["error"].value("message", "") : "";
  }

  // Mirror targets in the assignment each agent's gateway accepted last.
  static double AgentTargets(HaCluster& ha, int i) {
    auto metrics = HttpGet(ha.agent_http_port(i), "/metrics");
    if (!metrics.ok() || metrics->first != 200) return -1;
    return MetricValue(metrics->second, "baton_agent_mirror_targets", {});
  }
  static bool EveryAgentHas(HaCluster& ha, double targets) {
    for (int i = 0; i < ha.options().gateways; ++i) {
      if (AgentTargets(ha, i) != targets) return false;
    }
    return true;
  }

  int active_ = -1;
  int leader_ = -1;
  uint16_t leader_port_ = 0;
  uint16_t follower_port_ = 0;
};

TEST_F(MirrorTargetsTest, CrudFromLeaderAndFollowerReachesTheAgents) {
  HaCluster ha({.gateways = 2, .arbiters = 3, .arbiter_args = {"--api.token", kToken}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha));
  const std::string peer1 = DeadAddress(), peer2 = DeadAddress();

  for (uint16_t port : {leader_port_, follower_port_}) {
    SCOPED_TRACE(port == leader_port_ ? "leader" : "follower");
    EXPECT_EQ(Get(port, "/v1/mirror-targets"), json::parse(R"({"mirror_targets": []})"));

    // 404 naming the target.
    HttpAnswer missing = Call(port, "GET", "/v1/mirror-targets/site-b");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(ErrorMessage(missing), "no mirror target named \"site-b\"");
    EXPECT_EQ(Call(port, "DELETE", "/v1/mirror-targets/site-b").status, 404);

    // 401 without the right token, and nothing is written.
    const std::string body = R"({"cluster": "c2", "addresses": [")" + peer1 + R"("]})";
    EXPECT_EQ(Call(port, "PUT", "/v1/mirror-targets/site-b", body, {}).status, 401);
    EXPECT_EQ(Call(port, "PUT", "/v1/mirror-targets/site-b", body, {{"Authorization", "Bearer no"}}).status, 401);
    EXPECT_EQ(Call(port, "DELETE", "/v1/mirror-targets/site-b", "", {}).status, 401);

    // 400 naming the field; a follower answers these itself.
    for (const auto& [input, field] : std::vector<std::pair<std::string, std::string>>{
             {R"({"cluster": "c2", "addresses": ["h:1"], "mode": "sync"})", "mode"},
             {R"({"addresses": ["h:1"]})", "cluster"},
             {R"({"cluster": "c2", "addresses": ["h:1", "nope"]})", "addresses"},
             {R"({"cluster": "c2", "addresses": []})", "addresses"},
             {R"({"cluster": "c2", "addresses": ["h:1"], "name": "site-x"})", "name"},
             {R"({"cluster": "c2", "addresses": ["h:1"], "version": "1"})", "version"},
             {R"({"cluster": "c2", "addresses": ["h:1")", ""}}) {
      HttpAnswer bad = Call(port, "PUT", "/v1/mirror-targets/site-b", input);
      EXPECT_EQ(bad.status, 400) << input << ": " << bad.body;
      EXPECT_EQ(ErrorCode(bad), "INVALID_ARGUMENT") << bad.body;
      if (!field.empty()) {
        EXPECT_NE(ErrorMessage(bad).find("field \"" + field + "\""), std::string::npos) << bad.body;
      }
      EXPECT_EQ(bad.headers.count("Baton-Forwarded-By"), 0u) << "refused before forwarding";
    }
    EXPECT_EQ(Call(port, "PUT", "/v1/mirror-targets/bad%20name", body).status, 400);
    EXPECT_EQ(Get(port, "/v1/mirror-targets"), json::parse(R"({"mirror_targets": []})"));
  }
  EXPECT_TRUE(EveryAgentHas(ha, 0));

  // Created through the follower: forwarded to the leader, version 1.
  const auto put_at = std::chrono::steady_clock::now();
  HttpAnswer created = Call(follower_port_, "PUT", "/v1/mirror-targets/site-b",
                            R"({"cluster": "c2", "addresses": [")" + peer1 + R"("]})");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_FALSE(created.headers["Baton-Forwarded-By"].empty());
  const json site_b = {{"name", "site-b"}, {"cluster", "c2"}, {"addresses", {peer1}}, {"version", 1}};
  EXPECT_EQ(Body(created), site_b);
  // Every member's agent applies an assignment carrying it, within about a
  // heartbeat: the leader pushes it rather than waiting for the next answer.
  ASSERT_TRUE(WaitFor([&] { return EveryAgentHas(ha, 1); }, seconds(3)))
      << "agents report " << AgentTargets(ha, 0) << " and " << AgentTargets(ha, 1) << " targets\n"
      << ha.DescribeLogs(20);
  const auto reached_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - put_at).count();
  std::cout << "the new target reached every agent's gateway " << reached_ms << " ms after the PUT was sent\n";
  RecordProperty("target_reached_agents_ms", std::to_string(reached_ms));
  for (uint16_t port : {leader_port_, follower_port_}) {
    EXPECT_EQ(Get(port, "/v1/mirror-targets"), (json{{"mirror_targets", {site_b}}}));
    EXPECT_EQ(Get(port, "/v1/mirror-targets/site-b"), site_b);
  }
  // The same PUT again changes nothing.
  HttpAnswer again = Call(leader_port_, "PUT", "/v1/mirror-targets/site-b",
                          R"({"name": "site-b", "cluster": "c2", "addresses": [")" + peer1 + R"("]})");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Body(again), site_b);

  // Compare-and-set: 409 for a stale version, for "create only" of an
  // existing one; the current version replaces it.
  const std::string moved = R"({"cluster": "c2", "addresses": [")" + peer1 + R"(", ")" + peer2 + R"("], "version": )";
  HttpAnswer stale = Call(follower_port_, "PUT", "/v1/mirror-targets/site-b", moved + "7}");
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(ErrorCode(stale), "ABORTED");
  EXPECT_NE(ErrorMessage(stale).find("version 1, not 7"), std::string::npos) << stale.body;
  EXPECT_EQ(Call(leader_port_, "PUT", "/v1/mirror-targets/site-b", moved + "0}").status, 409);
  EXPECT_EQ(Call(leader_port_, "PUT", "/v1/mirror-targets/site-c",
                 R"({"cluster": "c3", "addresses": ["h:1"], "version": 2})")
                .status,
            409)
      << "a version for a target that does not exist";
  HttpAnswer replaced = Call(follower_port_, "PUT", "/v1/mirror-targets/site-b", moved + "1}");
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(Body(replaced)["version"], 2);
  EXPECT_EQ(Body(replaced)["addresses"], json({peer1, peer2}));
  EXPECT_EQ(Get(follower_port_, "/v1/mirror-targets/site-b")["version"], 2);

  // A target in the cluster's own name is not the cluster's to mirror to.
  ASSERT_EQ(Call(leader_port_, "PUT", "/v1/mirror-targets/site-a",
                 R"({"cluster": "c1", "addresses": [")" + DeadAddress() + R"("], "version": 0})")
                .status,
            200);
  EXPECT_EQ(Get(leader_port_, "/v1/mirror-targets")["mirror_targets"].size(), 2u);

  // The cluster's status lists c1's one target with the mode.
  ASSERT_TRUE(WaitFor(
      [&] {
        json mirror = Get(follower_port_, "/v1/clusters/c1")["mirror"];
        return mirror.is_object() && mirror.value("mode", "") == "async" && mirror["targets"].size() == 1 &&
               mirror["targets"][0].value("target", "") == "site-b" && mirror["targets"][0]["cluster"] == "c2";
      },
      seconds(10)))
      << Get(follower_port_, "/v1/clusters/c1").dump();
  EXPECT_EQ(Get(leader_port_, "/v1/clusters/c1")["mirror"]["targets"].size(), 1u);

  // Deleted through the follower: gone everywhere, and from the assignments.
  HttpAnswer deleted = Call(follower_port_, "DELETE", "/v1/mirror-targets/site-b");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(Body(deleted)["name"], "site-b");
  EXPECT_EQ(Call(leader_port_, "GET", "/v1/mirror-targets/site-b").status, 404);
  EXPECT_EQ(Call(leader_port_, "DELETE", "/v1/mirror-targets/site-b").status, 404);
  ASSERT_TRUE(WaitFor([&] { return EveryAgentHas(ha, 0); }, seconds(3))) << ha.DescribeLogs(20);

  // The history records each change, under the target's cluster.
  std::vector<std::string> types;
  ASSERT_TRUE(WaitFor(
      [&] {
        types.clear();
        for (const json& e : Get(follower_port_, "/v1/events?cluster=c2").value("events", json::array())) {
          types.push_back(e.value("type", "") + ":" + e.value("target", ""));
        }
        return types == std::vector<std::string>{"mirror_target_set:site-b", "mirror_target_set:site-b",
                                                 "mirror_target_deleted:site-b"};
      },
      seconds(10)))
      << json(types).dump();

  // batonctl speaks the same API.
  const std::string batonctl = BinaryPath("tools/batonctl");
  const std::string arbiters = "127.0.0.1:" + std::to_string(follower_port_);
  TempDir dir;
  int runs = 0;
  auto run = [&](std::vector<std::string> args) -> std::pair<int, std::string> {
    args.insert(args.end(), {"--arbiter", arbiters});
    auto done = RunToExit(batonctl, args, dir.Join("batonctl-" + std::to_string(++runs) + ".log"));
    EXPECT_TRUE(done.ok()) << done.status();
    if (!done.ok() || !WIFEXITED(done->first)) return {-1, done.ok() ? done->second : ""};
    return {WEXITSTATUS(done->first), done->second};
  };
  EXPECT_EQ(run({"mirror-targets", "set", "site-d", "--cluster", "c4", "--address", "h:1"}).first, 6) << "no token";
  auto [set_code, set_out] =
      run({"mirror-targets", "set", "site-d", "--cluster", "c4", "--address", "h:1,h:2", "--token", kToken});
  EXPECT_EQ(set_code, 0) << set_out;
  EXPECT_NE(set_out.find("mirror target site-d: cluster c4 at h:1,h:2 (version 1)"), std::string::npos) << set_out;
  EXPECT_EQ(run({"mirror-targets", "set", "site-d", "--cluster", "c4", "--address", "h:3", "--version", "0", "--token",
                 kToken})
                .first,
            5)
      << "409";
  auto [list_code, list_out] = run({"mirror-targets", "--json"});
  EXPECT_EQ(list_code, 0);
  EXPECT_EQ(json::parse(list_out, nullptr, false), Get(leader_port_, "/v1/mirror-targets"));
  EXPECT_EQ(run({"mirror-targets", "delete", "site-d", "--token", kToken}).first, 0);
  EXPECT_EQ(run({"mirror-targets", "delete", "site-d", "--token", kToken}).first, 1) << "404";
  ASSERT_TRUE(WaitFor([&] { return EveryAgentHas(ha, 0); }, seconds(3)));

  // A znode edited into something that is not a target: left out of the
  // list, 500 naming it on GET, and DELETE gets rid of it.
  ZkOptions options;
  options.connect_string = ha.zookeeper_connect();
  auto zk = ZkClient::Connect(options);
  ASSERT_TRUE(zk.ok()) << zk.status();
  ASSERT_TRUE((*zk)->Create(ha.zookeeper_root() + "/mirror-targets/site-bad", "not json").ok());
  EXPECT_EQ(Get(follower_port_, "/v1/mirror-targets")["mirror_targets"].size(), 1u) << "only site-a";
  HttpAnswer unreadable = Call(follower_port_, "GET", "/v1/mirror-targets/site-bad");
  EXPECT_EQ(unreadable.status, 500) << unreadable.body;
  EXPECT_NE(ErrorMessage(unreadable).find("site-bad"), std::string::npos) << unreadable.body;
  EXPECT_EQ(Call(follower_port_, "DELETE", "/v1/mirror-targets/site-bad").status, 200);
  EXPECT_EQ(Call(leader_port_, "GET", "/v1/mirror-targets/site-bad").status, 404);
}

// `mirror.targets` seeds ZooKeeper when a replica takes the lead: each name
// once. An operator's replacement survives later leaders, and so does a
// deletion (the seed is not brought back).
TEST_F(MirrorTargetsTest, SeedsAreCreatedOnceAndNeverOverrideOperators) {
  const std::string seeded_address = DeadAddress();
  HaCluster ha({.gateways = 2,
                .arbiters = 3,
                .arbiter_args = {"--mirror.targets", "site-x=c2@" + seeded_address + ",site-y=c3@h:1+h:2"}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha));
  json listed = Get(follower_port_, "/v1/mirror-targets");
  ASSERT_EQ(listed["mirror_targets"].size(), 2u) << listed.dump();
  EXPECT_EQ(listed["mirror_targets"][0],
            (json{{"name", "site-x"}, {"cluster", "c2"}, {"addresses", {seeded_address}}, {"version", 1}}));
  EXPECT_EQ(listed["mirror_targets"][1]["addresses"], json({"h:1", "h:2"}));
  ASSERT_TRUE(WaitFor([&] { return EveryAgentHas(ha, 2); }, seconds(5)));

  const std::string moved = DeadAddress();
  ASSERT_EQ(Call(leader_port_, "PUT", "/v1/mirror-targets/site-x",
                 R"({"cluster": "c2", "addresses": [")" + moved + R"("]})")
                .status,
            200);
  ASSERT_EQ(Call(leader_port_, "DELETE", "/v1/mirror-targets/site-y").status, 200);

  // A new leader seeds again: nothing changes.
  ASSERT_TRUE(ha.KillArbiter(leader_).ok());
  ASSERT_NO_FATAL_FAILURE(FindLeader(ha));
  listed = Get(leader_port_, "/v1/mirror-targets");
  ASSERT_EQ(listed["mirror_targets"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["mirror_targets"][0],
            (json{{"name", "site-x"}, {"cluster", "c2"}, {"addresses", {moved}}, {"version", 2}}));
  // The new leader gives out what is stored.
  ASSERT_TRUE(WaitFor([&] { return EveryAgentHas(ha, 1); }, seconds(10))) << ha.DescribeLogs(20);
}

// The store under the API: guarded, versioned writes of targets, a deleted
// target's NOT_FOUND told apart from a lost leadership, seeds recorded so
// that they are created once, and a malformed znode left out of the list.
TEST_F(MirrorTargetsTest, StoreWritesAreGuardedVersionedAndSeededOnce) {
  ZookeeperServer zookeeper;
  ASSERT_TRUE(zookeeper.Start().ok());
  ZkOptions options;
  options.connect_string = zookeeper.connect_string();
  auto zk = ZkClient::Connect(options);
  ASSERT_TRUE(zk.ok()) << zk.status();
  arbiter::Election election(**zk, "/baton-mt/arbiter/election", "{}", nullptr);
  ASSERT_TRUE(election.Start().ok());
  const std::string me = election.own_path();
  arbiter::StateStore store(**zk, "/baton-mt");
  using arbiter::StoredMirrorTarget;

  auto listed = store.ListMirrorTargets();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty()) << "no directory yet: no targets";

  const MirrorTargetSpec b{"site-b", "c2", {"h:1"}};
  auto created = store.WriteMirrorTarget(me, b, -1);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, 0);
  EXPECT_EQ(store.WriteMirrorTarget(me, b, -1).status().code(), StatusCode::kAborted) << "exists already";
  MirrorTargetSpec moved = b;
  moved.addresses = {"h:2"};
  EXPECT_EQ(store.WriteMirrorTarget(me, moved, 5).status().code(), StatusCode::kAborted) << "stale version";
  auto deposed = store.WriteMirrorTarget(me + "0", moved, 0);
  EXPECT_EQ(deposed.status().code(), StatusCode::kUnavailable) << deposed.status();
  EXPECT_NE(deposed.status().message().find("no longer leads"), std::string::npos) << deposed.status();
  auto replaced = store.WriteMirrorTarget(me, moved, 0);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  auto read = store.ReadMirrorTarget("site-b");
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(**read, (StoredMirrorTarget{moved, 1}));
  EXPECT_EQ((*read)->version(), 2u);

  EXPECT_EQ(store.DeleteMirrorTarget(me + "0", "site-b", -1).code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.DeleteMirrorTarget(me, "site-b", 0).code(), StatusCode::kAborted) << "stale version";
  ASSERT_TRUE(store.DeleteMirrorTarget(me, "site-b", 1).ok());
  EXPECT_EQ(store.DeleteMirrorTarget(me, "site-b", -1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store.WriteMirrorTarget(me, moved, 1).status().code(), StatusCode::kAborted) << "deleted meanwhile";

  // Seeds: created when absent, then never again, even once deleted; an
  // existing target (an operator's) is kept as it is.
  ASSERT_TRUE(store.WriteMirrorTarget(me, MirrorTargetSpec{"site-op", "c4", {"op:1"}}, -1).ok());
  const std::vector<MirrorTargetSpec> seeds = {{"site-x", "c2", {"x:1"}}, {"site-op", "c4", {"seed:1"}}};
  EXPECT_EQ(store.SeedMirrorTargets(me + "0", seeds).status().code(), StatusCode::kUnavailable);
  auto seeded = store.SeedMirrorTargets(me, seeds);
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  EXPECT_EQ(*seeded, std::vector<std::string>{"site-x"});
  EXPECT_EQ((*store.ReadMirrorTarget("site-op"))->spec.addresses, std::vector<std::string>{"op:1"});
  ASSERT_TRUE(store.DeleteMirrorTarget(me, "site-x", -1).ok());
  seeded = store.SeedMirrorTargets(me, seeds);
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  EXPECT_TRUE(seeded->empty());
  EXPECT_FALSE(store.ReadMirrorTarget("site-x")->has_value()) << "a deleted seed stays deleted";
  seeded = store.SeedMirrorTargets(me, {{"site-y", "c3", {"y:1"}}});  // a name added to the config later
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  EXPECT_EQ(*seeded, std::vector<std::string>{"site-y"});

  // A hand-edited znode that does not decode is left out, and said why.
  ASSERT_TRUE((*zk)->Create(store.MirrorTargetsDir() + "/site-bad", "{\"name\": \"site-bad\"}").ok());
  std::vector<Status> unreadable;
  listed = store.ListMirrorTargets(&unreadable);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].spec.name, "site-op");
  EXPECT_EQ((*listed)[1].spec.name, "site-y");
  ASSERT_EQ(unreadable.size(), 1u);
  EXPECT_NE(unreadable[0].message().find("site-bad"), std::string::npos) << unreadable[0];
  EXPECT_NE(unreadable[0].message().find("field \"cluster\": required"), std::string::npos) << unreadable[0];
}

TEST_F(MirrorTargetsTest, BadSeedsStopTheArbiterNamingTheKey) {
  TempDir dir;
  auto done = RunToExit(BinaryPath("arbiter/baton-arbiter"),
                        {"--mirror.targets", "site-x=c2@nohost", "--http.listen", "127.0.0.1:0", "--grpc.listen",
                         "127.0.0.1:0", "--zookeeper.connect", "127.0.0.1:1"},
                        dir.Join("arbiter.log"), seconds(20));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(WIFEXITED(done->first) && WEXITSTATUS(done->first) != 0) << done->second;
  EXPECT_NE(done->second.find("key 'mirror.targets': mirror target \"site-x=c2@nohost\""), std::string::npos)
      << done->second;
}

// Needs the gateway's mirroring (its GetState lists mirror_peers): the
// active reports its delivery to each target, its agent carries that in
// heartbeats, and the cluster's status shows it. The peer is down, so the
// delivery fails and says why.
TEST_F(MirrorTargetsTest, TheActivesDeliveryShowsInTheStatus) {
  HaCluster ha({.gateways = 2, .arbiters = 3, .arbiter_args = {"--api.token", kToken}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha));
  const std::string peer = DeadAddress();
  ASSERT_EQ(Call(leader_port_, "PUT", "/v1/mirror-targets/site-b",
                 R"({"cluster": "c2", "addresses": [")" + peer + R"("]})")
                .status,
            200);
  // A write, so that there is something to deliver.
  auto wrote = ha.gateways().Upsert(active_, GatewayCluster::MakeObject("o1", {1, 0, 0, 0}));
  ASSERT_TRUE(wrote.status.ok()) << wrote.status.error_message();

  Status listed = ha.gateways().WaitForState(
      active_,
      [](const v1::GetStateResponse& s) {
        return s.mirror_peers_size() == 1 && s.mirror_peers(0).target() == "site-b" &&
               s.mirror_peers(0).cluster() == "c2";
      },
      seconds(10), "the active to list site-b among its mirror peers");
  ASSERT_TRUE(listed.ok()) << listed;

  json target;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (uint16_t port : {leader_port_, follower_port_}) {
          json targets = Get(port, "/v1/clusters/c1")["mirror"]["targets"];
          if (!targets.is_array() || targets.size() != 1) return false;
          target = targets[0];
          if (!target["lag_entries"].is_number() || target.value("last_error", "").empty()) return false;
        }
        return true;
      },
      seconds(15)))
      << Get(follower_port_, "/v1/clusters/c1").dump();
  EXPECT_EQ(target["target"], "site-b");
  EXPECT_EQ(target["cluster"], "c2");
  EXPECT_FALSE(target["connected"].get<bool>());
  EXPECT_GE(target["lag_entries"].get<uint64_t>(), 1u) << "the write is not delivered: the peer is down";
}

}  // namespace
}  // namespace baton::testing

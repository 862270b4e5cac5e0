// Mirror targets in the arbiter, without I/O: the JSON stored in ZooKeeper
// and taken by PUT /v1/mirror-targets/{name} (every bad input refused naming
// its field), which targets each cluster's assignment carries (full mesh),
// how ClusterBook pushes a change to the members of the clusters it
// affects, and the "mirror" part of the cluster view.
#include "arbiter/mirror_targets.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "arbiter/cluster_book.h"
#include "arbiter/cluster_state.h"
#include "arbiter/status_view.h"
#include "common/clock.h"

namespace baton::arbiter {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

MirrorTargetSpec Target(const std::string& name, const std::string& cluster, std::vector<std::string> addresses = {}) {
  if (addresses.empty()) addresses = {name + ":7700"};
  return {name, cluster, std::move(addresses)};
}

std::vector<std::string> Names(const std::vector<MirrorTargetSpec>& targets) {
  std::vector<std::string> names;
  for (const auto& t : targets) names.push_back(t.name);
  return names;
}

std::vector<std::string> Names(const v1::Assignment& assignment) {
  std::vector<std::string> names;
  for (const auto& t : assignment.mirror_targets()) names.push_back(t.name());
  return names;
}

// --- stored JSON ---------------------------------------------------------------

TEST(MirrorTargetJsonTest, RoundTrips) {
  const MirrorTargetSpec target = Target("site-b", "c2", {"10.0.0.7:7700", "10.0.0.8:7700"});
  const std::string encoded = EncodeMirrorTarget(target);
  EXPECT_EQ(json::parse(encoded),
            json::parse(R"({"name": "site-b", "cluster": "c2", "addresses": ["10.0.0.7:7700", "10.0.0.8:7700"]})"));
  auto decoded = DecodeMirrorTarget(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, target);
}

TEST(MirrorTargetJsonTest, BadStoredTargetsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"nonsense", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"name": "a", "cluster": "c2", "addresses": ["h:1"], "extra": 1})", R"(field "extra": unknown field)"},
      {R"({"cluster": "c2", "addresses": ["h:1"]})", R"(field "name": required)"},
      {R"({"name": "a", "addresses": ["h:1"]})", R"(field "cluster": required)"},
      {R"({"name": "a", "cluster": "c2"})", R"(field "addresses": required)"},
      {R"({"name": 1, "cluster": "c2", "addresses": ["h:1"]})", R"(field "name": must be a string)"},
      {R"({"name": "a", "cluster": "c2", "addresses": "h:1"})", R"(field "addresses": must be a list)"},
      {R"({"name": "a", "cluster": "c2", "addresses": ["h:1", 2]})", R"(field "addresses[1]": must be)"},
      {R"({"name": "a", "cluster": "c2", "addresses": []})", R"(field "addresses": addresses: at least one)"},
      {R"({"name": "a", "cluster": "c2", "addresses": ["h:1", "h"]})",
       R"(field "addresses": address 2 "h" is not host:port)"},
      {R"({"name": "a b", "cluster": "c2", "addresses": ["h:1"]})", R"(field "name": name "a b" may contain only)"},
      {R"({"name": "a", "cluster": "", "addresses": ["h:1"]})", R"(field "cluster": cluster is empty)"},
  };
  for (const auto& [input, expected] : cases) {
    auto decoded = DecodeMirrorTarget(input);
    ASSERT_FALSE(decoded.ok()) << input;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << input;
    EXPECT_THAT(decoded.status().message(), HasSubstr(expected)) << input;
  }
}

// --- PUT bodies ------------------------------------------------------------------

TEST(MirrorTargetPutTest, TakesClusterAddressesAndAnOptionalVersion) {
  auto put = ParseMirrorTargetPut("site-b", json::parse(R"({"cluster": "c2", "addresses": ["h:1", "h:2"]})"));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->target, Target("site-b", "c2", {"h:1", "h:2"}));
  EXPECT_FALSE(put->version);

  put = ParseMirrorTargetPut("site-b",
                             json::parse(R"({"name": "site-b", "cluster": "c2", "addresses": ["h:1"], "version": 0})"));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->version, 0u);
}

TEST(MirrorTargetPutTest, BadBodiesNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([])", "request body: must be a JSON object"},
      {R"({"cluster": "c2", "addresses": ["h:1"], "mode": "sync"})",
       R"(field "mode": unknown field (allowed: name, cluster, addresses, version))"},
      {R"({"addresses": ["h:1"]})", R"(field "cluster": required)"},
      {R"({"cluster": "c2"})", R"(field "addresses": required)"},
      {R"({"cluster": 2, "addresses": ["h:1"]})", R"(field "cluster": must be a string)"},
      {R"({"cluster": "c2", "addresses": ["h:1"], "name": "other"})",
       R"(field "name": "other" differs from the name in the path "site-b")"},
      {R"({"cluster": "c2", "addresses": ["h:1"], "version": -1})", R"(field "version": must be an unsigned)"},
      {R"({"cluster": "c2", "addresses": ["h:1"], "version": "3"})", R"(field "version": must be an unsigned)"},
      {R"({"cluster": "c2", "addresses": ["h:1"], "version": 1.5})", R"(field "version": must be an unsigned)"},
      {R"({"cluster": "c2", "addresses": ["h:99999"]})", R"(field "addresses": address 1 "h:99999")"},
      {R"({"cluster": "c 2", "addresses": ["h:1"]})", R"(field "cluster": cluster "c 2" may contain only)"},
  };
  for (const auto& [input, expected] : cases) {
    auto put = ParseMirrorTargetPut("site-b", json::parse(input));
    ASSERT_FALSE(put.ok()) << input;
    EXPECT_EQ(put.status().code(), StatusCode::kInvalidArgument) << input;
    EXPECT_THAT(put.status().message(), HasSubstr(expected)) << input;
  }
  // The name comes from the path, and is checked like any other.
  auto bad_name = ParseMirrorTargetPut("site b", json::parse(R"({"cluster": "c2", "addresses": ["h:1"]})"));
  EXPECT_THAT(bad_name.status().message(), HasSubstr(R"(field "name": name "site b" may contain only)"));
}

TEST(MirrorTargetViewTest, VersionIsTheZnodeVersionPlusOne) {
  const json view = MirrorTargetView({Target("site-b", "c2", {"h:1"}), 0});
  EXPECT_EQ(view, json::parse(R"({"name": "site-b", "cluster": "c2", "addresses": ["h:1"], "version": 1})"));
  EXPECT_EQ(MirrorTargetView({Target("site-b", "c2"), 4})["version"], 5);
}

TEST(SeedTargetsTest, NamesTheKey) {
  auto seeds = ParseSeedTargets({"a=c1@h:1", "b=c2@h:2+h:3"});
  ASSERT_TRUE(seeds.ok()) << seeds.status();
  EXPECT_EQ(seeds->size(), 2u);
  auto bad = ParseSeedTargets({"a=c1@h:1", "a=c2@h:2"});
  EXPECT_THAT(bad.status().message(), HasSubstr("key 'mirror.targets': mirror target name \"a\" is given twice"));
  EXPECT_THAT(ParseSeedTargets({"a=c1"}).status().message(), HasSubstr("key 'mirror.targets': mirror target \"a=c1\""));
}

// --- which cluster gets which targets --------------------------------------------

TEST(MirrorTargetsForTest, EveryClusterGetsTheOtherClustersTargetsSortedByName) {
  const std::vector<MirrorTargetSpec> all = {Target("to-c3", "c3"), Target("to-c1", "c1"), Target("b-to-c2", "c2"),
                                             Target("a-to-c2", "c2")};
  EXPECT_THAT(Names(MirrorTargetsFor(all, "c1")), ElementsAre("a-to-c2", "b-to-c2", "to-c3"));
  EXPECT_THAT(Names(MirrorTargetsFor(all, "c2")), ElementsAre("to-c1", "to-c3"));
  EXPECT_THAT(Names(MirrorTargetsFor(all, "c3")), ElementsAre("a-to-c2", "b-to-c2", "to-c1"));
  // A cluster without a target of its own still sends to every other one.
  EXPECT_THAT(Names(MirrorTargetsFor(all, "c9")), ElementsAre("a-to-c2", "b-to-c2", "to-c1", "to-c3"));
  EXPECT_TRUE(MirrorTargetsFor({}, "c1").empty());
}

TEST(MirrorTargetsForTest, AssignmentsCarryThemForActiveAndStandbys) {
  ClusterState state;
  state.epoch = 2;
  state.active = "g1";
  state.members = {{"g1", "g1:1"}, {"g2", "g2:1"}};
  const std::vector<MirrorTargetSpec> targets = {Target("site-b", "c2", {"h:1", "h:2"})};
  for (const char* id : {"g1", "g2"}) {
    v1::Assignment a = AssignmentFor(state, ClusterConfig{}, id, targets);
    ASSERT_EQ(a.mirror_targets_size(), 1) << id;
    EXPECT_EQ(a.mirror_targets(0).name(), "site-b");
    EXPECT_EQ(a.mirror_targets(0).cluster(), "c2");
    EXPECT_THAT(a.mirror_targets(0).addresses(), ElementsAre("h:1", "h:2"));
  }
  EXPECT_EQ(AssignmentFor(state, ClusterConfig{}, "g1").mirror_targets_size(), 0);
}

// --- ClusterBook -------------------------------------------------------------------

v1::Heartbeat Beat(const std::string& cluster, const std::string& id, v1::Role role, uint64_t sequence = 7) {
  v1::Heartbeat hb;
  hb.set_instance_id(id);
  hb.set_cluster(cluster);
  hb.set_address(id + ":7000");
  hb.set_health(v1::HEALTH_OK);
  hb.set_role(role);
  hb.set_epoch(3);
  hb.set_priority(1);
  hb.set_sequence(sequence);
  return hb;
}

ClusterState TwoMembers(const std::string& active, const std::string& standby) {
  ClusterState state;
  state.epoch = 3;
  state.active = active;
  state.members = {{active, active + ":7000"}, {standby, standby + ":7000"}};
  state.sync_set = {standby};
  return state;
}

// c1 (g1 active, g2) and c2 (g3 active, g4), every agent's stream open.
class MirrorTargetsBookTest : public ::testing::Test {
 protected:
  MirrorTargetsBookTest() : book_({.timing = {2000ms, 40ms}, .lease_ms = 2000, .failsafe = true}) {}

  void Lead(std::vector<MirrorTargetSpec> targets) {
    book_.Lead(clock_.Now(), {{"c1", TwoMembers("g1", "g2")}, {"c2", TwoMembers("g3", "g4")}},
               {{"c1", ClusterConfig{}}, {"c2", ClusterConfig{}}}, std::move(targets));
    uint64_t stream = 1;
    for (const auto& [cluster, id, role] : std::vector<std::tuple<std::string, std::string, v1::Role>>{
             {"c1", "g1", v1::ROLE_ACTIVE}, {"c1", "g2", v1::ROLE_STANDBY},
             {"c2", "g3", v1::ROLE_ACTIVE}, {"c2", "g4", v1::ROLE_STANDBY}}) {
      answers_[id] = book_.OnHeartbeat(Beat(cluster, id, role), clock_.Now(), stream);
      stream_of_[stream++] = id;
    }
  }
  // instance id -> the pushed assignment.
  std::map<std::string, v1::Assignment> Pushed() {
    std::map<std::string, v1::Assignment> out;
    for (StreamPush& push : book_.TakePushes()) {
      EXPECT_EQ(push.response.sequence(), 7u) << "a push answers the stream's latest heartbeat";
      if (push.response.has_assignment()) out[stream_of_[push.stream_id]] = push.response.assignment();
    }
    return out;
  }

  ManualClock clock_;
  ClusterBook book_;
  std::map<std::string, HeartbeatOutcome> answers_;
  std::map<uint64_t, std::string> stream_of_;
};

TEST_F(MirrorTargetsBookTest, GrantsCarryTheOtherClustersTargets) {
  Lead({Target("site-a", "c1"), Target("site-b", "c2")});
  for (const char* id : {"g1", "g2"}) {
    ASSERT_TRUE(answers_[id].response.has_assignment()) << id;
    EXPECT_THAT(Names(answers_[id].response.assignment()), ElementsAre("site-b")) << id;
  }
  for (const char* id : {"g3", "g4"}) {
    ASSERT_TRUE(answers_[id].response.has_assignment()) << id;
    EXPECT_THAT(Names(answers_[id].response.assignment()), ElementsAre("site-a")) << id;
  }
  EXPECT_THAT(Names(book_.MirrorTargets()), ElementsAre("site-a", "site-b"));
  EXPECT_THAT(Names(book_.Observe(clock_.Now()).at("c1").mirror_targets), ElementsAre("site-b"));
}

TEST_F(MirrorTargetsBookTest, AChangePushesNewAssignmentsToTheClustersItAffects) {
  Lead({Target("site-a", "c1")});
  ASSERT_TRUE(book_.TakePushes().empty());
  const v1::Assignment before = answers_["g3"].response.assignment();

  // A target in c3 is new for both clusters.
  EXPECT_TRUE(book_.SetMirrorTargets({Target("site-a", "c1"), Target("site-c", "c3")}, clock_.Now()));
  std::map<std::string, v1::Assignment> pushed = Pushed();
  ASSERT_EQ(pushed.size(), 4u);
  EXPECT_THAT(Names(pushed["g1"]), ElementsAre("site-c"));
  EXPECT_THAT(Names(pushed["g2"]), ElementsAre("site-c"));
  EXPECT_THAT(Names(pushed["g3"]), ElementsAre("site-a", "site-c"));
  EXPECT_EQ(pushed["g3"].role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(pushed["g3"].lease_ms(), 2000u);
  // Epoch and config version stay: only the targets differ, which is what
  // makes the agent apply it with AssignRole (assignment_applier_test).
  EXPECT_EQ(pushed["g3"].epoch(), before.epoch());
  EXPECT_EQ(pushed["g3"].config_version(), before.config_version());

  // New addresses for c1's target: only c2 is told.
  EXPECT_TRUE(book_.SetMirrorTargets({Target("site-a", "c1", {"new:1"}), Target("site-c", "c3")}, clock_.Now()));
  pushed = Pushed();
  EXPECT_EQ(pushed.size(), 2u);
  ASSERT_TRUE(pushed.contains("g4"));
  EXPECT_EQ(pushed["g4"].mirror_targets(0).addresses(0), "new:1");

  // The same set in another order is no change.
  EXPECT_FALSE(book_.SetMirrorTargets({Target("site-c", "c3"), Target("site-a", "c1", {"new:1"})}, clock_.Now()));
  EXPECT_TRUE(book_.TakePushes().empty());

  // Deleting every target: both clusters get assignments without any.
  EXPECT_TRUE(book_.SetMirrorTargets({}, clock_.Now()));
  pushed = Pushed();
  EXPECT_EQ(pushed.size(), 4u);
  for (const auto& [id, assignment] : pushed) EXPECT_EQ(assignment.mirror_targets_size(), 0) << id;
}

TEST_F(MirrorTargetsBookTest, ClosedStreamsAndFollowersGetNothing) {
  Lead({});
  book_.OnStreamClosed("c1", "g2", 2);
  EXPECT_TRUE(book_.SetMirrorTargets({Target("site-b", "c2")}, clock_.Now()));
  std::map<std::string, v1::Assignment> pushed = Pushed();
  EXPECT_TRUE(pushed.contains("g1"));
  EXPECT_FALSE(pushed.contains("g2")) << "its stream is closed: it gets the targets with its next grant";
  EXPECT_FALSE(pushed.contains("g3")) << "c2's own target is not c2's to mirror to";

  book_.Resign();
  EXPECT_FALSE(book_.SetMirrorTargets({Target("site-x", "c9")}, clock_.Now()));
  EXPECT_TRUE(book_.MirrorTargets().empty());
  EXPECT_TRUE(book_.TakePushes().empty());
}

// --- status view ---------------------------------------------------------------------

v1::MirrorPeerState Peer(const std::string& target, const std::string& cluster, bool connected, uint64_t lag) {
  v1::MirrorPeerState peer;
  peer.set_target(target);
  peer.set_cluster(cluster);
  peer.set_address("10.0.0.7:7700");
  peer.set_connected(connected);
  peer.set_delivered_seq(100);
  peer.set_lag_entries(lag);
  peer.set_lag_seconds(lag > 0 ? 0.5 : 0);
  peer.set_last_error(connected ? "" : "UNAVAILABLE: connection refused");
  peer.set_delivered_writes(90);
  return peer;
}

ClusterObservation Mirroring() {
  ClusterObservation o;
  o.state = TwoMembers("g1", "g2");
  o.config.mirror_mode = "sync";
  o.mirror_targets = {Target("site-b", "c2"), Target("site-c", "c3")};
  v1::Heartbeat active = Beat("c1", "g1", v1::ROLE_ACTIVE);
  *active.add_mirror_peers() = Peer("site-b", "c2", true, 3);
  *active.add_mirror_peers() = Peer("site-old", "c4", false, 7);  // deleted meanwhile, still being delivered
  o.reports["g1"] = InstanceReport{.heartbeat = active, .received = MonoTime{}, .stream_open = true};
  o.reports["g2"] = InstanceReport{.heartbeat = Beat("c1", "g2", v1::ROLE_STANDBY), .received = MonoTime{}};
  return o;
}

TEST(MirrorStatusViewTest, PerTargetTheActivesReport) {
  const json mirror = ClusterView("c1", Mirroring(), MonoTime{})["mirror"];
  EXPECT_EQ(mirror["mode"], "sync");
  ASSERT_EQ(mirror["targets"].size(), 3u) << mirror.dump();
  EXPECT_EQ(mirror["targets"][0], json::parse(R"({"target": "site-b", "cluster": "c2", "address": "10.0.0.7:7700",
      "connected": true, "delivered_seq": 100, "lag_entries": 3, "lag_seconds": 0.5, "last_error": "",
      "delivered_writes": 90})"));
  // Assigned but not reported (yet): nothing known.
  EXPECT_EQ(mirror["targets"][1], json::parse(R"({"target": "site-c", "cluster": "c3", "address": "",
      "connected": false, "delivered_seq": null, "lag_entries": null, "lag_seconds": null, "last_error": "",
      "delivered_writes": null})"));
  EXPECT_EQ(mirror["targets"][2]["target"], "site-old");
  EXPECT_EQ(mirror["targets"][2]["last_error"], "UNAVAILABLE: connection refused");
}

TEST(MirrorStatusViewTest, AGoneActiveReportsNothing) {
  ClusterObservation o = Mirroring();
  o.reports["g1"].heartbeat.set_gateway_process_gone(true);
  const json targets = ClusterView("c1", o, MonoTime{})["mirror"]["targets"];
  ASSERT_EQ(targets.size(), 2u);
  for (const json& t : targets) EXPECT_FALSE(t["connected"].get<bool>()) << t.dump();
  EXPECT_TRUE(targets[0]["lag_entries"].is_null());
}

TEST(MirrorStatusViewTest, AFollowerShowsThePublishedTargetsWithTheStoredMode) {
  json published = ClusterView("c1", Mirroring(), MonoTime{});
  published["as_of_ms"] = 1000;
  ClusterConfig stored;
  stored.mirror_mode = "async";  // changed since the publication
  const json view = FollowerClusterView("c1", TwoMembers("g1", "g2"), stored, published.dump(), 1200);
  EXPECT_EQ(view["mirror"]["mode"], "async");
  EXPECT_EQ(view["config"]["mirror"]["mode"], "async");
  EXPECT_EQ(view["mirror"]["targets"], published["mirror"]["targets"]);

  // Never observed: the mode, no targets.
  const json never = FollowerClusterView("c1", TwoMembers("g1", "g2"), stored, std::nullopt, 1200);
  EXPECT_EQ(never["mirror"], json::parse(R"({"mode": "async", "targets": []})"));
  // Published by an arbiter that knew nothing of mirroring: the mode still shows.
  published.erase("mirror");
  EXPECT_EQ(FollowerClusterView("c1", TwoMembers("g1", "g2"), stored, published.dump(), 1200)["mirror"],
            json::parse(R"({"mode": "async", "targets": []})"));
}

}  // namespace
}  // namespace baton::arbiter

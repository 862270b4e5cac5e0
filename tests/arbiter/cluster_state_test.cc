// Cluster state and config JSON: round trips, one test per kind of malformed
// input (each error names its field), and the assignment each member gets.
#include "arbiter/cluster_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace baton::arbiter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

ClusterState ThreeMembers() {
  ClusterState state;
  state.epoch = 7;
  state.active = "g1";
  state.members = {{"g1", "10.0.0.1:7000"}, {"g2", "10.0.0.2:7000"}, {"g3", "10.0.0.3:7000"}};
  state.sync_set = {"g2", "g3"};
  return state;
}

TEST(ClusterStateJson, RoundTrip) {
  ClusterState state = ThreeMembers();
  state.maintenance = true;
  Result<ClusterState> decoded = DecodeClusterState(EncodeClusterState(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);
  EXPECT_EQ(decoded->zk_version, -1);  // not part of the JSON
}

TEST(ClusterStateJson, PendingSyncMembersRoundTrip) {
  ClusterState state = ThreeMembers();
  state.sync_pending = {{"g2", std::nullopt}, {"g3", StoredPosition{7, 120}}};
  const std::string json = EncodeClusterState(state);
  EXPECT_THAT(json, HasSubstr(R"("sync_pending":{"g2":null,"g3":{"epoch":7,"seq":120}})"));
  Result<ClusterState> decoded = DecodeClusterState(json);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);

  // A state stored before sync_pending existed has nobody pending.
  decoded = DecodeClusterState(R"({"epoch": 7, "members": {"g2": "x:1"}, "sync_set": ["g2"]})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->sync_pending.empty());
}

TEST(ClusterStateJson, EmptyStateRoundTrips) {
  Result<ClusterState> decoded = DecodeClusterState(EncodeClusterState(ClusterState{}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, ClusterState{});
}

TEST(ClusterStateJson, MissingFieldsTakeDefaults) {
  Result<ClusterState> decoded = DecodeClusterState(R"({"epoch": 3})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->epoch, 3u);
  EXPECT_TRUE(decoded->active.empty());
  EXPECT_TRUE(decoded->members.empty());
}

TEST(ClusterStateJson, SyncSetIsSortedAndDeduplicated) {
  Result<ClusterState> decoded = DecodeClusterState(
      R"({"members": {"a": "x:1", "b": "x:2", "c": "x:3"}, "sync_set": ["c", "b", "c"]})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->sync_set, ElementsAre("b", "c"));

  ClusterState state = ThreeMembers();
  state.sync_set = {"g3", "g1", "g2", "g3"};  // the active and a duplicate are dropped when written
  decoded = DecodeClusterState(EncodeClusterState(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->sync_set, ElementsAre("g2", "g3"));
}

struct BadInput {
  const char* json;
  const char* message;  // the whole message: names the field and the reason
};

class ClusterStateDecodeError : public ::testing::TestWithParam<BadInput> {};

TEST_P(ClusterStateDecodeError, IsInvalidArgumentNamingTheField) {
  Result<ClusterState> decoded = DecodeClusterState(GetParam().json);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, ClusterStateDecodeError,
    ::testing::Values(
        BadInput{R"({"epoch": -1})", R"(cluster state: field "epoch": must be an unsigned integer)"},
        BadInput{R"({"epoch": 1.5})", R"(cluster state: field "epoch": must be an unsigned integer)"},
        BadInput{R"({"epoch": "3"})", R"(cluster state: field "epoch": must be an unsigned integer)"},
        BadInput{R"({"epoch": 18446744073709551616})", R"(cluster state: field "epoch": must be an unsigned integer)"},
        BadInput{R"({"active": 1})", R"(cluster state: field "active": must be a string)"},
        BadInput{R"({"members": []})", R"(cluster state: field "members": must be an object of instance id -> address)"},
        BadInput{R"({"members": {"g1": 7000}})", R"(cluster state: field "members.g1": must be a string)"},
        BadInput{R"({"members": {"": "x:1"}})", R"(cluster state: field "members": empty instance id)"},
        BadInput{R"({"sync_set": "g2"})", R"(cluster state: field "sync_set": must be an array of instance ids)"},
        BadInput{R"({"members": {"g2": "x:1"}, "sync_set": ["g2", 3]})",
                 R"(cluster state: field "sync_set[1]": must be a string)"},
        BadInput{R"({"maintenance": "yes"})", R"(cluster state: field "maintenance": must be a boolean)"},
        BadInput{R"({"epoch": 1, "leader": "a1"})", R"(cluster state: field "leader": unknown field)"},
        BadInput{R"({"active": "g9", "members": {"g1": "x:1"}})", R"(cluster state: field "active": "g9" is not a member)"},
        BadInput{R"({"active": "g1", "members": {"g1": "x:1"}, "sync_set": ["g1"]})",
                 R"(cluster state: field "sync_set": contains the active "g1")"},
        BadInput{R"({"members": {"g1": "x:1"}, "sync_set": ["g2"]})",
                 R"(cluster state: field "sync_set": "g2" is not a member)"},
        BadInput{R"({"sync_pending": []})",
                 R"(cluster state: field "sync_pending": must be an object of instance id -> position or null)"},
        BadInput{R"({"members": {"g2": "x:1"}, "sync_set": ["g2"], "sync_pending": {"g2": 5}})",
                 R"(cluster state: field "sync_pending.g2": must be null or {"epoch": n, "seq": n})"},
        BadInput{R"({"members": {"g2": "x:1"}, "sync_set": ["g2"], "sync_pending": {"g2": {"epoch": -1}}})",
                 R"(cluster state: field "sync_pending.g2.epoch": must be an unsigned integer)"},
        BadInput{R"({"members": {"g2": "x:1"}, "sync_set": ["g2"], "sync_pending": {"g2": {"sq": 1}}})",
                 R"(cluster state: field "sync_pending.g2.sq": unknown field)"},
        BadInput{R"({"members": {"g2": "x:1", "g3": "x:2"}, "sync_set": ["g2"], "sync_pending": {"g3": null}})",
                 R"(cluster state: field "sync_pending": "g3" is not in the sync set)"},
        BadInput{R"([1, 2])", R"(cluster state: must be a JSON object)"}));

TEST(ClusterStateJson, MalformedJsonIsInvalidArgument) {
  for (const char* text : {"", "{", "{\"epoch\": }", "nul"}) {
    Result<ClusterState> decoded = DecodeClusterState(text);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(decoded.status().message(), HasSubstr("cluster state: not valid JSON")) << text;
  }
}

TEST(ClusterConfigJson, RoundTrip) {
  ClusterConfig config;
  config.sync_standbys = 2;
  config.priorities = {{"g1", 0}, {"g2", 5}};
  config.mirror_mode = "sync";
  config.version = 42;
  Result<ClusterConfig> decoded = DecodeClusterConfig(EncodeClusterConfig(config));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, config);
}

TEST(ClusterConfigJson, EmptyObjectIsTheDefaultConfig) {
  Result<ClusterConfig> decoded = DecodeClusterConfig("{}");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, ClusterConfig{});
}

class ClusterConfigDecodeError : public ::testing::TestWithParam<BadInput> {};

TEST_P(ClusterConfigDecodeError, IsInvalidArgumentNamingTheField) {
  Result<ClusterConfig> decoded = DecodeClusterConfig(GetParam().json);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, ClusterConfigDecodeError,
    ::testing::Values(
        BadInput{R"({"sync_standbys": -1})", R"(cluster config: field "sync_standbys": must be an unsigned integer)"},
        BadInput{R"({"sync_standbys": 4294967296})",
                 R"(cluster config: field "sync_standbys": must be an unsigned 32-bit integer)"},
        BadInput{R"({"priorities": [1]})",
                 R"(cluster config: field "priorities": must be an object of instance id -> priority)"},
        BadInput{R"({"priorities": {"g1": "high"}})",
                 R"(cluster config: field "priorities.g1": must be an unsigned integer)"},
        BadInput{R"({"priorities": {"": 1}})", R"(cluster config: field "priorities": empty instance id)"},
        BadInput{R"({"mirror_mode": true})", R"(cluster config: field "mirror_mode": must be a string)"},
        BadInput{R"({"mirror_mode": "semi"})",
                 R"(cluster config: field "mirror_mode": must be "async" or "sync", not "semi")"},
        BadInput{R"({"version": 2.0})", R"(cluster config: field "version": must be an unsigned integer)"},
        BadInput{R"({"sync_standby": 1})", R"(cluster config: field "sync_standby": unknown field)"},
        BadInput{R"("async")", R"(cluster config: must be a JSON object)"}));

TEST(AssignmentForTest, ActiveGetsEveryOtherMemberAndTheSyncSet) {
  ClusterState state = ThreeMembers();
  ClusterConfig config;
  config.sync_standbys = 5;  // more than the sync set: capped to its size
  config.version = 9;
  config.mirror_mode = "sync";
  v1::Assignment a = AssignmentFor(state, config, "g1");
  EXPECT_EQ(a.role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(a.epoch(), 7u);
  EXPECT_EQ(a.active_address(), "10.0.0.1:7000");
  EXPECT_THAT(a.standbys(), UnorderedElementsAre(Pair("g2", "10.0.0.2:7000"), Pair("g3", "10.0.0.3:7000")));
  EXPECT_THAT(a.sync_set(), ElementsAre("g2", "g3"));
  EXPECT_EQ(a.sync_standbys(), 2u);
  EXPECT_EQ(a.config_version(), 9u);
  EXPECT_EQ(a.mirror_mode(), "sync");
  EXPECT_EQ(a.lease_ms(), 0u);  // the caller's to set
  EXPECT_FALSE(a.failsafe());
}

TEST(AssignmentForTest, StandbyGetsTheActiveAndTheSameSets) {
  ClusterState state = ThreeMembers();
  ClusterConfig config;
  config.sync_standbys = 1;
  v1::Assignment a = AssignmentFor(state, config, "g3");
  EXPECT_EQ(a.role(), v1::ROLE_STANDBY);
  EXPECT_EQ(a.epoch(), 7u);
  EXPECT_EQ(a.active_address(), "10.0.0.1:7000");
  EXPECT_THAT(a.standbys(), UnorderedElementsAre(Pair("g2", "10.0.0.2:7000"), Pair("g3", "10.0.0.3:7000")));
  EXPECT_THAT(a.sync_set(), ElementsAre("g2", "g3"));
  EXPECT_EQ(a.sync_standbys(), 1u);
  EXPECT_EQ(a.config_version(), 1u);
  EXPECT_EQ(a.mirror_mode(), "async");
}

TEST(AssignmentForTest, MemberOfAClusterWithoutActiveIsStandbyWithNoActiveAddress) {
  ClusterState state = ThreeMembers();
  state.active.clear();
  v1::Assignment a = AssignmentFor(state, ClusterConfig{}, "g1");
  EXPECT_EQ(a.role(), v1::ROLE_STANDBY);
  EXPECT_EQ(a.active_address(), "");
  EXPECT_EQ(a.standbys_size(), 3);
}

TEST(AssignmentForTest, EmptySyncSetMeansNoSyncStandbys) {
  ClusterState state = ThreeMembers();
  state.sync_set.clear();
  v1::Assignment a = AssignmentFor(state, ClusterConfig{}, "g1");
  EXPECT_EQ(a.sync_set_size(), 0);
  EXPECT_EQ(a.sync_standbys(), 0u);
}

TEST(AssignmentForTest, NonMemberIsUnassigned) {
  v1::Assignment a = AssignmentFor(ThreeMembers(), ClusterConfig{}, "g9");
  EXPECT_EQ(a.role(), v1::ROLE_UNASSIGNED);
  EXPECT_EQ(a.active_address(), "");
  EXPECT_EQ(a.standbys_size(), 0);
}

}  // namespace
}  // namespace baton::arbiter

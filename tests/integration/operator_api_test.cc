// The operator surface against the real parts (docs/operator-api.md): a real
// ZooKeeper, three baton-arbiter replicas, baton-gateway processes with their
// baton-agents, all on loopback. REST calls go to the leader and to a
// follower and must get the same answers; switchover, manual failover and
// maintenance are exercised under a client that follows `baton-active`.
//
// Every wait has a deadline; the writer is bounded; only processes the
// fixtures started are signalled.
#include <sys/wait.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/binaries.h"
#include "tests/support/following_writer.h"
#include "tests/support/ha_cluster.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr char kToken[] = "s3cret";
const std::map<std::string, std::string> kAuth = {{"Authorization", std::string("Bearer ") + kToken}};

class OperatorApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ZookeeperAvailable()) GTEST_SKIP() << ZookeeperUnavailableReason();
  }

  // Starts `ha`, waits for an active and a sync set of `sync` members, and
  // finds the leading and one following arbiter.
  void StartCluster(HaCluster& ha, size_t sync) {
    ASSERT_TRUE(ha.Start().ok()) << ha.DescribeLogs();
    auto active = ha.WaitForActive(seconds(10));
    ASSERT_TRUE(active.ok()) << active.status();
    active_ = *active;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto stored = ha.ReadState();
          return stored.ok() && stored->sync_set.size() == sync && stored->sync_pending.empty();
        },
        seconds(20), milliseconds(50)))
        << "the sync set never reached " << sync << " members";
    auto leader = ha.LeaderArbiter();
    ASSERT_TRUE(leader.ok()) << leader.status();
    leader_port_ = ha.arbiter_http_port(*leader);
    follower_port_ = ha.arbiter_http_port((*leader + 1) % ha.options().arbiters);
    // The leader publishes what it sees for followers every 500 ms: wait
    // until that shows every instance in its role.
    ASSERT_TRUE(WaitFor(
        [&] {
          json cluster = Get(follower_port_, "/v1/clusters/c1");
          if (cluster.value("observed_age_ms", -1) < 0) return false;
          for (const json& instance : cluster["instances"]) {
            if (instance["role"] != "active" && instance["role"] != "standby") return false;
          }
          return true;
        },
        seconds(10)));
  }

  static HttpAnswer Call(uint16_t port, const std::string& method, const std::string& path,
                         const std::string& body = "", const std::map<std::string, std::string>& headers = kAuth) {
    auto answer = HttpCall(port, method, path, body, headers);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? *answer : HttpAnswer{};
  }

  static json Get(uint16_t port, const std::string& path) {
    HttpAnswer answer = Call(port, "GET", path, "", {});
    json doc = json::parse(answer.body, nullptr, false);
    return answer.status == 200 && doc.is_object() ? doc : json::object();
  }

  // The error code of a JSON error answer ("" when it is not one).
  static std::string ErrorCode(const HttpAnswer& answer) {
    json doc = json::parse(answer.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("error")) return "";
    return doc["error"].value("code", "");
  }

  // The parts of a cluster view that both replicas answer from ZooKeeper.
  static json Stable(const json& cluster) {
    json out;
    for (const char* key : {"name", "epoch", "active", "maintenance", "sync_set", "config"}) {
      if (cluster.contains(key)) out[key] = cluster[key];
    }
    std::set<std::string> ids;
    if (cluster.contains("instances")) {
      for (const json& instance : cluster["instances"]) ids.insert(instance.value("id", ""));
    }
    out["instance_ids"] = ids;
    return out;
  }

  // Waits until gateway `i` serves as a standby at `epoch`.
  static Status ServesAsStandby(HaCluster& ha, int i, uint64_t epoch) {
    return ha.gateways().WaitForState(
        i, [&](const v1::GetStateResponse& s) { return s.role() == v1::ROLE_STANDBY && s.epoch() == epoch; },
        seconds(10), ha.gateways().id(i) + " to serve as a standby at epoch " + std::to_string(epoch));
  }

  int active_ = -1;
  uint16_t leader_port_ = 0;
  uint16_t follower_port_ = 0;
};

TEST_F(OperatorApiTest, EveryEndpointAnswersTheSameFromLeaderAndFollower) {
  HaCluster ha({.gateways = 2, .arbiters = 3, .arbiter_args = {"--api.token", kToken}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha, 1));

  for (uint16_t port : {leader_port_, follower_port_}) {
    SCOPED_TRACE(port == leader_port_ ? "leader" : "follower");
    json status = Get(port, "/v1/status");
    ASSERT_TRUE(status.contains("clusters")) << status.dump();
    ASSERT_EQ(status["clusters"].size(), 1u);
    EXPECT_EQ(Stable(status["clusters"][0]), Stable(Get(leader_port_, "/v1/clusters/c1")));
    EXPECT_EQ(status["leader"]["http"], "127.0.0.1:" + std::to_string(leader_port_));
    json cluster = Get(port, "/v1/clusters/c1");
    EXPECT_EQ(cluster["active"], ha.gateways().id(active_));
    for (const json& instance : cluster["instances"]) {
      const bool is_active = instance["id"] == ha.gateways().id(active_);
      EXPECT_EQ(instance["role"], is_active ? "active" : "standby") << instance.dump();
      EXPECT_EQ(instance["health"], "ok") << instance.dump();
      EXPECT_TRUE(instance["connected"].get<bool>()) << instance.dump();
    }

    // 404 for an unknown cluster, on every route that names one.
    EXPECT_EQ(Call(port, "GET", "/v1/clusters/nope").status, 404);
    EXPECT_EQ(Call(port, "GET", "/v1/clusters/nope/config").status, 404);
    EXPECT_EQ(Call(port, "PUT", "/v1/clusters/nope/maintenance", R"({"enabled": true})").status, 404);
    EXPECT_EQ(Call(port, "POST", "/v1/clusters/nope/switchover", "").status, 404);
    EXPECT_EQ(Call(port, "POST", "/v1/clusters/nope/failover", R"({"to": "g1"})").status, 404);
    EXPECT_EQ(Call(port, "PUT", "/v1/clusters/nope/config", R"({"version": 1})").status, 404);

    // 401 without the token on every mutation, and nothing changes.
    for (const auto& [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"PUT", "/v1/clusters/c1/maintenance", R"({"enabled": true})"},
             {"POST", "/v1/clusters/c1/switchover", ""},
             {"POST", "/v1/clusters/c1/failover", R"({"to": "g2"})"},
             {"PUT", "/v1/clusters/c1/config", R"({"version": 1, "sync_standbys": 0})"}}) {
      HttpAnswer refused = Call(port, method, path, body, {});
      EXPECT_EQ(refused.status, 401) << method << " " << path << ": " << refused.body;
      EXPECT_EQ(Call(port, method, path, body, {{"Authorization", "Bearer wrong"}}).status, 401);
    }
    auto stored = ha.ReadState();
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored->maintenance);
    EXPECT_EQ(Get(port, "/v1/clusters/c1/config")["version"], 1);

    // 400 on malformed JSON and on unknown fields, naming the problem.
    HttpAnswer malformed = Call(port, "PUT", "/v1/clusters/c1/maintenance", R"({"enabled": tru)");
    EXPECT_EQ(malformed.status, 400) << malformed.body;
    EXPECT_NE(malformed.body.find("malformed JSON"), std::string::npos) << malformed.body;
    HttpAnswer unknown = Call(port, "PUT", "/v1/clusters/c1/maintenance", R"({"enabled": true, "why": "x"})");
    EXPECT_EQ(unknown.status, 400);
    EXPECT_NE(unknown.body.find("\\\"why\\\""), std::string::npos) << unknown.body;
    EXPECT_EQ(Call(port, "POST", "/v1/clusters/c1/failover", "{}").status, 400) << "failover needs `to`";
    EXPECT_EQ(Call(port, "POST", "/v1/clusters/c1/switchover", R"({"timeout_ms": -1})").status, 400);
    HttpAnswer bad_mode = Call(port, "PUT", "/v1/clusters/c1/config", R"({"version": 1, "mirror": {"mode": "x"}})");
    EXPECT_EQ(bad_mode.status, 400);
    EXPECT_NE(bad_mode.body.find("mirror.mode"), std::string::npos) << bad_mode.body;
    EXPECT_EQ(Call(port, "GET", "/v1/events?limit=0").status, 400);
    EXPECT_EQ(Call(port, "GET", "/v1/mirror-targets").status, 200);  // the rest: mirror_targets_test.cc
  }

  // Maintenance through the follower (forwarded), off through the leader.
  HttpAnswer on = Call(follower_port_, "PUT", "/v1/clusters/c1/maintenance", R"({"enabled": true})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_FALSE(on.headers["Baton-Forwarded-By"].empty()) << "a follower forwards mutations";
  EXPECT_TRUE(json::parse(on.body)["maintenance"].get<bool>());
  auto stored = ha.ReadState();
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->maintenance);
  EXPECT_TRUE(Get(follower_port_, "/v1/clusters/c1")["maintenance"].get<bool>());
  ASSERT_EQ(Call(leader_port_, "PUT", "/v1/clusters/c1/maintenance", R"({"enabled": false})").status, 200);
  EXPECT_FALSE(Get(follower_port_, "/v1/clusters/c1")["maintenance"].get<bool>());

  // Config: compare-and-set on the version, from either replica.
  HttpAnswer stale = Call(follower_port_, "PUT", "/v1/clusters/c1/config", R"({"version": 7, "sync_standbys": 1})");
  EXPECT_EQ(stale.status, 409) << stale.body;
  HttpAnswer set = Call(follower_port_, "PUT", "/v1/clusters/c1/config",
                        R"({"version": 1, "priorities": {"g2": 5}, "mirror": {"mode": "sync"}})");
  ASSERT_EQ(set.status, 200) << set.body;
  json config = json::parse(set.body);
  EXPECT_EQ(config["version"], 2);
  EXPECT_EQ(config["priorities"]["g2"], 5);
  EXPECT_EQ(config["mirror"]["mode"], "sync");
  EXPECT_EQ(config["sync_standbys"], 1) << "fields not given keep their values";
  EXPECT_EQ(Get(leader_port_, "/v1/clusters/c1/config"), config);
  EXPECT_EQ(Get(follower_port_, "/v1/clusters/c1/config"), config);
  EXPECT_EQ(Call(leader_port_, "PUT", "/v1/clusters/c1/config", R"({"version": 1})").status, 409)
      << "the old version is stale now";

  // Events: the same history from both, with the maintenance and config
  // changes just made, oldest first.
  std::vector<std::string> types;
  ASSERT_TRUE(WaitFor(
      [&] {
        json events = Get(follower_port_, "/v1/events?cluster=c1");
        types.clear();
        for (const json& event : events.value("events", json::array())) types.push_back(event.value("type", ""));
        return std::count(types.begin(), types.end(), "config") == 1 &&
               std::count(types.begin(), types.end(), "maintenance") == 2;
      },
      seconds(10)))
      << json(types).dump();
  EXPECT_EQ(Get(leader_port_, "/v1/events?cluster=c1"), Get(follower_port_, "/v1/events?cluster=c1"));
  json events = Get(leader_port_, "/v1/events?cluster=c1&limit=2");
  ASSERT_EQ(events["events"].size(), 2u);
  EXPECT_LT(events["events"][0]["seq"].get<uint64_t>(), events["events"][1]["seq"].get<uint64_t>());
  EXPECT_EQ(events["events"][1]["type"], "config");
  EXPECT_EQ(Get(leader_port_, "/v1/events?cluster=other")["events"].size(), 0u);

  // batonctl speaks the same API: its JSON is the REST answer, and its exit
  // codes tell a script what happened.
  const std::string batonctl = BinaryPath("tools/batonctl");
  const std::string arbiters =
      "127.0.0.1:" + std::to_string(follower_port_) + ",127.0.0.1:" + std::to_string(leader_port_);
  int runs = 0;
  // Exit code and output (stdout and stderr) of one batonctl run.
  auto run = [&](std::vector<std::string> args) -> std::pair<int, std::string> {
    args.insert(args.end(), {"--arbiter", arbiters});
    const std::string log = ::testing::TempDir() + "/batonctl-" + std::to_string(++runs) + ".log";
    std::remove(log.c_str());  // output is appended
    auto done = RunToExit(batonctl, args, log);
    EXPECT_TRUE(done.ok()) << done.status();
    if (!done.ok() || !WIFEXITED(done->first)) return {-1, done.ok() ? done->second : ""};
    return {WEXITSTATUS(done->first), done->second};
  };
  auto [status_code, status_out] = run({"status", "--json"});
  EXPECT_EQ(status_code, 0) << status_out;
  json from_ctl = json::parse(status_out, nullptr, false);
  ASSERT_TRUE(from_ctl.is_object()) << status_out;
  json from_rest = Get(follower_port_, "/v1/status");
  ASSERT_EQ(from_ctl["clusters"].size(), from_rest["clusters"].size());
  EXPECT_EQ(Stable(from_ctl["clusters"][0]), Stable(from_rest["clusters"][0]));
  EXPECT_EQ(from_ctl["leader"], from_rest["leader"]);
  auto [table_code, table] = run({"status"});
  EXPECT_EQ(table_code, 0);
  EXPECT_NE(table.find(ha.gateways().id(active_)), std::string::npos) << table;
  EXPECT_EQ(run({"maintenance", "on", "c1"}).first, 6) << "401 without the token";
  EXPECT_EQ(run({"maintenance", "on", "nope", "--token", kToken}).first, 1) << "404";
  EXPECT_EQ(run({"config", "set", "c1", "--version", "1", "--sync-standbys", "1", "--token", kToken}).first, 5)
      << "409: version 1 is stale";
  EXPECT_EQ(run({"maintenance", "off", "c1", "--token", kToken}).first, 0);

  // The rest of the surface.
  for (uint16_t port : {leader_port_, follower_port_}) {
    EXPECT_EQ(Call(port, "GET", "/healthz", "", {}).status, 200);
    HttpAnswer metrics = Call(port, "GET", "/metrics", "", {});
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("baton_arbiter_leader"), std::string::npos);
    HttpAnswer page = Call(port, "GET", "/", "", {});
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.headers["Content-Type"].find("text/html"), std::string::npos);
    EXPECT_NE(page.body.find("v1/status"), std::string::npos) << "the page reads the API";
  }
}

TEST_F(OperatorApiTest, SwitchoverUnderLoadLosesNothingAndOnlyRedirects) {
  HaCluster ha({.gateways = 2, .arbiters = 3, .arbiter_args = {"--api.token", kToken}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha, 1));
  auto before = ha.ReadState();
  ASSERT_TRUE(before.ok());
  const int candidate = 1 - active_;

  // A client with a deadline that covers the handover: a switchover may
  // pause it, but must answer nothing but "the active is over there".
  FollowingWriter writer(ha.gateways(), {.dimension = 4, .rpc_timeout = seconds(3)});
  writer.Start(active_);
  ASSERT_TRUE(writer.WaitForMoreAcks(100, seconds(10))) << writer.last_error();
  const auto started = steady_clock::now();
  HttpAnswer done = Call(follower_port_, "POST", "/v1/clusters/c1/switchover", R"({"timeout_ms": 10000})");
  ASSERT_EQ(done.status, 200) << done.body << ha.DescribeLogs();
  json result = json::parse(done.body);
  EXPECT_EQ(result["from"], ha.gateways().id(active_));
  EXPECT_EQ(result["to"], ha.gateways().id(candidate)) << "the only sync standby";
  EXPECT_EQ(result["epoch"], before->epoch + 1);
  ASSERT_TRUE(writer.WaitForMoreAcks(100, seconds(10))) << "the client did not resume: " << writer.last_error();
  writer.Stop();
  const auto pause = std::chrono::duration_cast<milliseconds>(writer.LongestGapAfter(started));
  std::printf("switchover: REST call %lld ms, longest pause between client acks %lld ms, %llu redirects\n",
              static_cast<long long>(result["duration_ms"].get<int64_t>()), static_cast<long long>(pause.count()),
              static_cast<unsigned long long>(writer.failures()));
  EXPECT_EQ(writer.unexpected_failures(), 0u) << json(writer.unexpected_errors()).dump(2);
  for (const std::string& problem : MissingAcks(ha.gateways(), candidate, writer.acks())) ADD_FAILURE() << problem;

  // The old active serves as the new active's standby, in its sync set.
  EXPECT_TRUE(ServesAsStandby(ha, active_, before->epoch + 1).ok());
  auto after = ha.ReadState();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->active, ha.gateways().id(candidate));
  EXPECT_EQ(after->sync_set, std::vector<std::string>{ha.gateways().id(active_)});
  std::vector<std::string> seen;
  ASSERT_TRUE(WaitFor(
      [&] {
        seen.clear();
        const json events = Get(leader_port_, "/v1/events?cluster=c1");
        for (const json& e : events.value("events", json::array())) {
          seen.push_back(e.value("type", "") + ":" + e.value("reason", e.value("result", "")));
        }
        auto has = [&](const std::string& what) { return std::find(seen.begin(), seen.end(), what) != seen.end(); };
        return has("switchover:started") && has("promotion:switchover") && has("switchover:completed") &&
               has("demotion:");
      },
      seconds(10)))
      << json(seen).dump();
}

TEST_F(OperatorApiTest, ManualFailoverPromotesTheNamedSyncStandbyAndRefusesOthers) {
  // g3 has priority 0: it replicates but never joins the sync set.
  HaCluster ha({.gateways = 3,
                .arbiters = 3,
                .arbiter_args = {"--api.token", kToken},
                .agent_args_for = {{2, {"--agent.priority", "0"}}}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha, 1));
  ASSERT_NE(active_, 2) << "priority 0 is never promoted";
  const int standby = 1 - active_;
  auto before = ha.ReadState();
  ASSERT_TRUE(before.ok());

  HttpAnswer refused = Call(leader_port_, "POST", "/v1/clusters/c1/failover", R"({"to": "g3"})");
  EXPECT_EQ(refused.status, 412) << refused.body;
  EXPECT_NE(refused.body.find("not in the sync set"), std::string::npos) << refused.body;
  EXPECT_EQ(Call(leader_port_, "POST", "/v1/clusters/c1/failover", R"({"to": "g9"})").status, 412);
  EXPECT_EQ(ha.ReadState()->epoch, before->epoch) << "a refusal changes nothing";

  FollowingWriter writer(ha.gateways(), {.dimension = 4});
  writer.Start(active_);
  ASSERT_TRUE(writer.WaitForMoreAcks(50, seconds(10))) << writer.last_error();
  const std::string body = R"({"to": ")" + ha.gateways().id(standby) + R"("})";
  HttpAnswer done = Call(follower_port_, "POST", "/v1/clusters/c1/failover", body);
  ASSERT_EQ(done.status, 200) << done.body << ha.DescribeLogs();
  EXPECT_EQ(json::parse(done.body)["epoch"], before->epoch + 1);
  auto promoted = ha.WaitForActive(seconds(10), [&](int i) { return i == standby; });
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  ASSERT_TRUE(writer.WaitForMoreAcks(50, seconds(10))) << writer.last_error();
  writer.Stop();
  for (const std::string& problem : MissingAcks(ha.gateways(), standby, writer.acks())) ADD_FAILURE() << problem;
  // The old active is alive: it is told it is a standby at the new epoch.
  EXPECT_TRUE(ServesAsStandby(ha, active_, before->epoch + 1).ok());

  // force promotes a non-sync member (here: one that has everything anyway).
  HttpAnswer forced = Call(leader_port_, "POST", "/v1/clusters/c1/failover", R"({"to": "g3", "force": true})");
  EXPECT_EQ(forced.status, 200) << forced.body;
  EXPECT_TRUE(ha.WaitForActive(seconds(10), [](int i) { return i == 2; }).ok());
}

TEST_F(OperatorApiTest, MaintenancePausesFailoverUntilItEnds) {
  HaCluster ha({.gateways = 2, .arbiters = 3, .arbiter_args = {"--api.token", kToken}});
  ASSERT_NO_FATAL_FAILURE(StartCluster(ha, 1));
  auto before = ha.ReadState();
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(Call(leader_port_, "PUT", "/v1/clusters/c1/maintenance", R"({"enabled": true})").status, 200);

  ASSERT_TRUE(ha.gateways().Kill(active_).ok());
  // The leader sees the failure and says it waits because of maintenance;
  // health is still reported.
  json cluster;
  ASSERT_TRUE(WaitFor(
      [&] {
        cluster = Get(leader_port_, "/v1/clusters/c1");
        return cluster.value("waiting_for", "") == "maintenance";
      },
      seconds(10)))
      << cluster.dump(2);
  for (const json& instance : cluster["instances"]) {
    if (instance["id"] == ha.gateways().id(active_)) {
      EXPECT_EQ(instance["health"], "down") << instance.dump();
    }
  }
  auto during = ha.ReadState();
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->epoch, before->epoch) << "nobody is promoted during maintenance";
  EXPECT_EQ(during->active, before->active);

  ASSERT_EQ(Call(follower_port_, "PUT", "/v1/clusters/c1/maintenance", R"({"enabled": false})").status, 200);
  auto promoted = ha.WaitForActive(seconds(10), [&](int i) { return i != active_; });
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_EQ(ha.ReadState()->epoch, before->epoch + 1);
}

}  // namespace
}  // namespace baton::testing

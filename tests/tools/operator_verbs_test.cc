// batonctl's operator verbs: the pure formatters, and every verb run
// in-process against a fake arbiter (our HttpServer on port 0 with canned
// answers that records each request): what is sent (method, path, body,
// token), what is printed, the exit codes, address fallback, and where the
// addresses and the token come from (flag > env > config file > default).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "common/mutex.h"
#include "tests/support/test_util.h"
#include "tests/tools/batonctl_runner.h"
#include "tools/batonctl.h"
#include "tools/operator_verbs.h"
#include "tools/rest_client.h"

namespace baton::tools {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using nlohmann::json;

constexpr char kStatus[] = "GET /v1/status";
constexpr char kCluster[] = "GET /v1/clusters/{cluster}";
constexpr char kSwitchover[] = "POST /v1/clusters/{cluster}/switchover";
constexpr char kFailover[] = "POST /v1/clusters/{cluster}/failover";
constexpr char kMaintenance[] = "PUT /v1/clusters/{cluster}/maintenance";
constexpr char kConfigGet[] = "GET /v1/clusters/{cluster}/config";
constexpr char kConfigPut[] = "PUT /v1/clusters/{cluster}/config";
constexpr char kEvents[] = "GET /v1/events";
constexpr char kMirrorList[] = "GET /v1/mirror-targets";
constexpr char kMirrorPut[] = "PUT /v1/mirror-targets/{name}";
constexpr char kMirrorDelete[] = "DELETE /v1/mirror-targets/{name}";

json SampleCluster() {
  return json::parse(R"json({
    "name": "c1", "epoch": 4, "active": "g1", "maintenance": false, "sync_set": ["g2"],
    "config": {"version": 3, "sync_standbys": 1, "priorities": {"g2": 2}, "mirror": {"mode": "async"}},
    "waiting_for": "", "operation": null, "observed_age_ms": 80,
    "instances": [
      {"id": "g1", "address": "127.0.0.1:7700", "role": "active", "epoch": 4, "health": "ok",
       "durable": {"epoch": 4, "seq": 1200}, "applied": {"epoch": 4, "seq": 1200}, "lag_entries": 0,
       "lease_remaining_ms": 1830, "fenced": false, "handing_over": false, "sync": false, "priority": 1,
       "connected": true, "last_report_ms_ago": 40},
      {"id": "g2", "address": "127.0.0.1:7701", "role": "standby", "epoch": 4, "health": "degraded",
       "durable": {"epoch": 4, "seq": 1190}, "applied": {"epoch": 4, "seq": 1188}, "lag_entries": 10,
       "lease_remaining_ms": -1, "fenced": false, "handing_over": false, "sync": true, "priority": 2,
       "connected": false, "last_report_ms_ago": -1}
    ]})json");
}

json SampleStatus() {
  json c2 = SampleCluster();
  c2["name"] = "c2";
  c2["active"] = "";
  c2["maintenance"] = true;
  c2["sync_set"] = json::array({"h2", "h3"});
  c2["waiting_for"] = "h2 to report";
  c2["operation"] = {{"kind", "failover"}, {"to", "h2"}, {"started_ms_ago", 120}};
  c2["observed_age_ms"] = -1;
  c2["instances"] = json::array();
  return {{"answered_by", "arbiter-2"},
          {"leader", {{"id", "arbiter-1"}, {"http", "127.0.0.1:7790"}, {"grpc", "127.0.0.1:7791"}}},
          {"clusters", json::array({SampleCluster(), c2})}};
}

json SampleConfig(int version) {
  return {{"version", version}, {"sync_standbys", 1}, {"priorities", {{"g2", 2}, {"g3", 1}}},
          {"mirror", {{"mode", "async"}}}};
}

json SampleEvents() {
  return json::parse(R"json({"events": [
    {"seq": 40, "time": "2026-11-23T16:04:04.000Z", "time_ms": 1795449844000, "cluster": "c1",
     "type": "maintenance", "instance": "", "epoch": 4, "enabled": true, "message": ""},
    {"seq": 41, "time_ms": 1795449845123, "cluster": "c1", "type": "promotion", "instance": "g2", "epoch": 5,
     "reason": "process_gone", "message": "promoted g2 to active at epoch 5 (g1's agent reports its gateway exited)",
     "detected_to_committed_ms": 12}
  ]})json");
}

json SampleTarget() {
  return {{"name", "site-b"}, {"cluster", "c2"}, {"addresses", {"10.0.0.7:7700", "10.0.0.8:7700"}}, {"version", 2}};
}

json SampleMirrorTargets() {
  return {{"mirror_targets",
           {SampleTarget(), {{"name", "site-c"}, {"cluster", "c3"}, {"addresses", {"h3:1"}}, {"version", 1}}}}};
}

// SampleCluster() mirroring to c2 (connected, lagging) and c3 (not reported yet).
json SampleMirroringCluster() {
  json c = SampleCluster();
  c["mirror"] = json::parse(R"json({"mode": "sync", "targets": [
    {"target": "site-b", "cluster": "c2", "address": "10.0.0.7:7700", "connected": true, "delivered_seq": 1190,
     "lag_entries": 10, "lag_seconds": 0.25, "last_error": "", "delivered_writes": 1190},
    {"target": "site-c", "cluster": "c3", "address": "", "connected": false, "delivered_seq": null,
     "lag_entries": null, "lag_seconds": null, "last_error": "", "delivered_writes": null}]})json");
  return c;
}

json ErrorBody(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

struct Seen {
  std::string method;
  std::string path;
  std::string cluster;  // the {cluster} path parameter
  std::map<std::string, std::string> query;
  std::string body;
  std::string authorization;
};

// The arbiter's routes with canned answers (the contract's examples by
// default); records every request that reaches a handler.
class FakeArbiter {
 public:
  explicit FakeArbiter(std::string token = "") {
    MutexLock lock(&mu_);
    answers_[kStatus] = {200, SampleStatus()};
    answers_[kCluster] = {200, SampleCluster()};
    answers_[kSwitchover] = {200, {{"cluster", "c1"}, {"kind", "switchover"}, {"from", "g1"}, {"to", "g2"},
                                   {"epoch", 5}, {"duration_ms", 180}}};
    answers_[kFailover] = {200, {{"cluster", "c1"}, {"kind", "failover"}, {"from", "g1"}, {"to", "g3"},
                                 {"epoch", 6}, {"duration_ms", 2300}}};
    answers_[kMaintenance] = {200, SampleCluster()};
    answers_[kConfigGet] = {200, SampleConfig(3)};
    answers_[kConfigPut] = {200, SampleConfig(4)};
    answers_[kEvents] = {200, SampleEvents()};
    answers_[kMirrorList] = {200, SampleMirrorTargets()};
    answers_[kMirrorPut] = {200, SampleTarget()};
    answers_[kMirrorDelete] = {200, SampleTarget()};
    Router router;
    for (const auto& [key, answer] : answers_) {
      const size_t space = key.find(' ');
      router.Handle(key.substr(0, space), key.substr(space + 1),
                    [this, key = key](const HttpRequest& request) { return Handle(key, request); });
    }
    HttpServerOptions options;
    options.bearer_token = std::move(token);
    auto server = HttpServer::Start(options, std::move(router));
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = std::move(*server);
  }
  ~FakeArbiter() {
    Release();
    if (server_) server_->Stop();
  }

  std::string address() const { return server_ ? "127.0.0.1:" + std::to_string(server_->port()) : "127.0.0.1:1"; }

  void Answer(const std::string& key, int status, json body) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    answers_[key] = {status, std::move(body)};
  }
  // Handlers hold their answer until Release(): an arbiter that takes too long.
  void Hold() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    hold_ = release_.get_future().share();
  }
  void Release() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (hold_.valid() && !released_) {
      release_.set_value();
      released_ = true;
    }
  }
  std::vector<Seen> requests() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return requests_;
  }

 private:
  HttpResponse Handle(const std::string& key, const HttpRequest& request) EXCLUDES(mu_) {
    std::shared_future<void> hold;
    std::pair<int, json> answer;
    {
      MutexLock lock(&mu_);
      requests_.push_back({request.method, request.path, request.PathParam("cluster"), request.query_params,
                           request.body, request.Header("Authorization")});
      answer = answers_[key];
      hold = hold_;
    }
    if (hold.valid()) hold.wait();
    return HttpResponse::Json(answer.first, answer.second);
  }

  mutable Mutex mu_;
  std::map<std::string, std::pair<int, json>> answers_ GUARDED_BY(mu_);
  std::vector<Seen> requests_ GUARDED_BY(mu_);
  std::promise<void> release_ GUARDED_BY(mu_);
  std::shared_future<void> hold_ GUARDED_BY(mu_);
  bool released_ GUARDED_BY(mu_) = false;
  std::unique_ptr<HttpServer> server_;
};

// Sets (or, with nullopt, unsets) an environment variable for its lifetime.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string ClosedAddress() { return "127.0.0.1:" + std::to_string(baton::testing::PickFreePort()); }

// ---------------------------------------------------------------------------
// Pure formatting.

TEST(FormatStatusTableTest, HeaderAndARowPerInstance) {
  const std::string text = FormatStatusTable(SampleStatus());
  EXPECT_THAT(text,
              HasSubstr("c1  epoch 4  active g1  maintenance off  sync {g2}  leader arbiter-1  observed 80 ms ago\n"));
  EXPECT_THAT(text, ContainsRegex("ID +ROLE +HEALTH +EPOCH +DURABLE +LAG +LEASE +SYNC +PRIO +CONNECTED\n"));
  EXPECT_THAT(text, ContainsRegex("\n  g1 +active +ok +4 +4:1200 +0 +1830 +no +1 +yes\n"));
  EXPECT_THAT(text, ContainsRegex("\n  g2 +standby +degraded +4 +4:1190 +10 +- +yes +2 +no\n"));  // lease -1: "-"
}

TEST(FormatStatusTableTest, WaitingForOperationMaintenanceAndNoActive) {
  const std::string text = FormatStatusTable(SampleStatus());
  EXPECT_THAT(text, HasSubstr("c2  epoch 4  active none  maintenance on  sync {h2,h3}  waiting for: h2 to report;  "
                              "operation failover to h2 (started 120 ms ago)  leader arbiter-1  never observed\n"
                              "  (no instances)\n"));
  // An unset waiting_for and a null operation add nothing to c1's header.
  EXPECT_THAT(text, Not(HasSubstr("c1  epoch 4  active g1  maintenance off  sync {g2}  waiting")));
}

TEST(FormatStatusTableTest, FencedAndHandingOverShowInRole) {
  json status = SampleStatus();
  status["clusters"][0]["instances"][0]["handing_over"] = true;
  status["clusters"][0]["instances"][1]["fenced"] = true;
  const std::string text = FormatStatusTable(status);
  EXPECT_THAT(text, ContainsRegex("g1 +active/handing_over +ok"));
  EXPECT_THAT(text, ContainsRegex("g2 +standby/fenced +degraded"));
}

TEST(FormatStatusTableTest, NoLeaderNoClustersAndOddShapesDoNotThrow) {
  EXPECT_EQ(FormatStatusTable({{"leader", nullptr}, {"clusters", json::array()}}), "no clusters (leader none)\n");
  EXPECT_EQ(FormatStatusTable(json("not an object")), "no clusters (leader none)\n");
  // Fields missing or of the wrong type print as "-".
  json odd = {{"leader", nullptr},
              {"clusters", {{{"name", "c9"}, {"epoch", "four"}, {"instances", {{{"id", "x"}, {"durable", 7}}}}}}}};
  std::string text;
  ASSERT_NO_THROW(text = FormatStatusTable(odd));
  EXPECT_THAT(text, HasSubstr("c9  epoch four  active none  maintenance -  sync {}  leader none\n"));
  EXPECT_THAT(text, ContainsRegex("\n  x +- +- +- +- +- +- +- +- +-\n"));
}

TEST(FormatClusterTest, WithoutLeader) {
  const std::string text = FormatCluster(SampleCluster());
  EXPECT_THAT(text, HasSubstr("c1  epoch 4  active g1  maintenance off  sync {g2}  observed 80 ms ago\n"));
  EXPECT_THAT(text, Not(HasSubstr("leader")));
  EXPECT_THAT(text, ContainsRegex("g2 +standby"));
}

TEST(FormatClusterTest, MirrorTargetsGetATableOfTheirOwn) {
  const std::string text = FormatCluster(SampleMirroringCluster());
  EXPECT_THAT(text, HasSubstr("\n  mirror sync\n"));
  EXPECT_THAT(text, ContainsRegex("\n  TARGET +CLUSTER +PEER +CONNECTED +DELIVERED +LAG +LAG_S +ERROR\n"));
  EXPECT_THAT(text, ContainsRegex("\n  site-b +c2 +10.0.0.7:7700 +yes +1190 +10 +0.250 +-\n"));
  EXPECT_THAT(text, ContainsRegex("\n  site-c +c3 +- +no +- +- +- +-\n"));  // nothing reported yet
  // After the instances.
  EXPECT_LT(text.find("g2 "), text.find("mirror sync"));

  json failing = SampleMirroringCluster();
  failing["mirror"]["targets"][0]["connected"] = false;
  failing["mirror"]["targets"][0]["last_error"] = "UNAVAILABLE: connection refused";
  EXPECT_THAT(FormatCluster(failing), ContainsRegex("site-b +c2 +10.0.0.7:7700 +no +1190 +10 +0.250 +UNAVAILABLE: "
                                                    "connection refused\n"));

  // No targets (or an arbiter without the field): no mirror lines at all.
  EXPECT_THAT(FormatCluster(SampleCluster()), Not(HasSubstr("mirror")));
  json none = SampleCluster();
  none["mirror"] = {{"mode", "async"}, {"targets", json::array()}};
  EXPECT_EQ(FormatCluster(none), FormatCluster(SampleCluster()));
}

TEST(FormatMirrorTargetsTest, TableAndEmpty) {
  const std::string text = FormatMirrorTargets(SampleMirrorTargets());
  EXPECT_THAT(text, ContainsRegex("^NAME +CLUSTER +ADDRESSES +VERSION\n"));
  EXPECT_THAT(text, ContainsRegex("\nsite-b +c2 +10.0.0.7:7700,10.0.0.8:7700 +2\n"));
  EXPECT_THAT(text, ContainsRegex("\nsite-c +c3 +h3:1 +1\n"));
  EXPECT_EQ(FormatMirrorTargets({{"mirror_targets", json::array()}}), "no mirror targets\n");
  EXPECT_EQ(FormatMirrorTargets(json("odd")), "no mirror targets\n");
}

TEST(FormatEventsTest, TableOldestFirst) {
  const std::string text = FormatEvents(SampleEvents());
  EXPECT_THAT(text, ContainsRegex("^TIME +CLUSTER +TYPE +INSTANCE +EPOCH +MESSAGE\n"));
  // Empty instance and message: "-"; no "time": formatted from time_ms.
  EXPECT_THAT(text, ContainsRegex("\n2026-11-23T16:04:04.000Z +c1 +maintenance +- +4 +-\n"));
  EXPECT_THAT(text, ContainsRegex("\n2026-11-23T16:04:05.123Z +c1 +promotion +g2 +5 +promoted g2 to active at epoch 5 "
                                  "\\(g1's agent reports its gateway exited\\)\n"));
  EXPECT_LT(text.find("maintenance"), text.find("promotion"));
  EXPECT_EQ(FormatEvents({{"events", json::array()}}), "no events\n");
}

TEST(FormatOtherTest, OperationConfigAndErrors) {
  EXPECT_EQ(FormatOperation({{"cluster", "c1"}, {"kind", "switchover"}, {"from", "g1"}, {"to", "g2"}, {"epoch", 5},
                             {"duration_ms", 180}}),
            "switchover c1: g1 -> g2 at epoch 5 (180 ms)\n");
  EXPECT_EQ(FormatOperation({{"cluster", "c1"}, {"kind", "failover"}, {"from", ""}, {"to", "g3"}, {"epoch", 2},
                             {"duration_ms", 9}}),
            "failover c1: none -> g3 at epoch 2 (9 ms)\n");
  const std::string config = FormatConfig(SampleConfig(3));
  EXPECT_THAT(config, ContainsRegex("version +3\n"));
  EXPECT_THAT(config, ContainsRegex("sync_standbys +1\n"));
  EXPECT_THAT(config, ContainsRegex("priorities +g2=2 g3=1\n"));
  EXPECT_THAT(config, ContainsRegex("mirror.mode +async\n"));

  EXPECT_EQ(FormatRestError(412, ErrorBody("FAILED_PRECONDITION", "g3 is not in the sync set {g2}")),
            "FAILED_PRECONDITION: g3 is not in the sync set {g2}");
  EXPECT_EQ(FormatRestError(502, json("<html>\nbad gateway</html>")), "HTTP 502: <html> bad gateway</html>");
  EXPECT_EQ(FormatRestError(500, nullptr), "HTTP 500");
}

TEST(ExitCodeTest, HttpStatuses) {
  EXPECT_EQ(ExitCodeForHttpStatus(200), kExitOk);
  EXPECT_EQ(ExitCodeForHttpStatus(204), kExitOk);
  EXPECT_EQ(ExitCodeForHttpStatus(400), kExitRefused);
  EXPECT_EQ(ExitCodeForHttpStatus(401), kExitUnauthorized);
  EXPECT_EQ(ExitCodeForHttpStatus(404), kExitRefused);
  EXPECT_EQ(ExitCodeForHttpStatus(409), kExitConflict);
  EXPECT_EQ(ExitCodeForHttpStatus(412), kExitRefused);
  EXPECT_EQ(ExitCodeForHttpStatus(500), kExitRefused);
  EXPECT_EQ(ExitCodeForHttpStatus(503), kExitUnavailable);
  EXPECT_EQ(ExitCodeForHttpStatus(504), kExitTimeout);
}

TEST(ParseHostPortTest, GoodAndBad) {
  EXPECT_EQ(*ParseHostPort("127.0.0.1:7790"), (std::pair<std::string, uint16_t>("127.0.0.1", 7790)));
  EXPECT_EQ(*ParseHostPort("[::1]:80"), (std::pair<std::string, uint16_t>("::1", 80)));
  EXPECT_EQ(*ParseHostPort("arbiter-1.example:7790"), (std::pair<std::string, uint16_t>("arbiter-1.example", 7790)));
  for (const char* bad : {"", "host", ":7790", "host:", "host:0", "host:65536", "host:x", "::1:80", "http://h:1"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// ---------------------------------------------------------------------------
// Against a fake arbiter.

class OperatorVerbsTest : public ::testing::Test {
 protected:
  // The developer's own settings must not leak in.
  ScopedEnv no_arbiter_{"BATON_ARBITER", std::nullopt};
  ScopedEnv no_token_{"BATON_API_TOKEN", std::nullopt};
  FakeArbiter fake_;

  CtlRun Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--arbiter", fake_.address()});
    return Batonctl(std::move(args));
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/operator_verbs_test_" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& path : files_) std::filesystem::remove(path);
  }

 private:
  std::vector<std::string> files_;
};

TEST_F(OperatorVerbsTest, DefaultSettingsAreLocalhostWithoutToken) {
  auto settings = ResolveArbiterSettings({}, std::nullopt, "");
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->addresses, std::vector<std::string>{"127.0.0.1:7790"});
  EXPECT_EQ(settings->token, "");
}

TEST_F(OperatorVerbsTest, StatusPrintsTable) {
  CtlRun r = Run({"status"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_EQ(r.out, FormatStatusTable(SampleStatus()));
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].method, "GET");
  EXPECT_EQ(fake_.requests()[0].path, "/v1/status");
}

TEST_F(OperatorVerbsTest, StatusJsonIsTheAnswerPretty) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"status", "--json"}, {"--json", "status"}}) {
    CtlRun r = Run(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), SampleStatus());
    EXPECT_EQ(r.out, SampleStatus().dump(2) + "\n");
  }
}

TEST_F(OperatorVerbsTest, FlagsMayFollowTheVerb) {
  CtlRun r = Batonctl({"status", "--arbiter", fake_.address(), "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), SampleStatus());
}

TEST_F(OperatorVerbsTest, Cluster) {
  CtlRun r = Run({"cluster", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, FormatCluster(SampleCluster()));
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].path, "/v1/clusters/c1");

  r = Run({"cluster", "c1", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), SampleCluster());
}

TEST_F(OperatorVerbsTest, SwitchoverSendsBodyAndPrintsResult) {
  CtlRun r = Run({"--token", "s3cret", "switchover", "c1", "--to", "g2", "--timeout-ms", "3000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "switchover c1: g1 -> g2 at epoch 5 (180 ms)\n");
  ASSERT_EQ(fake_.requests().size(), 1u);
  const Seen seen = fake_.requests()[0];
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/v1/clusters/c1/switchover");
  EXPECT_EQ(json::parse(seen.body), (json{{"to", "g2"}, {"timeout_ms", 3000}}));
  EXPECT_EQ(seen.authorization, "Bearer s3cret");
}

TEST_F(OperatorVerbsTest, SwitchoverDefaultsSendAnEmptyObject) {
  CtlRun r = Run({"switchover", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(json::parse(fake_.requests()[0].body), json::object());
  EXPECT_EQ(fake_.requests()[0].authorization, "");  // no token configured
}

TEST_F(OperatorVerbsTest, GlobalTimeoutBeforeTheVerbIsTheOperationTimeout) {
  CtlRun r = Run({"--timeout-ms", "2500", "switchover", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(json::parse(fake_.requests()[0].body), (json{{"timeout_ms", 2500}}));
}

TEST_F(OperatorVerbsTest, ClusterNamesStayOnePathSegment) {
  CtlRun r = Run({"switchover", "a/b c?d"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].cluster, "a/b c?d");
  EXPECT_THAT(fake_.requests()[0].query, IsEmpty());
}

TEST_F(OperatorVerbsTest, Failover) {
  CtlRun r = Run({"failover", "c1", "--to", "g3", "--force", "--timeout-ms", "2000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "failover c1: g1 -> g3 at epoch 6 (2300 ms)\n");
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].method, "POST");
  EXPECT_EQ(fake_.requests()[0].path, "/v1/clusters/c1/failover");
  EXPECT_EQ(json::parse(fake_.requests()[0].body), (json{{"to", "g3"}, {"force", true}, {"timeout_ms", 2000}}));

  r = Run({"failover", "c1", "--to", "g3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(fake_.requests().back().body), (json{{"to", "g3"}, {"force", false}}));

  r = Run({"--json", "failover", "c1", "--to", "g3"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["kind"], "failover");
}

TEST_F(OperatorVerbsTest, Maintenance) {
  CtlRun r = Run({"maintenance", "on", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "maintenance on for c1: automatic failover paused\n");
  r = Run({"maintenance", "off", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "maintenance off for c1: automatic failover resumed\n");
  const std::vector<Seen> seen = fake_.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].path, "/v1/clusters/c1/maintenance");
  EXPECT_EQ(json::parse(seen[0].body), (json{{"enabled", true}}));
  EXPECT_EQ(json::parse(seen[1].body), (json{{"enabled", false}}));
}

TEST_F(OperatorVerbsTest, ConfigGet) {
  CtlRun r = Run({"config", "get", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, FormatConfig(SampleConfig(3)));
  r = Run({"config", "get", "c1", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), SampleConfig(3));
  for (const Seen& seen : fake_.requests()) {
    EXPECT_EQ(seen.method, "GET");
    EXPECT_EQ(seen.path, "/v1/clusters/c1/config");
  }
}

TEST_F(OperatorVerbsTest, ConfigSetReadsTheVersionAndMergesPriorities) {
  CtlRun r = Run({"--token", "t", "config", "set", "c1", "--sync-standbys", "2", "--priority", "g2=5", "--priority",
                  "g4=4294967295", "--mirror-mode", "sync"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("config c1: version 4\n"));
  const std::vector<Seen> seen = fake_.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/v1/clusters/c1/config");
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].path, "/v1/clusters/c1/config");
  EXPECT_EQ(seen[1].authorization, "Bearer t");
  EXPECT_EQ(json::parse(seen[1].body),
            (json{{"version", 3},
                  {"sync_standbys", 2},
                  {"priorities", {{"g2", 5}, {"g3", 1}, {"g4", 4294967295u}}},
                  {"mirror", {{"mode", "sync"}}}}));
}

TEST_F(OperatorVerbsTest, ConfigSetWithVersionOnlyPuts) {
  CtlRun r = Run({"config", "set", "c1", "--version", "7", "--sync-standbys", "0"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].method, "PUT");
  EXPECT_EQ(json::parse(fake_.requests()[0].body), (json{{"version", 7}, {"sync_standbys", 0}}));
}

TEST_F(OperatorVerbsTest, ConfigSetConflictNamesTheCurrentVersion) {
  fake_.Answer(kConfigPut, 409, ErrorBody("ABORTED", "config version 3 is not the current one (4)"));
  fake_.Answer(kConfigGet, 200, SampleConfig(4));
  CtlRun r = Run({"config", "set", "c1", "--version", "3", "--mirror-mode", "sync"});
  EXPECT_EQ(r.rc, 5);
  EXPECT_EQ(r.err, "batonctl: config set c1: config changed concurrently (version is now 4); retry\n");

  // With --priority the current config is read first; a --version that is
  // already stale stops there.
  r = Run({"config", "set", "c1", "--version", "3", "--priority", "g2=1"});
  EXPECT_EQ(r.rc, 5);
  EXPECT_THAT(r.err, HasSubstr("config changed concurrently (version is now 4"));
  EXPECT_EQ(fake_.requests().back().method, "GET");
}

TEST_F(OperatorVerbsTest, ConfigSetUsageErrorsSendNothing) {
  const std::vector<std::vector<std::string>> bad = {
      {"config", "set", "c1"},                                   // nothing to set
      {"config", "set", "c1", "--priority", "g2"},               // not ID=N
      {"config", "set", "c1", "--priority", "g2=-1"},
      {"config", "set", "c1", "--priority", "g2=4294967296"},
      {"config", "set", "c1", "--priority", "=3"},
      {"config", "set", "c1", "--priority", "g2=1", "--priority", "g2=2"},
      {"config", "set", "c1", "--sync-standbys", "1001"},
      {"config", "set", "c1", "--sync-standbys", "-1"},
      {"config", "set", "c1", "--mirror-mode", "semi"},
      {"config", "set", "c1", "--version", "-2", "--sync-standbys", "1"},
      {"config", "set", "--sync-standbys", "1"},                 // no cluster
      {"config"},
      {"failover", "c1"},                                        // --to is required
      {"maintenance", "maybe", "c1"},
      {"maintenance", "on"},
      {"switchover"},
      {"switchover", "c1", "--timeout-ms", "0"},
      {"events", "--limit", "0"},
      {"events", "--limit", "1001"},
      {"status", "extra"},
      {"--http-timeout-ms", "0", "status"},
  };
  for (const auto& args : bad) {
    CtlRun r = Run(args);
    EXPECT_EQ(r.rc, 2) << ::testing::PrintToString(args) << "\n" << r.out << r.err;
  }
  EXPECT_THAT(fake_.requests(), IsEmpty());
}

TEST_F(OperatorVerbsTest, Events) {
  CtlRun r = Run({"events", "--cluster", "c 1", "--limit", "5"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, FormatEvents(SampleEvents()));
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].path, "/v1/events");
  EXPECT_EQ(fake_.requests()[0].query, (std::map<std::string, std::string>{{"cluster", "c 1"}, {"limit", "5"}}));

  r = Run({"events", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), SampleEvents());
  EXPECT_THAT(fake_.requests().back().query, IsEmpty());
}

TEST_F(OperatorVerbsTest, MirrorTargetsListsThem) {
  CtlRun r = Run({"mirror-targets"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, FormatMirrorTargets(SampleMirrorTargets()));
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].method, "GET");
  EXPECT_EQ(fake_.requests()[0].path, "/v1/mirror-targets");

  for (const auto& args : std::vector<std::vector<std::string>>{{"mirror-targets", "--json"},
                                                                {"--json", "mirror-targets"}}) {
    r = Run(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, SampleMirrorTargets().dump(2) + "\n");
  }
}

TEST_F(OperatorVerbsTest, MirrorTargetSetPutsTheTarget) {
  CtlRun r = Run({"--token", "t", "mirror-targets", "set", "site-b", "--cluster", "c2", "--address",
                  "10.0.0.7:7700", "--address", "10.0.0.8:7700,10.0.0.9:7700"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "mirror target site-b: cluster c2 at 10.0.0.7:7700,10.0.0.8:7700 (version 2)\n");
  ASSERT_EQ(fake_.requests().size(), 1u);
  const Seen seen = fake_.requests()[0];
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.path, "/v1/mirror-targets/site-b");
  EXPECT_EQ(seen.authorization, "Bearer t");
  EXPECT_EQ(json::parse(seen.body),
            (json{{"cluster", "c2"}, {"addresses", {"10.0.0.7:7700", "10.0.0.8:7700", "10.0.0.9:7700"}}}));

  // --version makes it a compare-and-set (0: create only).
  r = Run({"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h:1", "--version", "0"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(fake_.requests().back().body),
            (json{{"cluster", "c2"}, {"addresses", {"h:1"}}, {"version", 0}}));

  r = Run({"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h:1", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), SampleTarget());
}

TEST_F(OperatorVerbsTest, MirrorTargetSetConflictAndDeleteUnknown) {
  fake_.Answer(kMirrorPut, 409, ErrorBody("ABORTED", "mirror target \"site-b\" is at version 3, not 2"));
  CtlRun r = Run({"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h:1", "--version", "2"});
  EXPECT_EQ(r.rc, 5);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "batonctl: mirror-targets set site-b: ABORTED: mirror target \"site-b\" is at version 3, not 2\n");

  fake_.Answer(kMirrorDelete, 404, ErrorBody("NOT_FOUND", "no mirror target named \"site-x\""));
  r = Run({"mirror-targets", "delete", "site-x"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "batonctl: mirror-targets delete site-x: NOT_FOUND: no mirror target named \"site-x\"\n");
  EXPECT_EQ(fake_.requests().back().method, "DELETE");
  EXPECT_EQ(fake_.requests().back().path, "/v1/mirror-targets/site-x");
}

TEST_F(OperatorVerbsTest, MirrorTargetDelete) {
  CtlRun r = Run({"mirror-targets", "delete", "site-b"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "deleted mirror target site-b (cluster c2)\n");
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].method, "DELETE");
  EXPECT_EQ(fake_.requests()[0].path, "/v1/mirror-targets/site-b");
}

TEST_F(OperatorVerbsTest, MirrorTargetUsageErrorsSendNothing) {
  const std::vector<std::vector<std::string>> bad = {
      {"mirror-targets", "set", "site-b", "--address", "h:1"},                   // no --cluster
      {"mirror-targets", "set", "site-b", "--cluster", "c2"},                    // no --address
      {"mirror-targets", "set", "--cluster", "c2", "--address", "h:1"},          // no name
      {"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h"},  // not host:port
      {"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h:0"},
      {"mirror-targets", "set", "site b", "--cluster", "c2", "--address", "h:1"},  // bad name
      {"mirror-targets", "set", "site-b", "--cluster", "c/2", "--address", "h:1"},
      {"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h:1", "--version", "-1"},
      {"mirror-targets", "delete"},
      {"mirror-targets", "list"},
  };
  for (const auto& args : bad) {
    CtlRun r = Run(args);
    EXPECT_EQ(r.rc, 2) << ::testing::PrintToString(args) << "\n" << r.out << r.err;
  }
  EXPECT_THAT(fake_.requests(), IsEmpty());
  CtlRun r = Run({"mirror-targets", "set", "site-b", "--cluster", "c2", "--address", "h:x"});
  EXPECT_EQ(r.err, "batonctl: mirror-targets set site-b: address 1 \"h:x\" has no valid port\n");
}

TEST_F(OperatorVerbsTest, ExitCodesFollowTheHttpStatus) {
  const std::vector<std::tuple<int, std::string, int>> cases = {
      {400, "INVALID_ARGUMENT", 1}, {401, "UNAUTHENTICATED", 6}, {404, "NOT_FOUND", 1},
      {409, "ABORTED", 5},          {412, "FAILED_PRECONDITION", 1}, {503, "UNAVAILABLE", 3},
      {504, "DEADLINE_EXCEEDED", 4}};
  for (const auto& [http, code, rc] : cases) {
    fake_.Answer(kSwitchover, http, ErrorBody(code, "g3 is not in the sync set {g2}"));
    CtlRun r = Run({"switchover", "c1", "--to", "g3"});
    EXPECT_EQ(r.rc, rc) << http;
    EXPECT_THAT(r.out, IsEmpty());
    EXPECT_THAT(r.err, HasSubstr("batonctl: switchover c1: " + code + ": g3 is not in the sync set {g2}")) << http;
  }
  // An error body that is not the contract's still reports the status.
  fake_.Answer(kStatus, 500, "oops");
  CtlRun r = Run({"status"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "batonctl: status: HTTP 500: oops\n");
}

TEST_F(OperatorVerbsTest, UnknownClusterIsRefused) {
  fake_.Answer(kCluster, 404, ErrorBody("NOT_FOUND", "unknown cluster 'c9'"));
  CtlRun r = Run({"cluster", "c9"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "batonctl: cluster c9: NOT_FOUND: unknown cluster 'c9'\n");
}

TEST(OperatorVerbsTokenTest, MutationsNeedTheToken) {
  ScopedEnv no_arbiter("BATON_ARBITER", std::nullopt);
  ScopedEnv no_token("BATON_API_TOKEN", std::nullopt);
  FakeArbiter fake("s3cret");
  CtlRun r = Batonctl({"--arbiter", fake.address(), "maintenance", "on", "c1"});
  EXPECT_EQ(r.rc, 6);
  EXPECT_THAT(r.err, HasSubstr("batonctl: maintenance on c1: UNAUTHENTICATED"));
  EXPECT_THAT(r.err, HasSubstr("BATON_API_TOKEN"));
  EXPECT_THAT(fake.requests(), IsEmpty());  // the server refused it before any handler

  r = Batonctl({"--arbiter", fake.address(), "--token", "wrong", "maintenance", "on", "c1"});
  EXPECT_EQ(r.rc, 6);
  r = Batonctl({"--arbiter", fake.address(), "status"});  // reads need none
  EXPECT_EQ(r.rc, 0) << r.err;
  r = Batonctl({"--arbiter", fake.address(), "mirror-targets", "delete", "site-b"});
  EXPECT_EQ(r.rc, 6);
  EXPECT_THAT(r.err, HasSubstr("batonctl: mirror-targets delete site-b: UNAUTHENTICATED"));

  ScopedEnv token("BATON_API_TOKEN", "s3cret");
  r = Batonctl({"--arbiter", fake.address(), "maintenance", "on", "c1"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(fake.requests().back().authorization, "Bearer s3cret");
}

TEST_F(OperatorVerbsTest, UnreachableArbiter) {
  const std::string closed = ClosedAddress();
  CtlRun r = Batonctl({"--arbiter", closed, "status"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_THAT(r.err, HasSubstr("batonctl: status: no arbiter reachable (" + closed + ": "));
  r = Batonctl({"--arbiter", closed, "switchover", "c1"});
  EXPECT_EQ(r.rc, 3);
}

TEST_F(OperatorVerbsTest, FallsBackToTheNextAddressWhenOneRefusesConnections) {
  const std::string closed = ClosedAddress();
  CtlRun r = Batonctl({"--arbiter", closed + "," + fake_.address(), "switchover", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "switchover c1: g1 -> g2 at epoch 5 (180 ms)\n");
  r = Batonctl({"--arbiter", closed, "--arbiter", fake_.address(), "status"});  // repeated flag
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(fake_.requests().size(), 2u);
}

TEST_F(OperatorVerbsTest, AnHttpAnswerIsFinal) {
  FakeArbiter second;
  fake_.Answer(kSwitchover, 503, ErrorBody("UNAVAILABLE", "no leader"));
  CtlRun r = Batonctl({"--arbiter", fake_.address() + "," + second.address(), "switchover", "c1"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_EQ(r.err, "batonctl: switchover c1: UNAVAILABLE: no leader\n");
  EXPECT_EQ(fake_.requests().size(), 1u);
  EXPECT_THAT(second.requests(), IsEmpty());
}

TEST_F(OperatorVerbsTest, AMutationWithoutAnswerIsNotSentElsewhere) {
  FakeArbiter second;
  fake_.Hold();
  CtlRun r = Batonctl(
      {"--arbiter", fake_.address() + "," + second.address(), "--http-timeout-ms", "300", "switchover", "c1"});
  fake_.Release();
  EXPECT_EQ(r.rc, 4);
  EXPECT_THAT(r.err, HasSubstr("no answer within 300 ms"));
  EXPECT_THAT(r.err, HasSubstr("may still take effect"));
  EXPECT_EQ(fake_.requests().size(), 1u);
  EXPECT_THAT(second.requests(), IsEmpty());
}

TEST_F(OperatorVerbsTest, AReadWithoutAnswerMovesOn) {
  FakeArbiter second;
  fake_.Hold();
  CtlRun r =
      Batonctl({"--arbiter", fake_.address() + "," + second.address(), "--http-timeout-ms", "300", "status"});
  fake_.Release();
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(second.requests().size(), 1u);
}

TEST_F(OperatorVerbsTest, SettingsPrecedenceFlagEnvFileDefault) {
  FakeArbiter from_env;
  FakeArbiter from_flag;
  const std::string file = WriteFile("batonctl.yaml", "arbiter:\n  http: [" + ClosedAddress() + ", " +
                                                          fake_.address() + "]\napi:\n  token: file-token\n");
  // File only: its list is tried in order, its token is sent.
  CtlRun r = Batonctl({"--config", file, "maintenance", "on", "c1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(fake_.requests().size(), 1u);
  EXPECT_EQ(fake_.requests()[0].authorization, "Bearer file-token");

  {
    ScopedEnv arbiter("BATON_ARBITER", from_env.address());
    ScopedEnv token("BATON_API_TOKEN", "env-token");
    r = Batonctl({"--config", file, "maintenance", "on", "c1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(from_env.requests().size(), 1u);
    EXPECT_EQ(from_env.requests()[0].authorization, "Bearer env-token");

    r = Batonctl({"--config", file, "--arbiter", from_flag.address(), "--token", "flag-token", "maintenance", "on",
                  "c1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(from_flag.requests().size(), 1u);
    EXPECT_EQ(from_flag.requests()[0].authorization, "Bearer flag-token");

    // An empty --token overrides the others too.
    r = Batonctl({"--arbiter", from_flag.address(), "--token", "", "maintenance", "on", "c1"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(from_flag.requests().back().authorization, "");
  }
  EXPECT_EQ(fake_.requests().size(), 1u);
}

TEST_F(OperatorVerbsTest, ConfigFileSpellings) {
  for (const std::string& text : {"arbiter:\n  http: " + ClosedAddress() + "," + fake_.address() + "\n",
                                  "arbiter.http: [" + fake_.address() + "]\n",
                                  // An arbiter's own config: other keys are ignored.
                                  "instance:\n  id: arbiter-1\nhttp:\n  listen: 0.0.0.0:7790\n"
                                  "arbiter:\n  http:\n    - " + fake_.address() + "\n"}) {
    const std::string file = WriteFile("spelling.yaml", text);
    CtlRun r = Batonctl({"--config", file, "status"});
    EXPECT_EQ(r.rc, 0) << text << "\n" << r.err;
  }
  EXPECT_EQ(fake_.requests().size(), 3u);
}

TEST_F(OperatorVerbsTest, BadSettingsAreUsageErrors) {
  const std::vector<std::pair<std::string, std::string>> bad_files = {
      {"list.yaml", "- a\n- b\n"},
      {"nested.yaml", "arbiter:\n  http:\n    x: 1\n"},
      {"address.yaml", "arbiter:\n  http: nohost\n"},
      {"token.yaml", "api:\n  token: [a, b]\n"},
      {"syntax.yaml", "arbiter: [\n"},
  };
  for (const auto& [name, text] : bad_files) {
    CtlRun r = Batonctl({"--config", WriteFile(name, text), "status"});
    EXPECT_EQ(r.rc, 2) << name << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("batonctl: status: ")) << name;
  }
  CtlRun r = Batonctl({"--config", ::testing::TempDir() + "/no-such-batonctl.yaml", "status"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot be read"));
  r = Batonctl({"--arbiter", "http://127.0.0.1:7790", "status"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("--arbiter: arbiter address 'http://127.0.0.1:7790'"));
  {
    ScopedEnv arbiter("BATON_ARBITER", "127.0.0.1");
    r = Batonctl({"status"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_THAT(r.err, HasSubstr("BATON_ARBITER: arbiter address '127.0.0.1'"));
  }
  EXPECT_THAT(fake_.requests(), IsEmpty());
}

TEST(BatonctlHelpTest, FooterDocumentsExitCodes) {
  CtlRun r = Batonctl({"--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("Exit codes: 0 success"));
  EXPECT_THAT(r.out, HasSubstr("6 unauthorized (401)"));
  for (const char* verb :
       {"status", "cluster", "switchover", "failover", "maintenance", "config", "events", "mirror-targets"}) {
    EXPECT_THAT(r.out, HasSubstr(verb));
  }
}

}  // namespace
}  // namespace baton::tools

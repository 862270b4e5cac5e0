// The agent in-process against the real things: a real baton-gateway child
// (GatewayCluster) and fake arbiters that are real gRPC servers on loopback.
#include "instance-agent/agent.h"

#include <signal.h>

#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

#include "instance-agent/agent_config.h"
#include "tests/agent/agent_test_util.h"
#include "tests/agent/fake_arbiter.h"
#include "tests/support/binaries.h"
#include "tests/support/gateway_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::agent {
namespace {

using baton::testing::GatewayCluster;
using baton::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeArbiter;
using Clock_ = std::chrono::steady_clock;

bool Any(const FakeArbiter::Received&) { return true; }

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cluster_.StartAll().ok()); }
  void TearDown() override {
    if (agent_) agent_->Stop();
  }

  // Starts the agent for gateway 0 reporting to `arbiters`.
  Agent& StartAgent(const std::vector<std::string>& arbiters, bool with_pid_file = false,
                    const std::string& heartbeat_ms = "100") {
    std::string list;
    for (const auto& a : arbiters) list += (list.empty() ? "" : ",") + a;
    ConfigInputs inputs;
    inputs.flags = {{"agent.gateway", cluster_.address(0)},
                    {"arbiter.addresses", list},
                    {"http.listen", "127.0.0.1:0"},
                    {"heartbeat_ms", heartbeat_ms},
                    {"log.level", "debug"}};
    if (with_pid_file) {
      const std::string pid_file = dir_.Join("gateway.pid");
      std::ofstream(pid_file) << cluster_.pid(0) << "\n";
      inputs.flags.emplace_back("agent.gateway_pid_file", pid_file);
    }
    auto config = Config::Load(AgentConfigSchema(), inputs);
    EXPECT_TRUE(config.ok()) << config.status();
    agent_ = std::make_unique<Agent>(*config);
    const Status started = agent_->Start();
    EXPECT_TRUE(started.ok()) << started;
    return *agent_;
  }

  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return testing::MetricValue(agent_->metrics().Serialize(), name, labels);
  }

  // Waits for the first heartbeat that reports a healthy gateway.
  Clock_::time_point WaitHealthy(const FakeArbiter& arbiter) {
    auto hb = arbiter.WaitForHeartbeat([](const auto& r) { return r.heartbeat.health() == v1::HEALTH_OK; }, seconds(10));
    EXPECT_TRUE(hb.has_value()) << "no healthy heartbeat";
    return hb ? hb->at : Clock_::now();
  }

  static v1::Assignment ActiveAssignment(const std::string& self, uint64_t epoch, uint32_t lease_ms) {
    v1::Assignment a;
    a.set_role(v1::ROLE_ACTIVE);
    a.set_epoch(epoch);
    a.set_lease_ms(lease_ms);
    a.set_active_address(self);
    a.set_config_version(3);
    return a;
  }

  GatewayCluster cluster_{{.size = 1}};
  baton::testing::TempDir dir_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, HeartbeatsCarryTheGatewayStateAtTheInterval) {
  FakeArbiter arbiter("a1");
  Agent& agent = StartAgent({arbiter.address()});
  const auto healthy_at = WaitHealthy(arbiter);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto all = arbiter.heartbeats();
        return std::count_if(all.begin(), all.end(), [&](const auto& r) { return r.at >= healthy_at; }) >= 12;
      },
      seconds(10)));
  std::vector<FakeArbiter::Received> window;
  for (const auto& r : arbiter.heartbeats()) {
    if (r.at >= healthy_at) window.push_back(r);
  }
  window.resize(12);
  for (size_t i = 0; i < window.size(); ++i) {
    const v1::Heartbeat& hb = window[i].heartbeat;
    EXPECT_EQ(hb.instance_id(), "g1");
    EXPECT_EQ(hb.cluster(), "c1");
    EXPECT_EQ(hb.address(), cluster_.address(0));
    EXPECT_EQ(hb.health(), v1::HEALTH_OK);
    EXPECT_EQ(hb.role(), v1::ROLE_ACTIVE);  // standalone until assigned
    EXPECT_EQ(hb.priority(), 1u);
    EXPECT_FALSE(hb.gateway_process_gone());
    EXPECT_EQ(hb.lease_remaining_ms(), -1);  // standalone: no lease
    EXPECT_EQ(hb.assignment_version(), 0u);
    // Probes run every 25 ms: the reported state is at most a few old.
    EXPECT_LT(hb.probe_age_ms(), 200u);
    if (i > 0) {
      EXPECT_EQ(hb.sequence(), window[i - 1].heartbeat.sequence() + 1);
      EXPECT_LT(window[i].at - window[i - 1].at, milliseconds(300)) << "gap before heartbeat " << i;
    }
  }
  const auto average = (window.back().at - window.front().at) / (window.size() - 1);
  EXPECT_GT(average, milliseconds(70));
  EXPECT_LT(average, milliseconds(160));
  ASSERT_TRUE(WaitFor([&] { return agent.ready(); }, seconds(5)));
  auto readyz = baton::testing::HttpGet(agent.http_port(), "/readyz");
  ASSERT_TRUE(readyz.ok()) << readyz.status();
  EXPECT_EQ(readyz->first, 200);
  EXPECT_GE(Metric("baton_agent_heartbeats_sent_total"), 12);
  EXPECT_EQ(Metric("baton_agent_arbiter_connected"), 1);
  EXPECT_EQ(Metric("baton_agent_gateway_health", {{"state", "ok"}}), 1);
}

// report_now: the leader detected a failure and needs a fresh report. With
// heartbeats 2 s apart, the next one must come at once, carrying a probe that
// began after the request arrived.
TEST_F(AgentTest, ReportRequestIsAnsweredAtOnceWithAFreshProbe) {
  FakeArbiter arbiter("a1");
  StartAgent({arbiter.address()}, /*with_pid_file=*/false, /*heartbeat_ms=*/"2000");
  WaitHealthy(arbiter);
  arbiter.AskForReportOnce();
  ASSERT_TRUE(WaitFor([&] { return arbiter.report_asked_sequence().has_value(); }, seconds(10)));
  const uint64_t asked = *arbiter.report_asked_sequence();
  auto request = arbiter.WaitForHeartbeat([&](const auto& r) { return r.heartbeat.sequence() == asked; }, seconds(1));
  ASSERT_TRUE(request.has_value());
  auto report = arbiter.WaitForHeartbeat([&](const auto& r) { return r.heartbeat.sequence() == asked + 1; }, seconds(5));
  ASSERT_TRUE(report.has_value());
  const auto gap = report->at - request->at;
  EXPECT_LT(gap, milliseconds(1000)) << "the report waited for the 2 s tick";
  // Its probe began after the answer carrying the request was sent.
  EXPECT_LE(milliseconds(report->heartbeat.probe_age_ms()), std::chrono::duration_cast<milliseconds>(gap) + milliseconds(1));
}

TEST_F(AgentTest, GrantMakesTheGatewayActiveAndAnswersRenewWithoutReassigning) {
  FakeArbiter arbiter("a1");
  arbiter.Grant(ActiveAssignment(cluster_.address(0), 7, 1000));
  StartAgent({arbiter.address()});
  ASSERT_TRUE(cluster_
                  .WaitForState(
                      0, [](const auto& s) { return s.role() == v1::ROLE_ACTIVE && s.epoch() == 7 && s.lease_remaining_ms() > 0; },
                      seconds(10), "active at epoch 7 with a lease")
                  .ok());
  // Two and a half leases: only renewals can keep it up this long.
  const auto until = Clock_::now() + milliseconds(2500);
  int samples = 0;
  WaitFor(
      [&] {
        auto state = cluster_.GetState(0);
        EXPECT_TRUE(state.ok()) << state.status();
        if (state.ok()) {
          EXPECT_GT(state->lease_remaining_ms(), 0) << GatewayCluster::Describe(*state);
          EXPECT_EQ(state->epoch(), 7u);
        }
        ++samples;
        return Clock_::now() >= until;
      },
      seconds(4), milliseconds(50));
  EXPECT_GT(samples, 10);
  EXPECT_EQ(Metric("baton_agent_assignments_applied_total", {{"role", "active"}, {"code", "OK"}}), 1);
  EXPECT_GE(Metric("baton_agent_lease_renewals_total", {{"result", "ok"}}), 10);
  EXPECT_TRUE(arbiter
                  .WaitForHeartbeat([](const auto& r) { return r.heartbeat.assignment_version() == 3; }, seconds(5))
                  .has_value());
  EXPECT_TRUE(arbiter
                  .WaitForHeartbeat([](const auto& r) { return r.heartbeat.lease_remaining_ms() > 0; }, seconds(5))
                  .has_value());

  // No more grants: nothing else extends the lease.
  arbiter.AnswerEmpty();
  EXPECT_TRUE(cluster_.WaitForState(0, [](const auto& s) { return s.lease_remaining_ms() == 0; }, seconds(3),
                                    "lease run out").ok());
}

TEST_F(AgentTest, RestartedGatewayIsAssignedAgain) {
  FakeArbiter arbiter("a1");
  arbiter.Grant(ActiveAssignment(cluster_.address(0), 4, 1000));
  StartAgent({arbiter.address()});
  auto applied = [&] { return Metric("baton_agent_assignments_applied_total", {{"role", "active"}, {"code", "OK"}}); };
  ASSERT_TRUE(WaitFor([&] { return applied() >= 1; }, seconds(10)));
  ASSERT_TRUE(cluster_.WaitForState(0, [](const auto& s) { return s.epoch() == 4 && s.lease_remaining_ms() > 0; },
                                    seconds(10), "assigned")
                  .ok());
  const double before = applied();
  ASSERT_TRUE(cluster_.Kill(0).ok());
  ASSERT_TRUE(arbiter.WaitForHeartbeat([](const auto& r) { return r.heartbeat.gateway_process_gone(); }, seconds(5))
                  .has_value());
  // Roles are not read from disk: only a fresh AssignRole gives it a lease again.
  ASSERT_TRUE(cluster_.Start(0).ok());
  EXPECT_TRUE(WaitFor([&] { return applied() > before; }, seconds(10)));
  EXPECT_TRUE(cluster_.WaitForState(0, [](const auto& s) { return s.epoch() == 4 && s.lease_remaining_ms() > 0; },
                                    seconds(10), "assigned again after the restart")
                  .ok());
}

// A switchover at the same epoch: the grant that adds handover_to reaches the
// gateway as AssignRole, the heartbeats report it handing over while the
// renewals go on, and the grant without it (abandoned) ends that.
TEST_F(AgentTest, HandoverGrantReachesTheGatewayAndShowsInTheHeartbeat) {
  FakeArbiter arbiter("a1");
  const v1::Assignment serving = ActiveAssignment(cluster_.address(0), 7, 1000);
  arbiter.Grant(serving);
  StartAgent({arbiter.address()});
  auto applied = [&] { return Metric("baton_agent_assignments_applied_total", {{"role", "active"}, {"code", "OK"}}); };
  auto renewed = [&] { return Metric("baton_agent_lease_renewals_total", {{"result", "ok"}}); };
  auto active = arbiter.WaitForHeartbeat(
      [](const auto& r) { return r.heartbeat.epoch() == 7 && r.heartbeat.lease_remaining_ms() > 0; }, seconds(10));
  ASSERT_TRUE(active.has_value());
  EXPECT_FALSE(active->heartbeat.handing_over());
  EXPECT_EQ(applied(), 1);

  v1::Assignment handover = serving;
  handover.set_handover_to("127.0.0.1:1");  // the candidate; the gateway only names it
  arbiter.Grant(handover);
  auto handing = arbiter.WaitForHeartbeat([](const auto& r) { return r.heartbeat.handing_over(); }, seconds(10));
  ASSERT_TRUE(handing.has_value()) << "no heartbeat reports the handover";
  EXPECT_EQ(handing->heartbeat.role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(handing->heartbeat.epoch(), 7u);
  EXPECT_TRUE(WaitFor([&] { return applied() >= 2; }, seconds(5)));
  EXPECT_EQ(applied(), 2) << "handover_to alone is a change: AssignRole, not RenewLease";

  // Renewals keep the lease and leave the handover alone.
  const double renewals = renewed();
  ASSERT_TRUE(WaitFor([&] { return renewed() >= renewals + 5; }, seconds(5)));
  ASSERT_TRUE(cluster_
                  .WaitForState(
                      0, [](const auto& s) { return s.handing_over() && s.lease_remaining_ms() > 0; }, seconds(5),
                      "still handing over, with a lease")
                  .ok());
  auto refused = cluster_.Insert(0, GatewayCluster::MakeObject("during", {1, 2, 3, 4}));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.status.error_message();
  EXPECT_EQ(refused.baton_active, "127.0.0.1:1");

  arbiter.Grant(serving);
  auto resumed = arbiter.WaitForHeartbeat(
      [&](const auto& r) { return r.at > handing->at && !r.heartbeat.handing_over(); }, seconds(10));
  ASSERT_TRUE(resumed.has_value()) << "the heartbeats still report the handover";
  EXPECT_TRUE(WaitFor([&] { return applied() >= 3; }, seconds(5)));
  EXPECT_EQ(applied(), 3);
  auto write = cluster_.Insert(0, GatewayCluster::MakeObject("after", {1, 2, 3, 4}));
  EXPECT_TRUE(write.status.ok()) << write.status.error_message();
}

TEST_F(AgentTest, FollowerAnswerMovesTheStreamToTheLeader) {
  FakeArbiter leader("leader");
  FakeArbiter follower("follower");
  follower.RedirectTo(leader.address());
  Agent& agent = StartAgent({follower.address()});
  ASSERT_TRUE(leader.WaitForHeartbeat(Any, seconds(10)).has_value());
  EXPECT_GE(follower.heartbeats().size(), 1u);
  ASSERT_TRUE(WaitFor([&] { return agent.ready(); }, seconds(5)));
  EXPECT_GE(Metric("baton_agent_answers_received_total", {{"kind", "redirect"}}), 1);
  EXPECT_GE(Metric("baton_agent_arbiter_connects_total", {{"result", "redirect"}}), 1);
  // It stays there: the leader keeps receiving at the heartbeat rate.
  const size_t before = leader.heartbeats().size();
  EXPECT_TRUE(WaitFor([&] { return leader.heartbeats().size() >= before + 5; }, seconds(5)));
  EXPECT_EQ(leader.streams(), 1);
}

TEST_F(AgentTest, DeadArbiterIsReplacedByTheNextAddress) {
  FakeArbiter first("a1");
  FakeArbiter second("a2");
  StartAgent({first.address(), second.address()});
  ASSERT_TRUE(first.WaitForHeartbeat(Any, seconds(10)).has_value());
  const auto killed_at = Clock_::now();
  first.Shutdown();
  auto hb = second.WaitForHeartbeat(Any, seconds(5));
  ASSERT_TRUE(hb.has_value());
  EXPECT_LT(hb->at - killed_at, seconds(1));
}

TEST_F(AgentTest, SilentArbiterIsLeftAfterTheAnswerTimeout) {
  FakeArbiter first("a1");
  FakeArbiter second("a2");
  StartAgent({first.address(), second.address()});
  ASSERT_TRUE(first.WaitForHeartbeat(Any, seconds(10)).has_value());
  first.Silence();  // a hung leader: the connection stays, answers stop
  ASSERT_TRUE(second.WaitForHeartbeat(Any, seconds(5)).has_value());
}

class GatewayFailureTest : public AgentTest, public ::testing::WithParamInterface<bool> {};

TEST_P(GatewayFailureTest, SigkillIsReportedGoneWithin500Ms) {
  const bool with_pid_file = GetParam();
  FakeArbiter arbiter("a1");
  StartAgent({arbiter.address()}, with_pid_file);
  WaitHealthy(arbiter);
  const auto killed_at = Clock_::now();
  if (with_pid_file) {
    // Not reaped: the gateway stays a zombie, which must count as gone.
    ASSERT_EQ(::kill(cluster_.pid(0), SIGKILL), 0);
  } else {
    ASSERT_TRUE(cluster_.Kill(0).ok());
  }
  auto hb = arbiter.WaitForHeartbeat(
      [&](const auto& r) { return r.at >= killed_at && r.heartbeat.gateway_process_gone(); }, seconds(5));
  ASSERT_TRUE(hb.has_value());
  const auto latency = std::chrono::duration_cast<milliseconds>(hb->at - killed_at);
  std::cout << "gone reported " << latency.count() << " ms after SIGKILL" << std::endl;
  EXPECT_LT(latency, milliseconds(500));
  EXPECT_EQ(hb->heartbeat.instance_id(), "g1");
  EXPECT_EQ(hb->heartbeat.health(), v1::HEALTH_DOWN);
  EXPECT_FALSE(agent_->ready());
}

TEST_P(GatewayFailureTest, SigstopIsDownButNotGone) {
  const bool with_pid_file = GetParam();
  FakeArbiter arbiter("a1");
  StartAgent({arbiter.address()}, with_pid_file);
  WaitHealthy(arbiter);
  const auto stopped_at = Clock_::now();
  ASSERT_TRUE(cluster_.Pause(0).ok());
  auto down = arbiter.WaitForHeartbeat(
      [&](const auto& r) { return r.at >= stopped_at && r.heartbeat.health() == v1::HEALTH_DOWN; }, seconds(5));
  ASSERT_TRUE(down.has_value());
  // Several more probes fail while it stays stopped; none may say "gone".
  ASSERT_TRUE(arbiter.WaitForHeartbeat([&](const auto& r) { return r.at >= down->at + milliseconds(1000); }, seconds(5))
                  .has_value());
  for (const auto& r : arbiter.heartbeats()) {
    if (r.at >= stopped_at) {
      EXPECT_FALSE(r.heartbeat.gateway_process_gone()) << "sequence " << r.heartbeat.sequence();
    }
  }
  EXPECT_GE(Metric("baton_agent_probes_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(Metric("baton_agent_probes_total", {{"outcome", "process_gone"}}), 0);
  EXPECT_EQ(Metric("baton_agent_probes_total", {{"outcome", "refused"}}), 0);
  const auto resumed_at = Clock_::now();
  ASSERT_TRUE(cluster_.Resume(0).ok());
  EXPECT_TRUE(arbiter
                  .WaitForHeartbeat(
                      [&](const auto& r) { return r.at >= resumed_at && r.heartbeat.health() == v1::HEALTH_OK; },
                      seconds(5))
                  .has_value());
}

INSTANTIATE_TEST_SUITE_P(PidFile, GatewayFailureTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "WithPidFile" : "ByConnectRefused"; });

}  // namespace
}  // namespace baton::agent

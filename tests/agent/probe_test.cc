// GatewayProbe on fakes (which outcome each failure maps to), and the pid
// liveness check on a real child process (stopped, killed, zombie).
#include "instance-agent/probe.h"

#include <signal.h>

#include <fstream>

#include <gtest/gtest.h>

#include "common/metrics.h"
#include "common/process.h"
#include "tests/agent/agent_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::agent {
namespace {

using std::chrono::milliseconds;
using testing::FakeGatewayClient;
using testing::FakeProcessWatch;

v1::GetStateResponse State(v1::Role role, uint64_t epoch, v1::Health health = v1::HEALTH_OK) {
  v1::GetStateResponse s;
  s.set_instance_id("g1");
  s.set_cluster("c1");
  s.set_role(role);
  s.set_epoch(epoch);
  s.set_health(health);
  return s;
}

class ProbeTest : public ::testing::Test {
 protected:
  GatewayProbe& MakeProbe(ProcessWatch* watch) {
    probe_ = std::make_unique<GatewayProbe>(ProbeOptions{}, gateway_, watch, clock_, agent_metrics_,
                                            [this](const ProbeSnapshot&, bool changed) {
                                              ++calls_;
                                              if (changed) ++changes_;
                                            });
    return *probe_;
  }

  ManualClock clock_;
  Metrics metrics_{"agent"};
  AgentMetrics agent_metrics_{metrics_};
  FakeGatewayClient gateway_;
  FakeProcessWatch watch_;
  std::unique_ptr<GatewayProbe> probe_;
  int calls_ = 0;
  int changes_ = 0;
};

TEST_F(ProbeTest, AnsweringGatewayReportsItsOwnHealthAndState) {
  gateway_.SetState(State(v1::ROLE_STANDBY, 4, v1::HEALTH_DEGRADED));
  auto s = MakeProbe(&watch_).ProbeOnce();
  EXPECT_EQ(s.outcome, ProbeOutcome::kOk);
  EXPECT_EQ(s.health(), v1::HEALTH_DEGRADED);
  EXPECT_FALSE(s.gone());
  EXPECT_EQ(s.state.epoch(), 4u);
  EXPECT_EQ(testing::MetricValue(metrics_.Serialize(), "baton_agent_gateway_health", {{"state", "degraded"}}), 1);
}

TEST_F(ProbeTest, ListenerHearsEveryProbeButChangesOnlyWhenSomethingMoved) {
  gateway_.SetState(State(v1::ROLE_STANDBY, 4));
  auto& probe = MakeProbe(&watch_);
  probe.ProbeOnce();
  probe.ProbeOnce();
  probe.ProbeOnce();
  EXPECT_EQ(calls_, 3);
  EXPECT_EQ(changes_, 1);
  gateway_.SetState(State(v1::ROLE_ACTIVE, 5));
  probe.ProbeOnce();
  EXPECT_EQ(changes_, 2);
}

TEST_F(ProbeTest, HandoverStartingOrEndingIsAChange) {
  v1::GetStateResponse active = State(v1::ROLE_ACTIVE, 5);
  gateway_.SetState(active);
  auto& probe = MakeProbe(&watch_);
  probe.ProbeOnce();
  ASSERT_EQ(changes_, 1);
  active.set_handing_over(true);
  gateway_.SetState(active);
  EXPECT_TRUE(probe.ProbeOnce().state.handing_over());
  EXPECT_EQ(changes_, 2) << "the arbiter waits for this: it must not wait for the next heartbeat tick";
  probe.ProbeOnce();
  EXPECT_EQ(changes_, 2);
  active.set_handing_over(false);
  gateway_.SetState(active);
  probe.ProbeOnce();
  EXPECT_EQ(changes_, 3);
}

TEST_F(ProbeTest, ExitedPidIsGoneWithoutAskingTheGateway) {
  gateway_.SetState(State(v1::ROLE_ACTIVE, 2));
  auto& probe = MakeProbe(&watch_);
  probe.ProbeOnce();
  watch_.liveness = Liveness::kGone;
  auto s = probe.ProbeOnce();
  EXPECT_EQ(s.outcome, ProbeOutcome::kProcessGone);
  EXPECT_TRUE(s.gone());
  EXPECT_EQ(s.health(), v1::HEALTH_DOWN);
  // The last known identity survives the crash: the gone report names it.
  EXPECT_TRUE(s.has_state);
  EXPECT_EQ(s.state.instance_id(), "g1");
  EXPECT_EQ(changes_, 2);
}

TEST_F(ProbeTest, LivePidThatDoesNotAnswerIsDownButNotGone) {
  gateway_.SetState(Status::DeadlineExceeded("fake: stopped"));
  gateway_.SetRefused(true);  // even a refused port does not outvote a live pid
  auto s = MakeProbe(&watch_).ProbeOnce();
  EXPECT_EQ(s.outcome, ProbeOutcome::kFailed);
  EXPECT_FALSE(s.gone());
  EXPECT_EQ(s.health(), v1::HEALTH_DOWN);
  EXPECT_EQ(gateway_.connect_checks(), 0);
}

TEST_F(ProbeTest, WithoutPidARefusedConnectIsGone) {
  gateway_.SetState(Status::Unavailable("fake: connection refused"));
  gateway_.SetRefused(true);
  auto s = MakeProbe(nullptr).ProbeOnce();
  EXPECT_EQ(s.outcome, ProbeOutcome::kRefused);
  EXPECT_TRUE(s.gone());
  EXPECT_EQ(testing::MetricValue(metrics_.Serialize(), "baton_agent_probes_total", {{"outcome", "refused"}}), 1);
}

TEST_F(ProbeTest, UnknownPidFallsBackToTheConnectCheck) {
  watch_.liveness = Liveness::kUnknown;  // pid file not written (yet)
  gateway_.SetState(Status::Unavailable("fake: connection refused"));
  gateway_.SetRefused(true);
  EXPECT_EQ(MakeProbe(&watch_).ProbeOnce().outcome, ProbeOutcome::kRefused);
}

TEST_F(ProbeTest, WithoutPidAnAcceptedConnectIsOnlyDown) {
  gateway_.SetState(Status::Unavailable("fake: cached transport failure"));
  gateway_.SetRefused(false);
  auto s = MakeProbe(nullptr).ProbeOnce();
  EXPECT_EQ(s.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(gateway_.connect_checks(), 1);
}

TEST_F(ProbeTest, TimeoutNeverCountsAsGone) {
  gateway_.SetState(Status::DeadlineExceeded("fake: hung"));
  gateway_.SetRefused(true);
  auto s = MakeProbe(nullptr).ProbeOnce();
  EXPECT_EQ(s.outcome, ProbeOutcome::kFailed);
  EXPECT_EQ(gateway_.connect_checks(), 0);
}

// --- real processes ----------------------------------------------------------

class PidWatchTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> SpawnSleeper() {
    auto child = ChildProcess::Spawn({.argv = {"sleep", "60"}});
    EXPECT_TRUE(child.ok()) << child.status();
    std::ofstream(pid_file_) << (*child)->pid() << "\n";
    return std::move(child).value();
  }

  baton::testing::TempDir dir_;
  const std::string pid_file_ = dir_.Join("gateway.pid");
};

TEST_F(PidWatchTest, MissingPidFileIsUnknown) {
  PidFileWatch watch(pid_file_);
  EXPECT_EQ(watch.Check(), Liveness::kUnknown);
  EXPECT_FALSE(watch.WaitForExit(milliseconds(1)));
}

TEST_F(PidWatchTest, StoppedProcessIsAlive) {
  auto child = SpawnSleeper();
  PidFileWatch watch(pid_file_);
  EXPECT_EQ(watch.Check(), Liveness::kAlive);
  ASSERT_TRUE(child->Signal(SIGSTOP).ok());
  EXPECT_EQ(watch.Check(), Liveness::kAlive);
  ASSERT_TRUE(child->Signal(SIGCONT).ok());
}

TEST_F(PidWatchTest, KilledUnreapedChildIsGoneAndWakesTheWaiterAtOnce) {
  auto child = SpawnSleeper();
  PidFileWatch watch(pid_file_);
  ASSERT_EQ(watch.Check(), Liveness::kAlive);
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    watch.WaitForExit(std::chrono::seconds(30));
    woke = true;
  });
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(child->pid(), SIGKILL), 0);  // not reaped: it stays a zombie
  ASSERT_TRUE(baton::testing::WaitFor([&] { return woke.load(); }, milliseconds(5000)));
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, milliseconds(500));
  waiter.join();
  EXPECT_EQ(watch.Check(), Liveness::kGone);
  EXPECT_EQ(PidLiveness(child->pid()), Liveness::kGone);
  // Once the exit was seen, waiting no longer returns at once (no busy loop).
  EXPECT_FALSE(watch.WaitForExit(milliseconds(1)));
}

TEST_F(PidWatchTest, RestartedProcessIsFollowedThroughThePidFile) {
  auto first = SpawnSleeper();
  PidFileWatch watch(pid_file_);
  ASSERT_EQ(watch.Check(), Liveness::kAlive);
  (void)first->Stop(milliseconds(100));
  EXPECT_EQ(watch.Check(), Liveness::kGone);
  auto second = SpawnSleeper();
  EXPECT_EQ(watch.Check(), Liveness::kAlive);
}

}  // namespace
}  // namespace baton::agent

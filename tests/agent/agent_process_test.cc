// baton-agent as a real process between a real gateway and a fake arbiter:
// it applies a grant, serves /healthz, /readyz and lint-clean /metrics, logs
// the assignment with ids, and exits 0 on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/agent/agent_test_util.h"
#include "tests/agent/fake_arbiter.h"
#include "tests/support/binaries.h"
#include "tests/support/gateway_cluster.h"
#include "tests/support/metrics_text.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::agent {
namespace {

using baton::testing::BinaryPath;
using baton::testing::HttpGet;
using baton::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(AgentProcess, AppliesGrantServesProbesAndStopsCleanly) {
  baton::testing::GatewayCluster cluster({.size = 1});
  ASSERT_TRUE(cluster.StartAll().ok());
  baton::testing::TempDir dir;
  const std::string pid_file = dir.Join("gateway.pid");
  std::ofstream(pid_file) << cluster.pid(0) << "\n";

  testing::FakeArbiter arbiter("a1");
  v1::Assignment grant;
  grant.set_role(v1::ROLE_ACTIVE);
  grant.set_epoch(3);
  grant.set_lease_ms(2000);
  grant.set_active_address(cluster.address(0));
  grant.set_config_version(1);
  arbiter.Grant(grant);

  const uint16_t http_port = baton::testing::PickFreePort();
  auto daemon = baton::testing::StartDaemon(
      BinaryPath("instance-agent/baton-agent"),
      {"--agent.gateway", cluster.address(0), "--agent.gateway_pid_file", pid_file, "--arbiter.addresses",
       arbiter.address(), "--http.listen", "127.0.0.1:" + std::to_string(http_port), "--log.level", "debug"},
      dir.Join("agent.log"));
  ASSERT_TRUE(daemon.ok()) << daemon.status();

  EXPECT_TRUE(cluster.WaitForState(0, [](const auto& s) { return s.epoch() == 3 && s.lease_remaining_ms() > 0; },
                                   seconds(15), "active at epoch 3 with a lease")
                  .ok())
      << daemon->Log();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = HttpGet(http_port, "/readyz");
        return r.ok() && r->first == 200;
      },
      seconds(10)))
      << daemon->Log();
  auto healthz = HttpGet(http_port, "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->first, 200);

  auto metrics = HttpGet(http_port, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const std::string& body = metrics->second;
  EXPECT_GE(testing::MetricValue(body, "baton_agent_heartbeats_sent_total"), 1) << body;
  EXPECT_EQ(testing::MetricValue(body, "baton_agent_arbiter_connected"), 1) << body;
  EXPECT_EQ(testing::MetricValue(body, "baton_agent_assignments_applied_total", {{"role", "active"}, {"code", "OK"}}),
            1)
      << body;
  EXPECT_EQ(baton::testing::PromtoolProblems(body, dir.Join("metrics.txt")), "");
  EXPECT_NE(daemon->Log().find("assignment cluster=c1 instance=g1 role=ACTIVE epoch=3"), std::string::npos)
      << daemon->Log();

  ASSERT_TRUE(daemon->process->Signal(SIGTERM).ok());
  auto status = daemon->process->Wait(milliseconds(10000));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeWaitStatus(*status) << daemon->Log();
}

TEST(AgentProcess, MissingArbiterAddressesIsAConfigError) {
  baton::testing::TempDir dir;
  auto result = baton::testing::RunToExit(BinaryPath("instance-agent/baton-agent"),
                                          {"--http.listen", "127.0.0.1:0"}, dir.Join("out.log"), seconds(20));
  ASSERT_TRUE(result.ok()) << result.status();
  auto [status, output] = *result;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << DescribeWaitStatus(status) << output;
  EXPECT_NE(output.find("arbiter.addresses"), std::string::npos) << output;
}

}  // namespace
}  // namespace baton::agent

// Start-up of the real binaries: bad config fails fast with exit 2 and one
// line naming the key; an unreachable ZooKeeper is retried, said so, and
// recovered from without a restart.
#include <sys/wait.h>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/binaries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct BinaryCase {
  const char* name;
  const char* path;
};

const BinaryCase kBinaries[] = {
    {"gateway", "gateway/baton-gateway"},
    {"agent", "instance-agent/baton-agent"},
    {"arbiter", "arbiter/baton-arbiter"},
};

class ConfigErrors : public ::testing::TestWithParam<BinaryCase> {
 protected:
  // Runs the binary with `args` and expects exit 2 with `fragment` in its
  // first (and only) error line.
  void ExpectConfigError(std::vector<std::string> args, const std::string& fragment) {
    const std::string binary = BinaryPath(GetParam().path);
    auto result = RunToExit(binary, std::move(args), dir_.Join("out.log"), seconds(20));
    ASSERT_TRUE(result.ok()) << result.status();
    auto [status, output] = *result;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << DescribeWaitStatus(status) << "\n" << output;
    EXPECT_NE(output.find("config error"), std::string::npos) << output;
    EXPECT_NE(output.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << output;
    size_t newlines = std::count(output.begin(), output.end(), '\n');
    EXPECT_EQ(newlines, 1u) << "expected one line, got: " << output;
    std::remove(dir_.Join("out.log").c_str());
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_.Join(name);
    std::ofstream(path) << text;
    return path;
  }

  TempDir dir_;
};

TEST_P(ConfigErrors, MalformedYaml) {
  ExpectConfigError({"--config", WriteFile("bad.yaml", "log:\n  level: [info\n")}, "malformed YAML at line");
}

TEST_P(ConfigErrors, UnknownKeyInFile) {
  ExpectConfigError({"--config", WriteFile("unknown.yaml", "log:\n  levle: info\n")}, "unknown key 'log.levle'");
}

TEST_P(ConfigErrors, UnknownFlag) { ExpectConfigError({"--no.such.key", "1"}, "no.such.key"); }

TEST_P(ConfigErrors, BadAddress) { ExpectConfigError({"--http.listen", "127.0.0.1:http"}, "key 'http.listen'"); }

TEST_P(ConfigErrors, BadLogLevel) { ExpectConfigError({"--log.level", "loud"}, "key 'log.level'"); }

TEST_P(ConfigErrors, MissingConfigFile) { ExpectConfigError({"--config", dir_.Join("absent.yaml")}, "cannot be read"); }

INSTANTIATE_TEST_SUITE_P(AllBinaries, ConfigErrors, ::testing::ValuesIn(kBinaries),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(GatewayConfig, RequiredKeysAreNamed) {
  TempDir dir;
  auto result = RunToExit(BinaryPath("gateway/baton-gateway"), {"--data_dir", dir.path()}, dir.Join("out.log"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(WEXITSTATUS(result->first), 2);
  EXPECT_NE(result->second.find("'index.dimension' is required"), std::string::npos) << result->second;
}

TEST(ArbiterStartup, RetriesUnreachableZookeeperAndRecoversWhenItComes) {
  if (!ZookeeperAvailable()) GTEST_SKIP() << ZookeeperUnavailableReason();
  ZookeeperServer zk;
  ASSERT_TRUE(zk.Start().ok()) << zk.LogTail();
  zk.Stop();  // the port is known but nothing answers there now

  TempDir dir;
  const uint16_t http_port = PickFreePort();
  auto arbiter = StartDaemon(BinaryPath("arbiter/baton-arbiter"),
                             {"--http.listen", "127.0.0.1:" + std::to_string(http_port), "--grpc.listen",
                              "127.0.0.1:" + std::to_string(PickFreePort()), "--zookeeper.connect",
                              zk.connect_string(), "--zookeeper.root", "/baton-startup-test",
                              "--zookeeper.session_timeout_ms", "2000"},
                             dir.Join("arbiter.log"));
  ASSERT_TRUE(arbiter.ok()) << arbiter.status();

  // Alive and saying why it is not ready: healthz 200, readyz 503, a retry line.
  ASSERT_TRUE(WaitFor([&] {
    auto r = HttpGet(http_port, "/healthz");
    return r.ok() && r->first == 200;
  }, seconds(20))) << arbiter->Log();
  auto ready = HttpGet(http_port, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->first, 503);
  ASSERT_TRUE(WaitFor([&] { return arbiter->Log().find("retrying in") != std::string::npos; }, seconds(20)))
      << arbiter->Log();
  EXPECT_NE(arbiter->Log().find(zk.connect_string()), std::string::npos);
  EXPECT_FALSE(arbiter->process->Exited());

  ASSERT_TRUE(zk.Restart().ok()) << zk.LogTail();
  EXPECT_TRUE(WaitFor([&] {
    auto r = HttpGet(http_port, "/readyz");
    return r.ok() && r->first == 200;
  }, seconds(30))) << arbiter->Log();
  auto metrics = HttpGet(http_port, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->second.find("baton_arbiter_zookeeper_connected 1"), std::string::npos) << metrics->second;

  // A clean stop on SIGTERM.
  ASSERT_TRUE(arbiter->process->Signal(SIGTERM).ok());
  auto status = arbiter->process->Wait(seconds(20));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(DescribeWaitStatus(*status), "exit 0") << arbiter->Log();
}

}  // namespace
}  // namespace baton::testing

#include "common/metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace baton {
namespace {

using ::testing::HasSubstr;

// promtool from PATH, else the Debian location; empty if absent.
std::string FindPromtool() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (dir.empty()) continue;
      std::filesystem::path candidate = std::filesystem::path(dir) / "promtool";
      if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  if (access("/usr/bin/promtool", X_OK) == 0) return "/usr/bin/promtool";
  return "";
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Pipes `exposition` through `promtool check metrics`.
PromtoolResult CheckMetrics(const std::string& promtool, const std::string& exposition) {
  std::string file_template =
      (std::filesystem::temp_directory_path() / "baton_metrics_test_XXXXXX").string();
  int fd = mkstemp(file_template.data());
  EXPECT_GE(fd, 0) << "mkstemp " << file_template;
  if (fd < 0) return {};
  close(fd);
  std::ofstream(file_template) << exposition;

  PromtoolResult result;
  std::string command = "'" + promtool + "' check metrics < '" + file_template + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe != nullptr) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
    int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::filesystem::remove(file_template);
  return result;
}

class MetricsPromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    promtool_ = FindPromtool();
    if (promtool_.empty()) {
      GTEST_SKIP() << "promtool not found on PATH or at /usr/bin/promtool; "
                      "install the Debian package 'prometheus' to lint /metrics";
    }
  }
  std::string promtool_;
};

TEST_F(MetricsPromtoolTest, ProjectStyleMetricsPassLint) {
  Metrics metrics("gateway");
  auto& writes = prometheus::BuildCounter()
                     .Name("baton_gateway_writes_total")
                     .Help("Writes applied by the gateway, by operation and result code.")
                     .Register(metrics.registry());
  writes.Add({{"op", "insert"}, {"code", "OK"}}).Increment(3);
  writes.Add({{"op", "remove"}, {"code", "NOT_FOUND"}}).Increment();
  prometheus::BuildGauge()
      .Name("baton_wal_segment_bytes")
      .Help("Size of the active WAL segment in bytes.")
      .Register(metrics.registry())
      .Add({})
      .Set(81920);
  prometheus::BuildHistogram()
      .Name("baton_wal_fsync_duration_seconds")
      .Help("Time spent in fsync of the WAL.")
      .Register(metrics.registry())
      .Add({}, LatencyBuckets())
      .Observe(0.0021);

  std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr("baton_build_info{"));
  EXPECT_THAT(text, HasSubstr("component=\"gateway\""));
  EXPECT_THAT(text, HasSubstr("version=\"" BATON_VERSION "\""));
  EXPECT_THAT(text, HasSubstr("baton_process_start_time_seconds "));
  EXPECT_THAT(text, HasSubstr("baton_wal_fsync_duration_seconds_bucket{le=\"10\"} 1"));

  PromtoolResult lint = CheckMetrics(promtool_, text);
  EXPECT_EQ(lint.exit_code, 0) << lint.output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(lint.output, "") << "promtool complained:\n" << lint.output;
}

// Proves the lint above can fail: a counter without _total is rejected.
TEST_F(MetricsPromtoolTest, CounterWithoutTotalSuffixFailsLint) {
  Metrics metrics("arbiter");
  prometheus::BuildCounter()
      .Name("baton_arbiter_failovers")
      .Help("Failovers started.")
      .Register(metrics.registry())
      .Add({})
      .Increment();

  PromtoolResult lint = CheckMetrics(promtool_, metrics.Serialize());
  EXPECT_NE(lint.exit_code, 0) << lint.output;
  EXPECT_THAT(lint.output, HasSubstr("baton_arbiter_failovers"));
  EXPECT_THAT(lint.output, HasSubstr("_total"));
}

TEST(Metrics, BuildInfoAndStartTime) {
  Metrics metrics("agent", WallTime(std::chrono::seconds(1'700'000'000)));
  std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr("baton_build_info{component=\"agent\",version=\"" BATON_VERSION
                              "\"} 1"));
  EXPECT_THAT(text, HasSubstr("baton_process_start_time_seconds 1700000000"));
  EXPECT_EQ(metrics.component(), "agent");
}

TEST(Metrics, SameFamilyRegisteredTwiceIsShared) {
  Metrics metrics("gateway");
  auto build = [&] {
    return &prometheus::BuildCounter()
                .Name("baton_http_requests_total")
                .Help("HTTP requests.")
                .Register(metrics.registry());
  };
  EXPECT_EQ(build(), build());
}

TEST(MetricsBuckets, LatencySpans50MicrosecondsTo10Seconds) {
  std::vector<double> bounds = LatencyBuckets();
  ASSERT_FALSE(bounds.empty());
  EXPECT_DOUBLE_EQ(bounds.front(), 50e-6);
  EXPECT_DOUBLE_EQ(bounds.back(), 10.0);
  for (size_t i = 1; i < bounds.size(); ++i) {
    EXPECT_GT(bounds[i], bounds[i - 1]);
    EXPECT_LE(bounds[i] / bounds[i - 1], 2.5 + 1e-9);
  }
}

TEST(MetricsBuckets, ExponentialAndByteSize) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  std::vector<double> bytes = ByteSizeBuckets();
  EXPECT_EQ(bytes.front(), 64);
  EXPECT_EQ(bytes.back(), 64.0 * 1024 * 1024);
}

}  // namespace
}  // namespace baton

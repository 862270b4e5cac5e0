// The gateway's side of a planned switchover (docs/operator-api.md,
// "switchover") against real baton-gateway processes on loopback. The tests
// stand in for the arbiter and the agents: they send the active an
// assignment with handover_to through GatewayControl and watch what clients,
// GetState, /readyz and /metrics see.
//
// Every wait has a deadline; every load loop is bounded in count and time.
// BATON_KEEP_TEMP=1 keeps data dirs and logs.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "baton/v1/control.grpc.pb.h"
#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "tests/support/binaries.h"
#include "tests/support/gateway_cluster.h"
#include "tests/support/metrics_text.h"
#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Cluster = GatewayCluster;

std::string Describe(const grpc::Status& s) {
  return std::string(StatusCodeName(static_cast<StatusCode>(s.error_code()))) + " '" + s.error_message() + "'";
}

std::string DescribeState(const v1::GetStateResponse& s) {
  return Cluster::Describe(s) + (s.handing_over() ? " handing_over" : "");
}

std::vector<float> FixedVector(float base) { return {base, base + 1, base + 2, base + 3}; }

constexpr int kActive = 0;
constexpr int kCandidate = 1;

// Active 0 at epoch 1 with standby 1 in its sync set (sync_standbys 1), as
// the arbiter keeps a cluster of two.
Cluster::Spec ActiveSpec() {
  return Cluster::Spec{.role = v1::ROLE_ACTIVE,
                       .epoch = 1,
                       .active = kActive,
                       .standbys = {kCandidate},
                       .sync_set = {kCandidate},
                       .sync_standbys = 1};
}

// The same assignment, telling the active to hand over to the candidate.
v1::Assignment HandoverAssignment(const Cluster& cluster) {
  v1::Assignment a = cluster.MakeAssignment(kActive, ActiveSpec());
  a.set_handover_to(cluster.address(kCandidate));
  return a;
}

double GatewayMetric(const Cluster& cluster, int i, const std::string& name) {
  auto r = HttpGet(cluster.http_port(i), "/metrics");
  return r.ok() && r->first == 200 ? MetricValue(r->second, name) : -1;
}

// Handing over, the active refuses writes with UNAVAILABLE and baton-active =
// the candidate, reports handing_over with a durable position that no longer
// moves, still answers reads, is not ready, and shows it on /metrics; the
// same assignment without handover_to (switchover abandoned) resumes writes.
TEST(Handover, ActiveRefusesWritesNamesTheCandidateAndResumesWhenAbandoned) {
  Cluster cluster({.size = 2});
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(kActive, {kCandidate}, 1, 1));
  for (int i = 0; i < 20; ++i) {
    auto w =
        cluster.Insert(kActive, Cluster::MakeObject("before-" + std::to_string(i), FixedVector(static_cast<float>(i))));
    ASSERT_TRUE(w.status.ok()) << "insert " << i << ": " << Describe(w.status);
  }
  ASSERT_OK_AND_ASSIGN(serving, cluster.GetState(kActive));
  EXPECT_FALSE(serving.handing_over()) << DescribeState(serving);
  EXPECT_EQ(cluster.ReadyzStatus(kActive), 200);
  EXPECT_EQ(GatewayMetric(cluster, kActive, "baton_gateway_handing_over"), 0);

  ASSERT_OK(cluster.AssignRaw(kActive, HandoverAssignment(cluster)));
  ASSERT_OK_AND_ASSIGN(handing, cluster.GetState(kActive));
  EXPECT_TRUE(handing.handing_over()) << DescribeState(handing);
  EXPECT_EQ(handing.role(), v1::ROLE_ACTIVE) << DescribeState(handing);
  EXPECT_EQ(handing.epoch(), 1u) << DescribeState(handing);
  EXPECT_EQ(handing.durable().seq(), serving.durable().seq()) << "nothing was in flight: " << DescribeState(handing);

  for (int i = 0; i < 10; ++i) {
    auto w = i % 2 == 0 ? cluster.Insert(kActive, Cluster::MakeObject("during-" + std::to_string(i), FixedVector(1)))
                        : cluster.Upsert(kActive, Cluster::MakeObject("before-0", FixedVector(50)));
    EXPECT_EQ(w.status.error_code(), grpc::StatusCode::UNAVAILABLE) << "write " << i << ": " << Describe(w.status);
    EXPECT_NE(w.status.error_message().find("handing over to " + cluster.address(kCandidate)), std::string::npos)
        << Describe(w.status);
    EXPECT_EQ(w.baton_active, cluster.address(kCandidate)) << "write " << i;
  }
  ASSERT_OK_AND_ASSIGN(after_writes, cluster.GetState(kActive));
  EXPECT_TRUE(after_writes.handing_over()) << DescribeState(after_writes);
  EXPECT_EQ(after_writes.durable().seq(), handing.durable().seq()) << "durable moved: " << DescribeState(after_writes);
  EXPECT_EQ(after_writes.digest(), handing.digest());
  // The candidate holds exactly the final position: it may take over losslessly.
  ASSERT_OK(cluster.WaitCaughtUp(kActive, kCandidate, seconds(10)));

  auto read = cluster.GetObject(kActive, "before-0");
  ASSERT_TRUE(read.status.ok()) << Describe(read.status);
  EXPECT_EQ(std::vector<float>(read.object.vector().begin(), read.object.vector().end()), FixedVector(0))
      << "the refused upsert changed nothing";
  EXPECT_TRUE(WaitFor([&] { return cluster.ReadyzStatus(kActive) == 503; }, seconds(3)))
      << "/readyz " << cluster.ReadyzStatus(kActive);
  EXPECT_TRUE(WaitFor([&] { return GatewayMetric(cluster, kActive, "baton_gateway_handing_over") == 1; }, seconds(5)))
      << "baton_gateway_handing_over " << GatewayMetric(cluster, kActive, "baton_gateway_handing_over");

  // Abandoned: the same epoch without handover_to.
  ASSERT_OK(cluster.Assign(kActive, ActiveSpec()));
  ASSERT_OK_AND_ASSIGN(resumed, cluster.GetState(kActive));
  EXPECT_FALSE(resumed.handing_over()) << DescribeState(resumed);
  auto w = cluster.Insert(kActive, Cluster::MakeObject("after", FixedVector(7)));
  ASSERT_TRUE(w.status.ok()) << Describe(w.status);
  ASSERT_OK_AND_ASSIGN(moved, cluster.GetState(kActive));
  EXPECT_GT(moved.durable().seq(), handing.durable().seq()) << DescribeState(moved);
  EXPECT_TRUE(WaitFor([&] { return cluster.ReadyzStatus(kActive) == 200; }, seconds(3)))
      << "/readyz " << cluster.ReadyzStatus(kActive);
  EXPECT_TRUE(WaitFor([&] { return GatewayMetric(cluster, kActive, "baton_gateway_handing_over") == 0; }, seconds(5)));
  ASSERT_OK(cluster.WaitCaughtUp(kActive, kCandidate, seconds(10)));
}

// Under a concurrent write load: writes waiting for their sync ack, or
// admitted just before, fail UNAVAILABLE naming the candidate; none is
// acknowledged after the handover, so the position GetState reports with
// handing_over stays put, and once the candidate holds it, promoting the
// candidate at the next epoch loses no acknowledged write.
TEST(Handover, UnderLoadTheReportedPositionIsFinalAndTheSwitchoverLosesNothing) {
  Cluster cluster({.size = 2});
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(kActive, {kCandidate}, 1, 1));

  struct Failure {
    grpc::Status status;
    std::string baton_active;
  };
  Mutex mu;
  std::map<std::string, std::vector<float>> acked;  // GUARDED_BY(mu)
  std::vector<Failure> failures;                    // GUARDED_BY(mu)
  std::atomic<int> acked_count{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto give_up = std::chrono::steady_clock::now() + seconds(30);
  for (int t = 0; t < 6; ++t) {
    // Each thread writes until its first failure (the handover), at most
    // 3000 writes or 30 s.
    threads.emplace_back([&, t] {
      for (int n = 0; n < 3000 && !stop && std::chrono::steady_clock::now() < give_up; ++n) {
        const std::string id = "load-" + std::to_string(t) + "-" + std::to_string(n);
        const std::vector<float> vector = FixedVector(static_cast<float>(t * 10000 + n));
        auto w = cluster.Insert(kActive, Cluster::MakeObject(id, vector));
        MutexLock lock(&mu);
        if (!w.status.ok()) {
          failures.push_back({w.status, w.baton_active});
          return;
        }
        acked[id] = vector;
        ++acked_count;
      }
    });
  }
  const bool loaded = WaitFor([&] { return acked_count >= 300; }, seconds(20));
  Status handed = cluster.AssignRaw(kActive, HandoverAssignment(cluster));
  auto handing = cluster.GetState(kActive);
  // Whoever has not failed yet sees the refusal at its next write.
  for (auto& t : threads) t.join();
  ASSERT_TRUE(loaded) << "only " << acked_count << " writes acknowledged before the handover";
  ASSERT_OK(handed);
  ASSERT_TRUE(handing.ok()) << handing.status();
  ASSERT_TRUE(handing->handing_over()) << DescribeState(*handing);

  {
    MutexLock lock(&mu);
    EXPECT_EQ(failures.size(), threads.size()) << "every thread ends at the handover";
    for (const Failure& f : failures) {
      EXPECT_EQ(f.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(f.status);
      EXPECT_NE(f.status.error_message().find("handing over"), std::string::npos) << Describe(f.status);
      EXPECT_EQ(f.baton_active, cluster.address(kCandidate)) << Describe(f.status);
    }
    std::cout << acked.size() << " writes acknowledged before the handover at durable seq " << handing->durable().seq()
              << std::endl;
  }
  // A late write, after the load: refused too, and the position stays put.
  auto late = cluster.Insert(kActive, Cluster::MakeObject("late", FixedVector(3)));
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(late.status);
  ASSERT_OK(cluster.WaitCaughtUp(kActive, kCandidate, seconds(15)));
  ASSERT_OK_AND_ASSIGN(final_state, cluster.GetState(kActive));
  EXPECT_EQ(final_state.durable().seq(), handing->durable().seq())
      << "reported with handing_over: " << DescribeState(*handing) << "\nnow: " << DescribeState(final_state);
  EXPECT_EQ(final_state.durable().epoch(), handing->durable().epoch());

  // The rest of the switchover, as the arbiter does it: the candidate active
  // at the next epoch, the old active its sync standby.
  ASSERT_OK(cluster.AssignActiveWithStandbys(kCandidate, {kActive}, 2, 1));
  std::vector<std::string> missing;
  MutexLock lock(&mu);
  for (const auto& [id, vector] : acked) {
    auto r = cluster.GetObject(kCandidate, id);
    if (!r.status.ok()) {
      missing.push_back(id + ": " + Describe(r.status));
    } else if (std::vector<float>(r.object.vector().begin(), r.object.vector().end()) != vector) {
      missing.push_back(id + ": another vector");
    }
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << acked.size()
                               << " acknowledged writes are not on the new active, e.g. " << missing.front();
  auto after = cluster.Insert(kCandidate, Cluster::MakeObject("after-switchover", FixedVector(9)));
  EXPECT_TRUE(after.status.ok()) << Describe(after.status);
  ASSERT_OK(cluster.WaitCaughtUp(kCandidate, kActive, seconds(15)));
}

}  // namespace
}  // namespace baton::testing

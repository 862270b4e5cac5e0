// Reads through the client API: Search and SearchByID answer nearest first
// and see every acknowledged write at once (exact scan and HNSW graph), and no
// read waits for a write's fsync.
#include <future>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/gateway/gateway_fixture.h"

namespace baton::gateway::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Search runs the exact scan below index.exact_threshold and the HNSW graph
// (plus an exact scan of what is not indexed yet) above it; both must answer
// nearest first and see a write as soon as it is acknowledged.
class SearchTest : public GatewayFixture, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override { StartGateway({{"index.exact_threshold", GetParam()}}); }
};

TEST_P(SearchTest, NearestFirstAndSeesAcknowledgedWritesAtOnce) {
  MustWrite("a", {Op::kInsert, {0, 0, 0, 0}});
  MustWrite("b", {Op::kInsert, {1, 0, 0, 0}});
  MustWrite("c", {Op::kInsert, {2, 0, 0, 0}});
  MustWrite("d", {Op::kInsert, {5, 0, 0, 0}});

  auto r = Search({0.9f, 0, 0, 0}, 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Ids(*r), (std::vector<std::string>{"b", "a", "c"}));
  ASSERT_EQ(r->size(), 3u);
  EXPECT_NEAR((*r)[0].distance(), 0.01, 1e-4);  // squared L2
  EXPECT_NEAR((*r)[1].distance(), 0.81, 1e-4);
  EXPECT_NEAR((*r)[2].distance(), 1.21, 1e-4);

  auto by_id = SearchByID("a", 3);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(Ids(*by_id), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*by_id)[0].distance(), 0.0f);

  auto more_than_stored = Search({0, 0, 0, 0}, 10);
  ASSERT_TRUE(more_than_stored.ok());
  EXPECT_EQ(Ids(*more_than_stored), (std::vector<std::string>{"a", "b", "c", "d"}));

  auto missing = SearchByID("missing", 3);
  EXPECT_EQ(missing.status().code(), baton::StatusCode::kNotFound) << missing.status();

  // An update moves b away; the next search already sees where it went.
  MustWrite("b", {Op::kUpdate, {50, 0, 0, 0}});
  auto after_update = Search({1, 0, 0, 0}, 2);
  ASSERT_TRUE(after_update.ok());
  EXPECT_EQ(Ids(*after_update), (std::vector<std::string>{"a", "c"}));  // tie at 1: by id

  MustWrite("c", {Op::kRemove});
  auto after_remove = Search({2, 0, 0, 0}, 10);
  ASSERT_TRUE(after_remove.ok());
  EXPECT_EQ(Ids(*after_remove), (std::vector<std::string>{"a", "d", "b"}));
  EXPECT_EQ(SearchByID("c", 3).status().code(), baton::StatusCode::kNotFound);

  // Each write is searched for right after its acknowledgement.
  std::mt19937_64 rng(11);
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < 150; ++i) {
    std::vector<float> v = RandomVector(rng, 4);
    for (float& x : v) x += 100;  // far from a..d
    vectors.push_back(v);
    const std::string id = "r" + std::to_string(i);
    MustWrite(id, {Op::kUpsert, v});
    auto nearest = Search(v, 1);
    ASSERT_TRUE(nearest.ok()) << nearest.status();
    ASSERT_EQ(Ids(*nearest), std::vector<std::string>{id}) << "write " << i;
    EXPECT_EQ((*nearest)[0].distance(), 0.0f);
    auto self = SearchByID(id, 2);
    ASSERT_TRUE(self.ok()) << self.status();
    ASSERT_FALSE(self->empty());
    EXPECT_EQ((*self)[0].id(), id);
    if (i % 4 == 3) {
      const std::string previous = "r" + std::to_string(i - 1);
      MustWrite(previous, {Op::kRemove});
      auto gone = Search(vectors[static_cast<size_t>(i - 1)], 1);
      ASSERT_TRUE(gone.ok());
      ASSERT_EQ(gone->size(), 1u);
      EXPECT_NE((*gone)[0].id(), previous) << "a removed object was returned right after its remove";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Index, SearchTest, ::testing::Values("10000", "0"), [](const auto& info) {
  return std::string(info.param) == "0" ? std::string("Graph") : std::string("ExactScan");
});

// Reads never wait for a write's fsync: with a write parked inside fdatasync,
// GetObject, Exists, Search and SearchByID still answer, and the parked write
// is neither acknowledged nor visible until its sync returns.
class ReadPathTest : public GatewayFixture {
 protected:
  void SetUp() override { StartGateway({}, &fault_fs_); }
  void TearDown() override {
    fault_fs_.OpenSyncGate();
    GatewayFixture::TearDown();
  }
};

TEST_F(ReadPathTest, ReadsDoNotWaitForAWritesFsync) {
  MustWrite("r1", {Op::kInsert, kV1});
  fault_fs_.CloseSyncGate();
  auto parked = std::async(std::launch::async, [this] { return Write("slow", {Op::kInsert, kV2}); });
  ASSERT_TRUE(fault_fs_.WaitForBlockedSyncs(1, seconds(10)));

  const auto start = std::chrono::steady_clock::now();
  auto object = GetObject(*stub_, "r1");
  ASSERT_TRUE(object);
  EXPECT_TRUE(Exists("r1"));
  EXPECT_FALSE(Exists("slow")) << "visible before it is durable";
  auto nearest = Search(kV2, 2);
  ASSERT_TRUE(nearest.ok()) << nearest.status();
  EXPECT_EQ(Ids(*nearest), std::vector<std::string>{"r1"});
  auto by_id = SearchByID("r1", 2);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  EXPECT_EQ(parked.wait_for(milliseconds(0)), std::future_status::timeout) << "acknowledged before its fsync";

  fault_fs_.OpenSyncGate();
  Reply reply = parked.get();
  EXPECT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_TRUE(Exists("slow"));
}

}  // namespace
}  // namespace baton::gateway::testing

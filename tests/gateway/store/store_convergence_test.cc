// Last-writer-wins convergence: the same mutations in any order (and any
// number of times) leave the same state, so mirrored clusters agree.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/store/store.h"
#include "gateway/store/write_planner.h"
#include "tests/gateway/store/store_test_util.h"

namespace baton::gateway {
namespace {

using testing::Put;
using testing::RecordOf;
using testing::TestSeed;
using testing::Write;

constexpr int kDim = 3;

v1::Mutation PutMutation(const std::string& id, int64_t ts, const std::string& origin, std::vector<float> v,
                         std::string metadata = "") {
  v1::Mutation m;
  m.set_op(v1::WRITE_OP_UPSERT);
  auto* p = m.mutable_put();
  p->set_id(id);
  p->mutable_vector()->Add(v.begin(), v.end());
  p->set_timestamp(ts);
  p->set_origin_cluster(origin);
  p->set_metadata(std::move(metadata));
  return m;
}

v1::Mutation RemoveMutation(const std::string& id, int64_t ts, const std::string& origin) {
  v1::Mutation m;
  m.set_op(v1::WRITE_OP_REMOVE);
  auto* t = m.mutable_remove();
  t->set_id(id);
  t->set_timestamp(ts);
  t->set_origin_cluster(origin);
  t->set_removed_at_wall_ns(1);
  return m;
}

Status ApplyOne(ObjectStore& store, const v1::Mutation& m) {
  v1::WriteRecord r;
  *r.add_mutations() = m;
  r.set_mirror_origin("peer");
  return store.Apply(r);
}

// Every observable bit of the live state, for a stronger check than the digest.
std::vector<std::string> Dump(const ObjectStore& store, int ids) {
  std::vector<std::string> out;
  for (int i = 0; i < ids; ++i) {
    const std::string id = "id" + std::to_string(i);
    auto o = store.Get(id);
    if (!o) continue;
    std::string s = id + "@" + std::to_string(o->timestamp) + "/" + o->origin_cluster + ":" + o->metadata;
    for (float f : o->vector) s += "," + std::to_string(f);
    out.push_back(s);
  }
  return out;
}

TEST(LwwConvergence, AnyOrderGivesTheSameDigest) {
  const uint64_t seed = TestSeed();
  std::mt19937_64 rng(seed);
  constexpr int kIds = 40;
  const std::vector<std::string> origins{"c1", "c2", "c3"};
  std::vector<v1::Mutation> mutations;
  for (int i = 0; i < 1500; ++i) {
    const std::string id = "id" + std::to_string(rng() % kIds);
    const int64_t ts = 1 + static_cast<int64_t>(rng() % 50);  // narrow: many timestamp ties
    const std::string& origin = origins[rng() % origins.size()];
    if (rng() % 3 == 0) {
      mutations.push_back(RemoveMutation(id, ts, origin));
    } else {
      mutations.push_back(PutMutation(id, ts, origin, testing::RandomVector(rng, kDim), std::to_string(rng() % 3)));
    }
  }

  ManualClock clock;
  uint64_t want_digest = 0;
  std::vector<std::string> want_dump;
  for (int order = 0; order < 6; ++order) {
    std::vector<v1::Mutation> shuffled = mutations;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    // Replays and redeliveries: some mutations arrive twice.
    for (int i = 0; i < 100; ++i) shuffled.push_back(shuffled[rng() % mutations.size()]);
    ObjectStore store(clock, ObjectStoreOptions{kDim});
    for (const auto& m : shuffled) ASSERT_TRUE(ApplyOne(store, m).ok());
    if (order == 0) {
      want_digest = store.digest();
      want_dump = Dump(store, kIds);
      EXPECT_GT(store.size(), 0u);
      continue;
    }
    EXPECT_EQ(store.digest(), want_digest) << "order " << order << " seed " << seed;
    EXPECT_EQ(Dump(store, kIds), want_dump) << "order " << order << " seed " << seed;
  }
}

TEST(LwwConvergence, TiesAreBrokenByOriginClusterId) {
  ManualClock clock;
  const v1::Mutation from_c1 = PutMutation("a", 100, "c1", {1, 1, 1});
  const v1::Mutation from_c2 = PutMutation("a", 100, "c2", {2, 2, 2});
  ObjectStore x(clock, ObjectStoreOptions{kDim});
  ObjectStore y(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(ApplyOne(x, from_c1).ok());
  ASSERT_TRUE(ApplyOne(x, from_c2).ok());
  ASSERT_TRUE(ApplyOne(y, from_c2).ok());
  ASSERT_TRUE(ApplyOne(y, from_c1).ok());
  EXPECT_EQ(x.Get("a")->origin_cluster, "c2");
  EXPECT_EQ(y.Get("a")->origin_cluster, "c2");
  EXPECT_EQ(x.digest(), y.digest());

  // A remove at the same version beats the put, in either order.
  const v1::Mutation rm = RemoveMutation("a", 100, "c2");
  ASSERT_TRUE(ApplyOne(x, rm).ok());
  ObjectStore z(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(ApplyOne(z, rm).ok());
  ASSERT_TRUE(ApplyOne(z, from_c2).ok());
  EXPECT_FALSE(x.Exists("a"));
  EXPECT_FALSE(z.Exists("a"));
}

TEST(LwwConvergence, DigestIgnoresWriteOrderAndTombstones) {
  ManualClock clock;
  ObjectStore x(clock, ObjectStoreOptions{kDim});
  ObjectStore y(clock, ObjectStoreOptions{kDim});
  EXPECT_EQ(x.digest(), y.digest());
  ASSERT_TRUE(ApplyOne(x, PutMutation("a", 1, "c1", {1, 2, 3})).ok());
  ASSERT_TRUE(ApplyOne(x, PutMutation("b", 2, "c1", {4, 5, 6})).ok());
  ASSERT_TRUE(ApplyOne(y, PutMutation("b", 2, "c1", {4, 5, 6})).ok());
  EXPECT_NE(x.digest(), y.digest());
  ASSERT_TRUE(ApplyOne(y, PutMutation("c", 1, "c1", {0, 0, 0})).ok());
  ASSERT_TRUE(ApplyOne(y, RemoveMutation("c", 2, "c1")).ok());
  ASSERT_TRUE(ApplyOne(y, PutMutation("a", 1, "c1", {1, 2, 3})).ok());
  EXPECT_EQ(x.digest(), y.digest());
  ASSERT_TRUE(ApplyOne(y, PutMutation("a", 3, "c1", {1, 2, 3}, "m")).ok());
  EXPECT_NE(x.digest(), y.digest());
}

// Two clusters take concurrent client writes to the same ids (their clocks
// agree to the nanosecond, the worst case), then mirror to each other:
// both end with the same content.
TEST(LwwConvergence, TwoClustersMirroringConverge) {
  const uint64_t seed = TestSeed();
  std::mt19937_64 rng(seed);
  ManualClock clock;
  ObjectStore c1(clock, ObjectStoreOptions{kDim});
  ObjectStore c2(clock, ObjectStoreOptions{kDim});
  std::vector<v1::WriteRecord> from_c1, from_c2;
  for (int round = 0; round < 200; ++round) {
    for (auto [store, origin, log] : {std::tuple{&c1, "c1", &from_c1}, std::tuple{&c2, "c2", &from_c2}}) {
      const std::string id = "id" + std::to_string(rng() % 10);
      WriteRequest r;
      switch (rng() % 4) {
        case 0: r = Put(v1::WRITE_OP_INSERT, id, testing::RandomVector(rng, kDim), 0, origin); break;
        case 1: r = Put(v1::WRITE_OP_UPDATE, id, testing::RandomVector(rng, kDim), 0, origin); break;
        case 2: r = Put(v1::WRITE_OP_UPSERT, id, testing::RandomVector(rng, kDim), 0, origin); break;
        default: r = WriteRequest::Remove(id, 0, origin); break;
      }
      WriteBatchPlanner planner(*store);
      v1::WriteRecord record = RecordOf({planner.Plan(r)});
      ASSERT_TRUE(store->Apply(record).ok());
      record.set_mirror_origin(origin);
      log->push_back(record);
    }
    if (rng() % 5 == 0) clock.Advance(std::chrono::nanoseconds(rng() % 3));
  }
  // Deliver each cluster's log to the other, in a shuffled order (a mirror
  // with retries does not promise order across ids).
  std::shuffle(from_c1.begin(), from_c1.end(), rng);
  std::shuffle(from_c2.begin(), from_c2.end(), rng);
  for (const auto& r : from_c1) ASSERT_TRUE(c2.Apply(r).ok());
  for (const auto& r : from_c2) ASSERT_TRUE(c1.Apply(r).ok());
  EXPECT_EQ(c1.digest(), c2.digest()) << "seed " << seed;
  EXPECT_EQ(Dump(c1, 10), Dump(c2, 10)) << "seed " << seed;
}

}  // namespace
}  // namespace baton::gateway

// What the store does for mirroring (PRODUCT.md §6): the planner's rules for
// writes that come from a peer, mirror cursors (kept per target, never moved
// back, carried by snapshots), the whole state as mutations for a full
// resync, and the count of mirrored writes applied by origin.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/store/store.h"
#include "gateway/store/write_planner.h"
#include "tests/gateway/store/store_test_util.h"

namespace baton::gateway {
namespace {

using testing::Put;
using testing::Write;

constexpr int kDim = 2;
const std::vector<float> kVecA{1, 2};
const std::vector<float> kVecB{3, 4};

WriteRequest Mirrored(WriteRequest r) {
  r.mirrored = true;
  return r;
}

TEST(MirroredWrites, RemoveOfAMissingIdLeavesATombstoneThatStopsAnOlderInsert) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  WriteOutcome rm = Write(store, Mirrored(WriteRequest::Remove("a", 300, "c2")));
  EXPECT_EQ(rm.code, StatusCode::kNotFound);
  EXPECT_TRUE(rm.applied());
  EXPECT_EQ(store.tombstone_count(), 1u);
  // The insert the remove removed, arriving later from a third cluster.
  WriteOutcome ins = Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "a", kVecA, 200, "c3")));
  EXPECT_EQ(ins.code, StatusCode::kOk);
  EXPECT_FALSE(ins.applied());
  EXPECT_FALSE(store.Exists("a"));
  // A newer insert is a new object.
  EXPECT_TRUE(Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "a", kVecA, 400, "c3"))).applied());
  EXPECT_TRUE(store.Exists("a"));
}

TEST(MirroredWrites, ClientRemoveOfAMissingIdChangesNothing) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  WriteOutcome rm = Write(store, WriteRequest::Remove("a", 300, "c1"));
  EXPECT_EQ(rm.code, StatusCode::kNotFound);
  EXPECT_FALSE(rm.applied());
  EXPECT_EQ(store.tombstone_count(), 0u);
}

TEST(MirroredWrites, IdenticalUpdateTakesTheNewerVersionButAnswersAlreadyExists) {
  ManualClock clock;
  ObjectStore a(clock, ObjectStoreOptions{kDim});
  ObjectStore b(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(Write(a, Put(v1::WRITE_OP_INSERT, "x", kVecA, 100, "c1")).applied());
  ASSERT_TRUE(Write(b, Put(v1::WRITE_OP_INSERT, "x", kVecA, 200, "c2")).applied());
  // b's version reaches a: same content, newer version.
  WriteOutcome upd = Write(a, Mirrored(Put(v1::WRITE_OP_UPDATE, "x", kVecA, 200, "c2")));
  EXPECT_EQ(upd.code, StatusCode::kAlreadyExists);
  EXPECT_TRUE(upd.applied());
  EXPECT_EQ(a.Get("x")->timestamp, 200);
  EXPECT_EQ(a.digest(), b.digest());
  // A client's identical update still changes nothing.
  WriteOutcome local = Write(a, Put(v1::WRITE_OP_UPDATE, "x", kVecA, 300, "c1"));
  EXPECT_EQ(local.code, StatusCode::kAlreadyExists);
  EXPECT_FALSE(local.applied());
  EXPECT_EQ(a.Get("x")->timestamp, 200);
}

TEST(MirroredWrites, AppliedCountsByOrigin) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  Write(store, Put(v1::WRITE_OP_INSERT, "local", kVecA, 100, "c1"));
  Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "p1", kVecA, 100, "c2")));
  Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "p2", kVecA, 100, "c2")));
  Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "p3", kVecA, 100, "c3")));
  // A re-sent write is not applied again, so it does not count again.
  Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "p1", kVecA, 100, "c2")));
  const std::map<std::string, uint64_t> want{{"c2", 2}, {"c3", 1}};
  EXPECT_EQ(store.mirror_applied(), want);
}

v1::MirrorCursorRecord Cursors(std::map<std::string, uint64_t> cursors) {
  v1::MirrorCursorRecord record;
  for (const auto& [target, seq] : cursors) {
    v1::MirrorCursor* c = record.add_cursors();
    c->set_target(target);
    c->set_delivered_seq(seq);
  }
  return record;
}

TEST(MirrorCursors, KeepTheHighestPerTargetAndMoveTheAppliedPosition) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  store.ApplyCursors(Cursors({{"b", 10}, {"c", 4}}), LogPosition{1, 11});
  store.ApplyCursors(Cursors({{"b", 7}}), LogPosition{1, 12});  // a replayed older record
  const std::map<std::string, uint64_t> want{{"b", 10}, {"c", 4}};
  EXPECT_EQ(store.mirror_cursors(), want);
  EXPECT_EQ(store.applied_position(), (LogPosition{1, 12}));
  store.Clear();
  EXPECT_TRUE(store.mirror_cursors().empty());
}

TEST(MirrorCursors, SnapshotsCarryThem) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  Write(store, Put(v1::WRITE_OP_INSERT, "a", kVecA, 100, "c1"));
  store.ApplyCursors(Cursors({{"b", 10}, {"c", 4}}), LogPosition{1, 12});
  std::string payload;
  ASSERT_TRUE(store.SerializeTo(&payload).ok());
  ObjectStore loaded(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(loaded.LoadFrom(payload, LogPosition{1, 12}).ok());
  EXPECT_EQ(loaded.mirror_cursors(), store.mirror_cursors());
  EXPECT_EQ(loaded.digest(), store.digest());
}

TEST(ExportMutations, TheWholeStateWithVersionsAndOrigins) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  Write(store, Put(v1::WRITE_OP_INSERT, "live", kVecA, 100, "c1"));
  Write(store, Mirrored(Put(v1::WRITE_OP_INSERT, "peer", kVecB, 150, "c2")));
  Write(store, Put(v1::WRITE_OP_INSERT, "gone", kVecA, 100, "c1"));
  Write(store, WriteRequest::Remove("gone", 200, "c1"));
  LogPosition at;
  std::vector<v1::Mutation> state = store.ExportMutations(&at);
  ASSERT_EQ(state.size(), 3u);
  // Replaying them into an empty store gives the same state.
  ObjectStore copy(clock, ObjectStoreOptions{kDim});
  v1::WriteRecord record;
  for (const v1::Mutation& m : state) *record.add_mutations() = m;
  ASSERT_TRUE(copy.Apply(record).ok());
  EXPECT_EQ(copy.digest(), store.digest());
  EXPECT_EQ(copy.tombstone_count(), 1u);
  EXPECT_EQ(copy.Get("peer")->origin_cluster, "c2");
  // ... and a late older insert of the removed id stays out of the copy too.
  EXPECT_FALSE(Write(copy, Mirrored(Put(v1::WRITE_OP_INSERT, "gone", kVecA, 150, "c3"))).applied());
}

}  // namespace
}  // namespace baton::gateway

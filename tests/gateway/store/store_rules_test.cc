// The status rules of PRODUCT.md sections 2, 6 and 9, one table row each.
#include <limits>
#include <optional>
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
using testing::Write;

constexpr int kDim = 2;
const std::vector<float> kVecA{1, 2};
const std::vector<float> kVecB{3, 4};

WriteRequest Ins(const std::string& id, int64_t ts, const std::vector<float>& v = kVecA, std::string origin = "c1") {
  return Put(v1::WRITE_OP_INSERT, id, v, ts, std::move(origin));
}
WriteRequest Upd(const std::string& id, int64_t ts, const std::vector<float>& v = kVecB, std::string origin = "c1",
                 std::string metadata = "") {
  return Put(v1::WRITE_OP_UPDATE, id, v, ts, std::move(origin), std::move(metadata));
}
WriteRequest Ups(const std::string& id, int64_t ts, const std::vector<float>& v = kVecB) {
  return Put(v1::WRITE_OP_UPSERT, id, v, ts);
}
WriteRequest Rm(const std::string& id, int64_t ts, std::string origin = "c1") {
  return WriteRequest::Remove(id, ts, std::move(origin));
}
WriteRequest Rbt(int64_t before) { return WriteRequest::RemoveByTimestamp(before, "c1"); }

// ManualClock's wall time: every assigned timestamp is at least this.
const int64_t kWallNs = ToNanos(ManualClock().WallNow());
constexpr int64_t kAssigned = -1;  // want_timestamp: any timestamp the gateway assigned

struct RuleCase {
  std::string name;
  std::vector<WriteRequest> setup;
  WriteRequest request;
  StatusCode code;
  int64_t want_timestamp;
  bool applied;
  // Timestamp of the live object "a" afterwards; nullopt: "a" is not live.
  std::optional<int64_t> a_after;
};

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

class StoreRules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(StoreRules, Case) {
  const RuleCase& c = GetParam();
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  for (const WriteRequest& r : c.setup) {
    WriteOutcome o = Write(store, r);
    ASSERT_TRUE(o.ok()) << "setup step failed: " << o.message;
  }
  const uint64_t digest_before = store.digest();
  const WriteOutcome out = Write(store, c.request);
  EXPECT_EQ(out.code, c.code) << out.message;
  if (c.want_timestamp == kAssigned) {
    EXPECT_GE(out.timestamp, kWallNs);
  } else {
    EXPECT_EQ(out.timestamp, c.want_timestamp);
  }
  EXPECT_EQ(out.applied(), c.applied);
  if (!c.applied) {
    EXPECT_EQ(store.digest(), digest_before);
  }
  if (out.code != StatusCode::kOk) {
    EXPECT_FALSE(out.message.empty());
  }
  std::optional<Object> a = store.Get("a");
  ASSERT_EQ(a.has_value(), c.a_after.has_value());
  if (a) {
    if (*c.a_after == kAssigned) {
      EXPECT_EQ(a->timestamp, out.timestamp);
    } else {
      EXPECT_EQ(a->timestamp, *c.a_after);
    }
  }
}

using SC = StatusCode;
INSTANTIATE_TEST_SUITE_P(
    Table, StoreRules,
    ::testing::Values(
        RuleCase{"InsertNew", {}, Ins("a", 100), SC::kOk, 100, true, 100},
        RuleCase{"InsertAssignsTimestamp", {}, Ins("a", 0), SC::kOk, kAssigned, true, kAssigned},
        RuleCase{"InsertExisting", {Ins("a", 100)}, Ins("a", 0), SC::kAlreadyExists, 100, false, 100},
        RuleCase{"InsertExistingNewerTimestamp", {Ins("a", 100)}, Ins("a", 200), SC::kAlreadyExists, 100, false, 100},
        RuleCase{"InsertRetrySameTimestamp", {Ins("a", 100)}, Ins("a", 100), SC::kOk, 100, false, 100},
        RuleCase{"InsertOlderThanStored", {Ins("a", 100)}, Ins("a", 50, kVecB), SC::kOk, 100, false, 100},
        RuleCase{"UpdateMissing", {}, Upd("a", 0), SC::kNotFound, 0, false, std::nullopt},
        RuleCase{"UpdateExisting", {Ins("a", 100)}, Upd("a", 200), SC::kOk, 200, true, 200},
        RuleCase{"UpdateIdentical", {Ins("a", 100)}, Upd("a", 0, kVecA), SC::kAlreadyExists, 100, false, 100},
        RuleCase{"UpdateIdenticalNewerTimestamp", {Ins("a", 100)}, Upd("a", 200, kVecA), SC::kAlreadyExists, 100,
                 false, 100},
        RuleCase{"UpdateMetadataOnly", {Ins("a", 100)}, Upd("a", 0, kVecA, "c1", "m"), SC::kOk, kAssigned, true,
                 kAssigned},
        RuleCase{"UpdateRetrySameTimestamp", {Ins("a", 100), Upd("a", 200)}, Upd("a", 200), SC::kOk, 200, false, 200},
        RuleCase{"UpdateOlderThanStored", {Ins("a", 100), Upd("a", 200)}, Upd("a", 150, kVecA), SC::kOk, 200, false,
                 200},
        RuleCase{"UpdateAfterNewerRemove", {Ins("a", 100), Rm("a", 300)}, Upd("a", 200), SC::kOk, 300, false,
                 std::nullopt},
        RuleCase{"UpdateAfterOlderRemove", {Ins("a", 100), Rm("a", 300)}, Upd("a", 400), SC::kNotFound, 0, false,
                 std::nullopt},
        RuleCase{"UpsertAbsentInserts", {}, Ups("a", 100), SC::kOk, 100, true, 100},
        RuleCase{"UpsertExistingUpdates", {Ins("a", 100)}, Ups("a", 0), SC::kOk, kAssigned, true, kAssigned},
        RuleCase{"UpsertIdentical", {Ins("a", 100)}, Ups("a", 0, kVecA), SC::kAlreadyExists, 100, false, 100},
        RuleCase{"UpsertRetrySameTimestamp", {Ups("a", 100)}, Ups("a", 100), SC::kOk, 100, false, 100},
        RuleCase{"UpsertAfterNewerRemove", {Ins("a", 100), Rm("a", 300)}, Ups("a", 200), SC::kOk, 300, false,
                 std::nullopt},
        RuleCase{"UpsertAfterRemoveWithZero", {Ins("a", 100), Rm("a", 300)}, Ups("a", 0), SC::kOk, kAssigned, true,
                 kAssigned},
        RuleCase{"RemoveMissing", {}, Rm("a", 0), SC::kNotFound, 0, false, std::nullopt},
        RuleCase{"RemoveExisting", {Ins("a", 100)}, Rm("a", 0), SC::kOk, kAssigned, true, std::nullopt},
        RuleCase{"RemoveRetrySameTimestamp", {Ins("a", 100), Rm("a", 200)}, Rm("a", 200), SC::kOk, 200, false,
                 std::nullopt},
        RuleCase{"RemoveOlderThanStored", {Ins("a", 100)}, Rm("a", 50), SC::kOk, 100, false, 100},
        RuleCase{"RemoveAfterOlderRemove", {Ins("a", 100), Rm("a", 200)}, Rm("a", 0), SC::kNotFound, 0, false,
                 std::nullopt},
        RuleCase{"InsertOlderThanRemoveDoesNotResurrect", {Ins("a", 100), Rm("a", 200)}, Ins("a", 150), SC::kOk,
                 200, false, std::nullopt},
        RuleCase{"InsertAtRemoveVersionDoesNotResurrect", {Ins("a", 100), Rm("a", 200)}, Ins("a", 200), SC::kOk,
                 200, false, std::nullopt},
        RuleCase{"InsertWithZeroAfterRemove", {Ins("a", 100), Rm("a", 200)}, Ins("a", 0), SC::kOk, kAssigned, true,
                 kAssigned},
        RuleCase{"InsertNewerThanRemove", {Ins("a", 100), Rm("a", 200)}, Ins("a", 250), SC::kOk, 250, true, 250},
        // Ties on timestamp are broken by origin cluster id.
        RuleCase{"TieHigherOriginInsertIsExisting", {Ins("a", 100, kVecA, "c1")}, Ins("a", 100, kVecB, "c2"),
                 SC::kAlreadyExists, 100, false, 100},
        RuleCase{"TieHigherOriginUpdateWins", {Ins("a", 100, kVecA, "c1")}, Upd("a", 100, kVecB, "c2"), SC::kOk,
                 100, true, 100},
        RuleCase{"TieLowerOriginUpdateLoses", {Ins("a", 100, kVecA, "c1")}, Upd("a", 100, kVecB, "c0"), SC::kOk,
                 100, false, 100},
        RuleCase{"TieLowerOriginRemoveLoses", {Ins("a", 100, kVecA, "c1")}, Rm("a", 100, "c0"), SC::kOk, 100,
                 false, 100},
        RuleCase{"TieHigherOriginRemoveWins", {Ins("a", 100, kVecA, "c1")}, Rm("a", 100, "c2"), SC::kOk, 100, true,
                 std::nullopt},
        // RemoveByTimestamp removes timestamp < before, not <=.
        RuleCase{"RemoveByTimestampStrictlyBefore", {Ins("a", 100), Ins("b", 200), Ins("c", 300)}, Rbt(200),
                 SC::kOk, kAssigned, true, std::nullopt},
        RuleCase{"RemoveByTimestampAtBoundaryKeeps", {Ins("a", 100), Ins("b", 200)}, Rbt(100), SC::kNotFound, 0,
                 false, 100},
        RuleCase{"RemoveByTimestampEmptyStore", {}, Rbt(1'000), SC::kNotFound, 0, false, std::nullopt},
        RuleCase{"RemoveByTimestampSkipsRemoved", {Ins("a", 100), Rm("a", 150)}, Rbt(1'000), SC::kNotFound, 0,
                 false, std::nullopt}),
    [](const ::testing::TestParamInfo<RuleCase>& info) { return info.param.name; });

TEST(StoreRulesExtra, RemoveByTimestampRemovesEachMatchOnce) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  for (auto [id, ts] : std::vector<std::pair<std::string, int64_t>>{{"a", 100}, {"b", 199}, {"c", 200}, {"d", 300}}) {
    ASSERT_TRUE(Write(store, Ins(id, ts)).ok());
  }
  WriteOutcome out = Write(store, Rbt(200));
  ASSERT_TRUE(out.ok()) << out.message;
  ASSERT_EQ(out.mutations.size(), 2u);
  EXPECT_EQ(out.mutations[0].remove().id(), "a");
  EXPECT_EQ(out.mutations[1].remove().id(), "b");
  for (const auto& m : out.mutations) {
    EXPECT_EQ(m.op(), v1::WRITE_OP_REMOVE_BY_TIMESTAMP);
    EXPECT_EQ(m.remove().timestamp(), out.timestamp);  // the request's assigned timestamp
  }
  EXPECT_FALSE(store.Exists("a"));
  EXPECT_FALSE(store.Exists("b"));
  EXPECT_TRUE(store.Exists("c"));
  EXPECT_TRUE(store.Exists("d"));
  EXPECT_EQ(store.tombstone_count(), 2u);
  EXPECT_EQ(Write(store, Rbt(200)).code, StatusCode::kNotFound);
}

// A mirrored RemoveByTimestamp carries the peer's timestamp: an object
// written after it (by version) survives even when it is "before".
TEST(StoreRulesExtra, RemoveByTimestampWithOlderVersionSparesNewerObjects) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(Write(store, Ins("a", 500)).ok());
  ASSERT_TRUE(Write(store, Ins("b", 100)).ok());
  WriteRequest r = WriteRequest::RemoveByTimestamp(1'000, "c2", /*mirrored=*/true);
  r.timestamp = 300;
  WriteOutcome out = Write(store, r);
  ASSERT_TRUE(out.ok()) << out.message;
  ASSERT_EQ(out.mutations.size(), 1u);
  EXPECT_TRUE(store.Exists("a"));
  EXPECT_FALSE(store.Exists("b"));
  EXPECT_EQ(Write(store, r).code, StatusCode::kNotFound);
}

TEST(WriteBatchPlanner, ItemsOfOneBatchSeeEachOther) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  WriteBatchPlanner planner(store);
  std::vector<WriteOutcome> outs;
  outs.push_back(planner.Plan(Ins("a", 0)));
  outs.push_back(planner.Plan(Ins("a", 0)));          // sees item 0
  outs.push_back(planner.Plan(Upd("a", 0, kVecA)));   // identical to item 0
  outs.push_back(planner.Plan(Upd("a", 0, kVecB)));
  outs.push_back(planner.Plan(Rm("b", 0)));           // never existed
  outs.push_back(planner.Plan(Ins("b", 0)));
  outs.push_back(planner.Plan(Rbt(std::numeric_limits<int64_t>::max())));  // sees a and b
  outs.push_back(planner.Plan(Upd("a", 0)));          // removed by item 6
  outs.push_back(planner.Plan(Ins("c", 100)));
  outs.push_back(planner.Plan(Rbt(100)));             // "c" is not before 100
  outs.push_back(planner.Plan(Rbt(101)));             // but before 101
  EXPECT_EQ(outs[0].code, StatusCode::kOk);
  EXPECT_EQ(outs[1].code, StatusCode::kAlreadyExists);
  EXPECT_EQ(outs[1].timestamp, outs[0].timestamp);
  EXPECT_EQ(outs[2].code, StatusCode::kAlreadyExists);
  EXPECT_EQ(outs[3].code, StatusCode::kOk);
  EXPECT_TRUE(outs[3].applied());
  EXPECT_EQ(outs[4].code, StatusCode::kNotFound);
  EXPECT_EQ(outs[5].code, StatusCode::kOk);
  EXPECT_EQ(outs[6].code, StatusCode::kOk);
  EXPECT_EQ(outs[6].mutations.size(), 2u);
  EXPECT_EQ(outs[7].code, StatusCode::kNotFound);
  EXPECT_EQ(outs[9].code, StatusCode::kNotFound);
  ASSERT_EQ(outs[10].mutations.size(), 1u);
  EXPECT_EQ(outs[10].mutations[0].remove().id(), "c");
  // Nothing is visible before Apply; everything is after.
  EXPECT_EQ(store.size(), 0u);
  ASSERT_TRUE(store.Apply(RecordOf(outs)).ok());
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.tombstone_count(), 3u);
}

TEST(WriteBatchPlanner, AssignedTimestampsStrictlyIncreaseOnAStoppedClock) {
  ManualClock clock;  // never advanced
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  int64_t last = 0;
  for (int batch = 0; batch < 5; ++batch) {
    WriteBatchPlanner planner(store);
    std::vector<WriteOutcome> outs;
    for (int i = 0; i < 20; ++i) {
      outs.push_back(planner.Plan(Ins("id" + std::to_string(batch * 20 + i), 0)));
      ASSERT_TRUE(outs.back().ok());
      EXPECT_GT(outs.back().timestamp, last);
      EXPECT_GE(outs.back().timestamp, kWallNs);
      last = outs.back().timestamp;
    }
    ASSERT_TRUE(store.Apply(RecordOf(outs)).ok());
  }
  EXPECT_EQ(store.last_assigned_timestamp(), last);
}

TEST(WriteBatchPlanner, LocalWriteBeatsAMirroredFutureVersion) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  // A peer whose clock runs an hour ahead wrote "a".
  const int64_t future = kWallNs + int64_t{3600} * 1'000'000'000;
  WriteRequest mirrored = Ins("a", future, kVecA, "c9");
  mirrored.mirrored = true;
  ASSERT_TRUE(Write(store, mirrored).applied());
  // Mirrored timestamps are not ours: they do not drag our clock forward.
  EXPECT_LT(store.last_assigned_timestamp(), future);

  WriteOutcome upd = Write(store, Upd("a", 0, kVecB, "c1"));
  ASSERT_TRUE(upd.applied()) << upd.message;
  EXPECT_EQ(upd.timestamp, future + 1);
  EXPECT_EQ(store.Get("a")->vector, kVecB);
  EXPECT_EQ(store.Get("a")->origin_cluster, "c1");

  WriteOutcome rm = Write(store, Rm("a", 0));
  ASSERT_TRUE(rm.applied());
  EXPECT_GT(rm.timestamp, future + 1);
  EXPECT_FALSE(store.Exists("a"));
}

TEST(WriteBatchPlanner, NoTimestampAfterInt64Max) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(Write(store, Ins("a", std::numeric_limits<int64_t>::max())).applied());
  WriteOutcome out = Write(store, Upd("a", 0));
  EXPECT_EQ(out.code, StatusCode::kFailedPrecondition);
  EXPECT_NE(out.message.find("'a'"), std::string::npos) << out.message;
  EXPECT_FALSE(out.applied());
}

TEST(WriteBatchPlanner, RefusesUnspecifiedOp) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  WriteBatchPlanner planner(store);
  EXPECT_EQ(planner.Plan(WriteRequest{}).code, StatusCode::kInvalidArgument);
}

TEST(ObjectStoreApply, ReplayRestoresLastAssignedButNotFromMirrors) {
  ManualClock clock;
  ObjectStore active(clock, ObjectStoreOptions{kDim});
  ObjectStore standby(clock, ObjectStoreOptions{kDim});
  WriteBatchPlanner planner(active);
  std::vector<WriteOutcome> outs{planner.Plan(Ins("a", 0)), planner.Plan(Ins("b", 5))};
  v1::WriteRecord record = RecordOf(outs);
  ASSERT_TRUE(active.Apply(record).ok());
  ASSERT_TRUE(standby.Apply(record).ok());
  EXPECT_EQ(standby.last_assigned_timestamp(), outs[0].timestamp);
  EXPECT_EQ(standby.digest(), active.digest());

  v1::WriteRecord mirrored = RecordOf({planner.Plan(Ins("c", 0))}, "c2");
  ObjectStore other(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(other.Apply(mirrored).ok());
  EXPECT_EQ(other.last_assigned_timestamp(), 0);
}

TEST(ObjectStoreApply, MalformedRecordAppliesNothing) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  WriteBatchPlanner planner(store);
  v1::WriteRecord record = RecordOf({planner.Plan(Ins("a", 10))});
  record.add_mutations();  // neither put nor remove
  Status s = store.Apply(record);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("mutation 1"), std::string::npos) << s;
  EXPECT_EQ(store.size(), 0u);

  v1::WriteRecord wrong_dim = RecordOf({planner.Plan(Put(v1::WRITE_OP_INSERT, "b", {1, 2, 3}, 10))});
  s = store.Apply(wrong_dim);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("3 values, dimension is 2"), std::string::npos) << s;
}

TEST(ObjectStoreTombstones, CompactDropsOnlyOlderTombstones) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(Write(store, Ins("a", 100)).ok());
  ASSERT_TRUE(Write(store, Rm("a", 200)).applied());
  const WallTime removed_at = clock.WallNow();
  clock.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(Write(store, Ins("b", 100)).ok());
  ASSERT_TRUE(Write(store, Rm("b", 200)).applied());
  ASSERT_EQ(store.tombstone_count(), 2u);

  EXPECT_EQ(store.CompactTombstones(removed_at), 0u);  // strictly older only
  EXPECT_EQ(store.CompactTombstones(removed_at + std::chrono::nanoseconds(1)), 1u);
  EXPECT_EQ(store.tombstone_count(), 1u);
  EXPECT_EQ(store.size(), 0u);
  // Past its TTL a late write can resurrect "a"; "b" is still protected.
  EXPECT_TRUE(Write(store, Ins("a", 150)).applied());
  EXPECT_FALSE(Write(store, Ins("b", 150)).applied());
}

}  // namespace
}  // namespace baton::gateway

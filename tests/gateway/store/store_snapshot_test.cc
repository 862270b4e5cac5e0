// The store's snapshot payload: round trip, and every kind of damage is an
// error that names the problem, never a crash.
#include <chrono>
#include <iostream>
#include <random>
#include <string>

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include "gateway/store/store.h"
#include "gateway/store/write_planner.h"
#include "tests/gateway/store/store_test_util.h"

namespace baton::gateway {
namespace {

using testing::Put;
using testing::RecordOf;
using testing::Write;

// A store with objects, tombstones and assigned timestamps.
void Fill(ObjectStore& store, std::mt19937_64& rng, int objects, int dimension, int removed_every = 7) {
  WriteBatchPlanner planner(store);
  std::vector<WriteOutcome> outs;
  for (int i = 0; i < objects; ++i) {
    outs.push_back(planner.Plan(Put(v1::WRITE_OP_INSERT, "obj-" + std::to_string(i),
                                    testing::RandomVector(rng, dimension), 0, i % 2 ? "c1" : "c2",
                                    i % 3 ? "" : "meta" + std::to_string(i))));
  }
  for (int i = 0; i < objects; i += removed_every) {
    outs.push_back(planner.Plan(WriteRequest::Remove("obj-" + std::to_string(i), 0, "c1")));
  }
  ASSERT_TRUE(store.Apply(RecordOf(outs)).ok());
}

TEST(StoreSnapshot, RoundTripKeepsEverything) {
  std::mt19937_64 rng(7);
  ManualClock clock;
  ObjectStore a(clock, ObjectStoreOptions{8});
  Fill(a, rng, 500, 8);
  std::string payload;
  ASSERT_TRUE(a.SerializeTo(&payload).ok());

  ObjectStore b(clock, ObjectStoreOptions{8});
  ASSERT_TRUE(Write(b, Put(v1::WRITE_OP_INSERT, "to-be-replaced", std::vector<float>(8, 1.0f), 5)).ok());
  Status s = b.LoadFrom(payload);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(b.digest(), a.digest());
  EXPECT_EQ(b.size(), a.size());
  EXPECT_EQ(b.tombstone_count(), a.tombstone_count());
  EXPECT_EQ(b.last_assigned_timestamp(), a.last_assigned_timestamp());
  EXPECT_FALSE(b.Exists("to-be-replaced"));
  auto x = a.Get("obj-3");
  auto y = b.Get("obj-3");
  ASSERT_TRUE(x && y);
  EXPECT_EQ(x->vector, y->vector);
  EXPECT_EQ(x->metadata, y->metadata);
  EXPECT_EQ(x->origin_cluster, y->origin_cluster);
  EXPECT_EQ(x->timestamp, y->timestamp);

  // Tombstones survive: a late insert older than the remove stays out.
  EXPECT_FALSE(b.Exists("obj-7"));
  WriteOutcome late = Write(b, Put(v1::WRITE_OP_INSERT, "obj-7", std::vector<float>(8, 0.5f), 1));
  EXPECT_FALSE(late.applied());

  // And the gateway's clock carries on after the loaded one.
  WriteOutcome next = Write(b, Put(v1::WRITE_OP_INSERT, "new", std::vector<float>(8, 0.5f), 0));
  EXPECT_GT(next.timestamp, a.last_assigned_timestamp());

  ObjectStore empty(clock, ObjectStoreOptions{8});
  std::string empty_payload;
  ASSERT_TRUE(empty.SerializeTo(&empty_payload).ok());
  ASSERT_TRUE(b.LoadFrom(empty_payload).ok());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.digest(), 0u);
}

class StoreSnapshotCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(11);
    Fill(source_, rng, 30, 4);
    ASSERT_TRUE(source_.SerializeTo(&payload_).ok());
    ASSERT_TRUE(Write(target_, Put(v1::WRITE_OP_INSERT, "keep", {1, 2, 3, 4}, 5)).ok());
    digest_ = target_.digest();
  }
  // A failed load names a reason and leaves the target as it was.
  Status Load(std::string_view payload) {
    Status s = target_.LoadFrom(payload);
    if (!s.ok()) {
      EXPECT_FALSE(s.message().empty());
      EXPECT_EQ(target_.digest(), digest_);
      EXPECT_TRUE(target_.Exists("keep"));
    }
    return s;
  }

  ManualClock clock_;
  ObjectStore source_{clock_, ObjectStoreOptions{4}};
  ObjectStore target_{clock_, ObjectStoreOptions{4}};
  std::string payload_;
  uint64_t digest_ = 0;
};

TEST_F(StoreSnapshotCorruption, EveryTruncationIsDataLoss) {
  for (size_t n = 0; n < payload_.size(); ++n) {
    Status s = Load(std::string_view(payload_).substr(0, n));
    ASSERT_EQ(s.code(), StatusCode::kDataLoss) << "prefix " << n << ": " << s;
  }
  EXPECT_TRUE(Load(payload_).ok());
}

TEST_F(StoreSnapshotCorruption, TrailingBytes) {
  Status s = Load(payload_ + "x");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("1 bytes after the last record"), std::string::npos) << s;
}

TEST_F(StoreSnapshotCorruption, ChangedVectorFailsTheDigest) {
  // A byte inside the first object's packed floats: still parses, but the
  // value changed.
  std::string mutated = payload_;
  const size_t header_len = static_cast<uint8_t>(mutated[0]) + 1;
  mutated[header_len + 12] ^= 0x01;  // inside object 0's vector (id "obj-NN" is ~8 bytes)
  Status s = Load(mutated);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
}

TEST_F(StoreSnapshotCorruption, WrongVersionOrDimension) {
  ObjectStore other_dim(clock_, ObjectStoreOptions{8});
  Status s = other_dim.LoadFrom(payload_);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("snapshot dimension 4, index.dimension is 8"), std::string::npos) << s;

  v1::StoreSnapshotHeader header;
  header.set_format_version(99);
  std::string bad;
  bad.push_back(static_cast<char>(header.ByteSizeLong()));
  bad += header.SerializeAsString();
  s = Load(bad);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("format_version 99"), std::string::npos) << s;
}

TEST_F(StoreSnapshotCorruption, DuplicateIdAndHugeCounts) {
  v1::StoreSnapshotHeader header;
  header.set_format_version(1);
  header.set_dimension(4);
  header.set_object_count(2);
  v1::StoredObject o;
  o.set_id("dup");
  for (int i = 0; i < 4; ++i) o.add_vector(1);
  o.set_timestamp(10);
  auto record = [](const google::protobuf::MessageLite& m) {
    std::string r;
    r.push_back(static_cast<char>(m.ByteSizeLong()));
    return r + m.SerializeAsString();
  };
  Status s = Load(record(header) + record(o) + record(o));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("snapshot object 1: duplicate id 'dup'"), std::string::npos) << s;

  header.set_object_count(1ull << 60);
  s = Load(record(header) + record(o));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("cannot fit"), std::string::npos) << s;

  header.set_object_count(1);
  o.set_timestamp(0);
  s = Load(record(header) + record(o));
  EXPECT_NE(s.message().find("timestamp 0 is not positive"), std::string::npos) << s;
  o.set_timestamp(1);
  o.add_vector(2);
  s = Load(record(header) + record(o));
  EXPECT_NE(s.message().find("vector has 5 values, dimension is 4"), std::string::npos) << s;
}

TEST_F(StoreSnapshotCorruption, RandomDamageNeverCrashes) {
  google::protobuf::LogSilencer quiet;  // "invalid UTF-8" for every damaged id
  std::mt19937_64 rng(testing::TestSeed());
  int errors = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = payload_;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] ^= static_cast<char>(1 + rng() % 255);
    if (!Load(mutated).ok()) ++errors;
    // Restore the target for the next round when a damaged payload loaded
    // (a flip in a tombstone's wall time, say, is undetectable here).
    if (!target_.Exists("keep")) {
      ObjectStore fresh(clock_, ObjectStoreOptions{4});
      ASSERT_TRUE(Write(fresh, Put(v1::WRITE_OP_INSERT, "keep", {1, 2, 3, 4}, 5)).ok());
      std::string p;
      ASSERT_TRUE(fresh.SerializeTo(&p).ok());
      ASSERT_TRUE(target_.LoadFrom(p).ok());
    }
  }
  EXPECT_GT(errors, 1000);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  EXPECT_FALSE(Load(garbage).ok());
}

// Not a timed assertion: prints what 100k 128-d objects cost.
TEST(StoreSnapshotPerformance, HundredThousandObjects) {
  constexpr int kObjects = 110'000;  // 100k live after every 11th is removed
  constexpr int kDim = 128;
  std::mt19937_64 rng(3);
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDim});
  Fill(store, rng, kObjects, kDim, 11);
  std::string payload;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store.SerializeTo(&payload).ok());
  const auto t1 = std::chrono::steady_clock::now();
  ObjectStore loaded(clock, ObjectStoreOptions{kDim});
  ASSERT_TRUE(loaded.LoadFrom(payload).ok());
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(loaded.digest(), store.digest());
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::cout << "snapshot payload: " << store.size() << " objects + " << store.tombstone_count()
            << " tombstones, " << payload.size() / (1024.0 * 1024.0) << " MiB; serialize " << ms(t1 - t0)
            << " ms, load " << ms(t2 - t1) << " ms\n";
}

}  // namespace
}  // namespace baton::gateway

#include "gateway/store/vector_index.h"

#include <atomic>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/store/store.h"
#include "gateway/store/write_planner.h"
#include "tests/gateway/store/store_test_util.h"

namespace baton::gateway {
namespace {

using testing::Put;
using testing::RandomVector;
using testing::Write;

// A store plus an index whose indexer runs only when the test says so.
class IndexFixture : public ::testing::Test {
 protected:
  static constexpr int kDim = 8;

  std::unique_ptr<VectorIndex> MakeIndex(Metric metric, size_t exact_threshold, bool start = false) {
    VectorIndexOptions o;
    o.dimension = kDim;
    o.metric = metric;
    o.exact_threshold = exact_threshold;
    o.start_indexer = start;
    auto index = VectorIndex::Create(store_, o);
    EXPECT_TRUE(index.ok()) << index.status();
    return std::move(index).value();
  }

  // A durable, applied, enqueued write: what the gateway acknowledges.
  WriteOutcome Ack(const WriteRequest& r, std::initializer_list<VectorIndex*> indexes) {
    WriteBatchPlanner planner(store_);
    WriteOutcome out = planner.Plan(r);
    v1::WriteRecord record = testing::RecordOf({out});
    EXPECT_TRUE(store_.Apply(record).ok());
    for (VectorIndex* index : indexes) index->EnqueueRecord(record);
    return out;
  }
  void Insert(const std::string& id, std::vector<float> v, std::initializer_list<VectorIndex*> indexes) {
    ASSERT_TRUE(Ack(Put(v1::WRITE_OP_INSERT, id, std::move(v)), indexes).applied());
  }

  // Every returned distance is the distance to the object's current vector.
  void ExpectCurrentDistances(const std::vector<Neighbor>& found, std::span<const float> query, Metric metric) {
    for (const Neighbor& n : found) {
      auto v = store_.Get(n.id);
      ASSERT_TRUE(v.has_value()) << "returned a removed id " << n.id;
      EXPECT_NEAR(n.distance, Distance(query, v->vector, metric), 1e-4) << n.id;
    }
  }
  static float Distance(std::span<const float> a, std::span<const float> b, Metric metric) {
    double dot = 0, na = 0, nb = 0, l2 = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
      l2 += (a[i] - b[i]) * (a[i] - b[i]);
    }
    if (metric == Metric::kL2) return static_cast<float>(l2);
    return static_cast<float>(1 - dot / std::sqrt(na * nb));
  }

  ManualClock clock_;
  ObjectStore store_{clock_, ObjectStoreOptions{kDim}};
  std::mt19937_64 rng_{42};
};

TEST_F(IndexFixture, ExactAndHnswAgreeOnSmallSets) {
  auto exact = MakeIndex(Metric::kL2, /*exact_threshold=*/1'000'000);
  auto ann = MakeIndex(Metric::kL2, /*exact_threshold=*/0);
  for (int i = 0; i < 500; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {exact.get(), ann.get()});
  EXPECT_EQ(ann->ProcessPendingForTest(), 500u);
  EXPECT_EQ(ann->stats().indexed, 500u);
  EXPECT_EQ(ann->stats().pending, 0u);
  size_t same = 0, total = 0;
  for (int q = 0; q < 50; ++q) {
    std::vector<float> query = RandomVector(rng_, kDim);
    auto a = exact->Search(query, 10);
    auto b = ann->Search(query, 10);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), 10u);
    ASSERT_EQ(b->size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      total++;
      if ((*a)[i].id == (*b)[i].id) {
        same++;
        EXPECT_NEAR((*a)[i].distance, (*b)[i].distance, 1e-5);
      }
    }
    ExpectCurrentDistances(*b, query, Metric::kL2);
    for (size_t i = 1; i < b->size(); ++i) EXPECT_LE((*b)[i - 1].distance, (*b)[i].distance);
  }
  EXPECT_GE(static_cast<double>(same) / total, 0.98);
}

TEST_F(IndexFixture, AcknowledgedWritesAreVisibleBeforeTheIndexerRuns) {
  auto index = MakeIndex(Metric::kL2, /*exact_threshold=*/0);  // always the graph path
  for (int i = 0; i < 200; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  index->ProcessPendingForTest();
  const std::vector<float> query(kDim, 5.0f);  // far from every random vector in [-1, 1]

  // New object next to the query: found first, before any indexing.
  Insert("new", std::vector<float>(kDim, 4.9f), {index.get()});
  // An indexed object moves next to the query; another is removed.
  ASSERT_TRUE(Ack(Put(v1::WRITE_OP_UPDATE, "o1", std::vector<float>(kDim, 4.8f)), {index.get()}).applied());
  auto before = index->Search(query, 3);
  ASSERT_TRUE(before.ok());
  const std::string nearest_old = (*before)[2].id;
  ASSERT_TRUE(Ack(WriteRequest::Remove(nearest_old, 0, "c1"), {index.get()}).applied());
  EXPECT_EQ(index->stats().pending, 3u);

  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "before indexing" : "after indexing");
    auto found = index->Search(query, 10);
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), 10u);
    EXPECT_EQ((*found)[0].id, "new");
    EXPECT_EQ((*found)[1].id, "o1");
    for (const Neighbor& n : *found) EXPECT_NE(n.id, nearest_old);
    ExpectCurrentDistances(*found, query, Metric::kL2);
    index->ProcessPendingForTest();
  }
  EXPECT_EQ(index->stats().pending, 0u);
  EXPECT_EQ(index->stats().indexed, 200u);  // 200 + new - removed
  EXPECT_EQ(index->stats().deleted_in_graph, 1u);
}

TEST_F(IndexFixture, UpdatesAndRemovesNeverLeaveStaleResults) {
  auto index = MakeIndex(Metric::kL2, /*exact_threshold=*/0);
  for (int i = 0; i < 300; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  index->ProcessPendingForTest();
  for (int round = 0; round < 20; ++round) {
    for (int j = 0; j < 15; ++j) {
      const std::string id = "o" + std::to_string(rng_() % 300);
      if (rng_() % 3 == 0) {
        Ack(WriteRequest::Remove(id, 0, "c1"), {index.get()});
      } else {
        Ack(Put(v1::WRITE_OP_UPSERT, id, RandomVector(rng_, kDim)), {index.get()});
      }
    }
    if (round % 2 == 0) index->ProcessPendingForTest();  // half the rounds search with pending changes
    for (int q = 0; q < 5; ++q) {
      std::vector<float> query = RandomVector(rng_, kDim);
      auto found = index->Search(query, 20);
      ASSERT_TRUE(found.ok());
      ExpectCurrentDistances(*found, query, Metric::kL2);
    }
  }
  index->ProcessPendingForTest();
  EXPECT_EQ(index->stats().indexed, store_.size());
}

TEST_F(IndexFixture, LargeBacklogFallsBackToAnExactScan) {
  VectorIndexOptions o;
  o.dimension = kDim;
  o.exact_threshold = 0;
  o.max_pending_for_ann = 10;
  o.start_indexer = false;
  auto index = std::move(VectorIndex::Create(store_, o)).value();
  auto reference = MakeIndex(Metric::kL2, 1'000'000);
  for (int i = 0; i < 100; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  EXPECT_EQ(index->stats().pending, 100u);
  std::vector<float> query = RandomVector(rng_, kDim);
  auto a = index->Search(query, 5);
  auto b = reference->Search(query, 5);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ((*a)[i].id, (*b)[i].id);
}

TEST_F(IndexFixture, CosineAndL2OrderDifferently) {
  // Against query (1, 0, ...): "far" points the same way but is long; "near"
  // is close in space but at an angle.
  std::vector<float> query(kDim, 0.0f), far(kDim, 0.0f), near(kDim, 0.0f), opposite(kDim, 0.0f);
  query[0] = 1;
  far[0] = 10;
  near[0] = 0.9f;
  near[1] = 0.5f;
  opposite[0] = -1;
  for (size_t threshold : {size_t{1'000'000}, size_t{0}}) {
    SCOPED_TRACE(threshold ? "exact" : "graph");
    ObjectStore store(clock_, ObjectStoreOptions{kDim});
    VectorIndexOptions o;
    o.dimension = kDim;
    o.exact_threshold = threshold;
    o.start_indexer = false;
    auto l2 = std::move(VectorIndex::Create(store, o)).value();
    o.metric = Metric::kCosine;
    auto cosine = std::move(VectorIndex::Create(store, o)).value();
    for (auto [id, v] : {std::pair{"far", far}, std::pair{"near", near}, std::pair{"opposite", opposite}}) {
      ASSERT_TRUE(Write(store, Put(v1::WRITE_OP_INSERT, id, v)).applied());
      l2->Enqueue(id);
      cosine->Enqueue(id);
    }
    l2->ProcessPendingForTest();
    cosine->ProcessPendingForTest();
    auto by_l2 = l2->Search(query, 3);
    auto by_cos = cosine->Search(query, 3);
    ASSERT_TRUE(by_l2.ok() && by_cos.ok());
    EXPECT_EQ((*by_l2)[0].id, "near");
    EXPECT_NEAR((*by_l2)[0].distance, 0.01f + 0.25f, 1e-5);
    EXPECT_EQ((*by_cos)[0].id, "far");
    EXPECT_NEAR((*by_cos)[0].distance, 0.0f, 1e-5);
    EXPECT_EQ((*by_cos)[2].id, "opposite");
    EXPECT_NEAR((*by_cos)[2].distance, 2.0f, 1e-5);
  }
}

TEST_F(IndexFixture, SearchByIdPutsTheObjectFirst) {
  auto index = MakeIndex(Metric::kL2, 0);
  for (int i = 0; i < 50; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  Insert("twin-a", std::vector<float>(kDim, 0.25f), {index.get()});
  Insert("twin-b", std::vector<float>(kDim, 0.25f), {index.get()});  // a tie that "twin-a" wins by id
  index->ProcessPendingForTest();
  auto found = index->SearchByID("twin-b", 5);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 5u);
  EXPECT_EQ((*found)[0].id, "twin-b");
  EXPECT_EQ((*found)[0].distance, 0.0f);
  EXPECT_EQ((*found)[1].id, "twin-a");
  std::set<std::string> unique;
  for (const Neighbor& n : *found) unique.insert(n.id);
  EXPECT_EQ(unique.size(), found->size()) << "an id twice";
  auto one = index->SearchByID("o3", 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id, "o3");

  EXPECT_EQ(index->SearchByID("missing", 5).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(Ack(WriteRequest::Remove("o3", 0, "c1"), {index.get()}).applied());
  EXPECT_EQ(index->SearchByID("o3", 5).status().code(), StatusCode::kNotFound);
}

TEST_F(IndexFixture, GraphGrowsPastItsInitialCapacity) {
  VectorIndexOptions o;
  o.dimension = kDim;
  o.exact_threshold = 0;
  o.initial_capacity = 16;
  o.start_indexer = false;
  auto index = std::move(VectorIndex::Create(store_, o)).value();
  for (int i = 0; i < 1500; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  EXPECT_EQ(index->ProcessPendingForTest(), 1500u);
  VectorIndexStats s = index->stats();
  EXPECT_EQ(s.indexed, 1500u);
  EXPECT_EQ(s.failures_total, 0u);
  EXPECT_GE(s.capacity, 1500u);
  auto found = index->SearchByID("o1499", 1);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)[0].id, "o1499");
}

TEST_F(IndexFixture, RejectsBadQueriesAndOptions) {
  auto index = MakeIndex(Metric::kL2, 0);
  std::vector<float> short_query(kDim - 1, 0.0f);
  Status s = index->Search(short_query, 5).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "vector: 7 values, index.dimension is 8");
  EXPECT_EQ(index->Search(std::vector<float>(kDim, 0.0f), 0).status().code(), StatusCode::kInvalidArgument);

  VectorIndexOptions o;
  o.dimension = kDim + 1;
  EXPECT_EQ(VectorIndex::Create(store_, o).status().code(), StatusCode::kInvalidArgument);
  o.dimension = 0;
  EXPECT_EQ(VectorIndex::Create(store_, o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(IndexFixture, RebuildStaysCorrectWhileItRuns) {
  auto index = MakeIndex(Metric::kL2, 0);
  for (int i = 0; i < 400; ++i) Insert("o" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  index->ProcessPendingForTest();
  for (int i = 0; i < 100; ++i) Ack(WriteRequest::Remove("o" + std::to_string(i), 0, "c1"), {index.get()});
  index->ProcessPendingForTest();
  EXPECT_EQ(index->stats().deleted_in_graph, 100u);

  auto reference = MakeIndex(Metric::kL2, 1'000'000);
  ASSERT_TRUE(index->Rebuild().ok());
  EXPECT_EQ(index->stats().indexed, 0u);
  EXPECT_EQ(index->stats().pending, 300u);
  std::vector<float> query = RandomVector(rng_, kDim);
  auto during = index->Search(query, 10);
  auto want = reference->Search(query, 10);
  ASSERT_TRUE(during.ok() && want.ok());
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ((*during)[i].id, (*want)[i].id);

  index->ProcessPendingForTest();
  VectorIndexStats s = index->stats();
  EXPECT_EQ(s.indexed, 300u);
  EXPECT_EQ(s.deleted_in_graph, 0u);
  EXPECT_EQ(s.pending, 0u);
}

// The real thing: an indexer thread, a writer acknowledging writes and
// checking each is searchable at once, and concurrent readers.
TEST_F(IndexFixture, ConcurrentWritesAndSearchesWithTheIndexerThread) {
  auto index = MakeIndex(Metric::kL2, 0, /*start=*/true);
  for (int i = 0; i < 500; ++i) Insert("seed" + std::to_string(i), RandomVector(rng_, kDim), {index.get()});
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      while (!done.load()) {
        auto found = index->Search(RandomVector(rng, kDim), 10);
        EXPECT_TRUE(found.ok());
        EXPECT_EQ(found->size(), 10u);
        searches++;
      }
    });
  }
  for (int i = 0; i < 1500; ++i) {
    // A fresh random vector per write: only the object itself is at distance
    // 0. (In distribution on purpose: hnsw does not promise to keep a cluster
    // of far outliers that keep moving reachable, and this test is about
    // freshness, not graph quality.)
    std::vector<float> v = RandomVector(rng_, kDim);
    // Few ids, rewritten constantly: the indexer keeps finding that the id it
    // is indexing changed again meanwhile.
    const std::string id = "w" + std::to_string(i % 5);
    ASSERT_TRUE(Ack(Put(v1::WRITE_OP_UPSERT, id, v), {index.get()}).applied());
    auto found = index->Search(v, 1);
    ASSERT_TRUE(found.ok());
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ((*found)[0].id, id) << "write " << i;
    EXPECT_EQ((*found)[0].distance, 0.0f);
    if (i % 7 == 0) Ack(WriteRequest::Remove("seed" + std::to_string(i % 500), 0, "c1"), {index.get()});
  }
  done = true;
  for (auto& t : readers) t.join();
  ASSERT_TRUE(index->WaitUntilIndexed(std::chrono::seconds(60)));
  VectorIndexStats s = index->stats();
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.indexed, store_.size());
  EXPECT_GT(searches.load(), 0);
  // Nothing pending: the graph alone answers, and holds every final vector.
  for (int i = 0; i < 5; ++i) {
    const std::string id = "w" + std::to_string(i);
    auto current = store_.Get(id);
    auto direct = index->Search(current->vector, 1);
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ((*direct)[0].id, id) << "the graph holds an old vector of " << id;
    EXPECT_EQ((*direct)[0].distance, 0.0f);
  }
}

}  // namespace
}  // namespace baton::gateway

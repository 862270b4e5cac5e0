// Recall of the HNSW path against an exact scan. The 20k test runs in CI; the
// disabled 100k sweep is how the default ef_search was chosen:
//   vector_index_recall_test --gtest_also_run_disabled_tests --gtest_filter='*Sweep*'
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/store/vector_index.h"
#include "gateway/store/write_planner.h"
#include "tests/gateway/store/store_test_util.h"

namespace baton::gateway {
namespace {

constexpr int kDim = 128;
constexpr size_t kK = 10;

using Clock_ = std::chrono::steady_clock;
double Ms(Clock_::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Corpus {
  ManualClock clock;
  ObjectStore store{clock, ObjectStoreOptions{kDim}};
  std::vector<std::vector<float>> queries;
};

void FillCorpus(Corpus& c, size_t n, size_t queries, uint64_t seed) {
  std::mt19937_64 rng(seed);
  constexpr size_t kBatch = 1000;
  for (size_t start = 0; start < n; start += kBatch) {
    WriteBatchPlanner planner(c.store);
    std::vector<WriteOutcome> outs;
    for (size_t i = start; i < std::min(n, start + kBatch); ++i) {
      outs.push_back(planner.Plan(testing::Put(v1::WRITE_OP_INSERT, "v" + std::to_string(i),
                                               testing::RandomVector(rng, kDim), 0)));
    }
    ASSERT_TRUE(c.store.Apply(testing::RecordOf(outs)).ok());
  }
  for (size_t q = 0; q < queries; ++q) c.queries.push_back(testing::RandomVector(rng, kDim));
}

std::unique_ptr<VectorIndex> BuildIndex(const ObjectStore& store, Metric metric, size_t ef_search, double* build_ms) {
  VectorIndexOptions o;
  o.dimension = kDim;
  o.metric = metric;
  o.ef_search = ef_search;
  o.exact_threshold = 0;  // always the graph
  o.start_indexer = false;
  o.batch_size = 1024;
  auto index = std::move(VectorIndex::Create(store, o)).value();
  const auto t0 = Clock_::now();
  EXPECT_TRUE(index->Rebuild().ok());
  index->ProcessPendingForTest();
  *build_ms = Ms(Clock_::now() - t0);
  return index;
}

std::vector<std::unordered_set<std::string>> Truth(const Corpus& c, Metric metric, double* ms_per_query) {
  VectorIndexOptions o;
  o.dimension = kDim;
  o.metric = metric;
  o.exact_threshold = SIZE_MAX;
  o.start_indexer = false;
  auto exact = std::move(VectorIndex::Create(c.store, o)).value();
  std::vector<std::unordered_set<std::string>> truth;
  const auto t0 = Clock_::now();
  for (const auto& q : c.queries) {
    auto found = exact->Search(q, kK);
    std::unordered_set<std::string> ids;
    for (const auto& n : *found) ids.insert(n.id);
    truth.push_back(std::move(ids));
  }
  *ms_per_query = Ms(Clock_::now() - t0) / c.queries.size();
  return truth;
}

double Recall(const VectorIndex& index, const Corpus& c, const std::vector<std::unordered_set<std::string>>& truth,
              double* ms_per_query) {
  size_t hits = 0;
  const auto t0 = Clock_::now();
  for (size_t i = 0; i < c.queries.size(); ++i) {
    auto found = index.Search(c.queries[i], kK);
    EXPECT_TRUE(found.ok());
    for (const auto& n : *found) hits += truth[i].count(n.id);
  }
  *ms_per_query = Ms(Clock_::now() - t0) / c.queries.size();
  return static_cast<double>(hits) / (c.queries.size() * kK);
}

TEST(VectorIndexRecall, TwentyThousandRandomVectorsDefaultOptions) {
  for (Metric metric : {Metric::kL2, Metric::kCosine}) {
    Corpus c;
    FillCorpus(c, metric == Metric::kL2 ? 20'000 : 5'000, 200, 1);
    double build_ms = 0, exact_ms = 0, ann_ms = 0;
    auto index = BuildIndex(c.store, metric, VectorIndexOptions{}.ef_search, &build_ms);
    auto truth = Truth(c, metric, &exact_ms);
    const double recall = Recall(*index, c, truth, &ann_ms);
    std::cout << MetricName(metric) << ": " << c.store.size() << " x " << kDim << "-d, ef_search "
              << index->options().ef_search << ": recall@10 " << recall << ", build " << build_ms
              << " ms, hnsw " << ann_ms << " ms/query, exact " << exact_ms << " ms/query\n";
    EXPECT_GE(recall, 0.95) << MetricName(metric);
    // At the default ef the search is nearly exhaustive at this size; a
    // narrower search tells a sound graph from a degraded one (measured
    // 0.957 for L2 at 20k).
    index->SetEfSearch(400);
    const double narrow = Recall(*index, c, truth, &ann_ms);
    std::cout << "  ef_search 400: recall@10 " << narrow << ", " << ann_ms << " ms/query\n";
    EXPECT_GE(narrow, 0.93) << MetricName(metric);
  }
}

// Updates are applied in place (same hnsw label); updated objects must stay
// reachable: each is found by its own vector.
TEST(VectorIndexRecall, UpdatedObjectsStayFindable) {
  Corpus c;
  FillCorpus(c, 5'000, 0, 4);
  double build_ms = 0;
  auto index = BuildIndex(c.store, Metric::kL2, 400, &build_ms);
  std::mt19937_64 rng(5);
  std::vector<std::string> updated;
  for (int round = 0; round < 3; ++round) {
    WriteBatchPlanner planner(c.store);
    std::vector<WriteOutcome> outs;
    for (int i = 0; i < 500; ++i) {
      updated.push_back("v" + std::to_string(rng() % 5'000));
      outs.push_back(planner.Plan(testing::Put(v1::WRITE_OP_UPSERT, updated.back(),
                                               testing::RandomVector(rng, kDim), 0)));
    }
    v1::WriteRecord record = testing::RecordOf(outs);
    ASSERT_TRUE(c.store.Apply(record).ok());
    index->EnqueueRecord(record);
    index->ProcessPendingForTest();
  }
  size_t found = 0;
  for (const std::string& id : updated) {
    auto v = c.store.Get(id);
    auto r = index->Search(v->vector, 1);
    found += r.ok() && !r->empty() && (*r)[0].id == id;
  }
  const double rate = static_cast<double>(found) / updated.size();
  std::cout << "updated objects found by their own vector: " << rate << " (" << updated.size() << " updates)\n";
  EXPECT_GE(rate, 0.99);
  EXPECT_EQ(index->stats().deleted_in_graph, 0u);
}

TEST(VectorIndexRecall, DISABLED_HundredThousandSweep) {
  const char* n_env = std::getenv("BATON_RECALL_N");
  const size_t n = n_env ? std::strtoull(n_env, nullptr, 10) : 100'000;
  Corpus c;
  FillCorpus(c, n, 500, 2);
  double build_ms = 0, exact_ms = 0;
  auto index = BuildIndex(c.store, Metric::kL2, 64, &build_ms);
  auto truth = Truth(c, Metric::kL2, &exact_ms);
  std::cout << n << " x 128-d L2: build " << build_ms << " ms (one thread), exact scan " << exact_ms
            << " ms/query\n";
  for (size_t ef : {64, 128, 400, 1000, 1200, 1500, 1600, 1800, 2000}) {
    index->SetEfSearch(ef);
    double ann_ms = 0;
    const double recall = Recall(*index, c, truth, &ann_ms);
    std::cout << "  ef_search " << ef << ": recall@10 " << recall << ", " << ann_ms << " ms/query\n";
  }
  // Where the exact path stops paying: its cost per query at 10k objects.
  Corpus small;
  FillCorpus(small, 10'000, 200, 3);
  double small_exact_ms = 0;
  Truth(small, Metric::kL2, &small_exact_ms);
  std::cout << "10k x 128-d exact scan: " << small_exact_ms << " ms/query\n";
}

}  // namespace
}  // namespace baton::gateway

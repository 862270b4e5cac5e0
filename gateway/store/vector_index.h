// VectorIndex: k-nearest-neighbour search over an ObjectStore's live objects.
//
// Index maintenance runs behind the write path, as Vald's agents index
// asynchronously: after a write is durable and applied to the store, the
// writer calls Enqueue(id) (cheap, never blocks on the graph); one indexer
// thread later brings the HNSW graph up to date with the store for that id, in
// batches. Search nevertheless sees every acknowledged write at once: graph
// results for ids with a pending change are dropped, and those ids are scanned
// exactly with their current vectors from the store; the two lists are merged.
// Small stores (size < exact_threshold) and large backlogs (pending >
// max_pending_for_ann, e.g. during Rebuild) are scanned exactly altogether.
//
// Invariant: an id not pending is in the graph exactly as it is in the store
// (its current vector, or deleted/absent). The indexer removes an id from the
// pending set only after the graph holds the state it read from the store, and
// only if no newer Enqueue(id) came in meanwhile.
//
// Thread-safety: thread-safe. Search/SearchByID run concurrently with each
// other and with Enqueue; they wait for the graph only while the indexer
// applies one change (one hnsw insertion), never for the write path or an
// fsync. The writer must call Enqueue(id) after ObjectStore::Apply() and before
// acknowledging the write. `store` must outlive the index.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "baton/v1/storage.pb.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/store/hnsw_graph.h"
#include "gateway/store/metric.h"
#include "gateway/store/shared_mutex.h"
#include "gateway/store/store.h"

namespace baton::gateway {

struct VectorIndexOptions {
  int dimension = 0;  // index.dimension, > 0; must match the store's
  Metric metric = Metric::kL2;
  size_t m = 16;
  size_t ef_construction = 200;
  // Chosen for recall@10 >= 0.95 on 100k uniform random 128-d vectors with
  // M 16 / efC 200, the worst case for a graph index (vector_index_recall_test
  // sweep, one core): ef 128 -> 0.51 (0.4 ms/query), 400 -> 0.77 (1.1 ms),
  // 1000 -> 0.92 (2.6 ms), 1500 -> 0.954 (3.6 ms), 1600 -> 0.958 (4.2 ms),
  // 2000 -> 0.972 (4.8 ms); an exact scan of 100k costs 20 ms. Real
  // embeddings reach 0.95 at a far smaller ef: tune with SetEfSearch().
  size_t ef_search = 1600;
  // Below this many live objects Search scans exactly: a scan of 10k 128-d
  // objects costs ~0.4-0.8 ms, less than a graph query at the ef above, and
  // is exact; at 20k it costs ~1.3-3 ms (out of cache) and the graph wins.
  size_t exact_threshold = 10000;
  // Above this many pending ids Search scans the store exactly instead of
  // asking the graph for k + pending candidates (a graph query costs
  // max(ef_search, k + pending), so up to about ef_search it is free).
  size_t max_pending_for_ann = 1000;
  // Changes the indexer takes from the queue at a time (the pending set is
  // updated once per batch; the graph is locked per change).
  size_t batch_size = 64;
  // The indexer thread's nice value. Graph inserts cost far more CPU than a
  // durable write; at the default (10) they take the CPU only when client
  // calls leave it, and Search covers what is still pending exactly.
  int indexer_nice = 0;
  size_t initial_capacity = 1024;
  uint64_t random_seed = 100;
  // False: no indexer thread; tests call ProcessPendingForTest().
  bool start_indexer = true;
};

struct Neighbor {
  std::string id;
  float distance = 0;  // L2: squared distance; cosine: 1 - cosine similarity
};

struct VectorIndexStats {
  size_t indexed = 0;           // live objects in the graph
  size_t pending = 0;           // ids whose change is not in the graph yet
  size_t deleted_in_graph = 0;  // slots of removed objects (memory not reused)
  size_t capacity = 0;          // graph slots allocated
  uint64_t failures_total = 0;  // changes the graph refused (kept pending)
};

class VectorIndex {
 public:
  // INVALID_ARGUMENT for bad options or a dimension that is not the store's.
  static Result<std::unique_ptr<VectorIndex>> Create(const ObjectStore& store, VectorIndexOptions options);
  // Stops the indexer thread (waits for the batch in progress).
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // `id` changed in the store (put or remove). Non-blocking but for a short
  // mutex; any thread.
  void Enqueue(std::string_view id);
  // Enqueue() for every mutation of an applied log record.
  void EnqueueRecord(const v1::WriteRecord& record);

  // The k nearest live objects to `query`, nearest first (ties by id).
  // INVALID_ARGUMENT for a wrong dimension or k == 0.
  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k) const;
  // Search with the stored vector of `id` (NOT_FOUND if absent). The object
  // itself is always first, as Vald returns it.
  Result<std::vector<Neighbor>> SearchByID(std::string_view id, size_t k) const;

  // Re-indexes the whole store from scratch in the background (recovery,
  // after ObjectStore::LoadFrom, or to reclaim deleted slots). Returns at once;
  // searches stay correct meanwhile (exact scans while the backlog is large).
  // RESOURCE_EXHAUSTED if the new graph cannot be allocated: the old one is
  // kept and every object re-indexed into it.
  [[nodiscard]] Status Rebuild();

  // Blocks until every change enqueued so far is in the graph (or refused),
  // or `timeout` passes (false). Needs the indexer thread.
  bool WaitUntilIndexed(std::chrono::milliseconds timeout) const;

  // Changes the breadth of graph searches (recall against latency) at run
  // time; waits for the batch being indexed, if any.
  void SetEfSearch(size_t ef);

  VectorIndexStats stats() const;
  // stats().pending without the graph's lock (never waits for an insert).
  size_t pending_count() const;
  // As created (ef_search: the initial value).
  const VectorIndexOptions& options() const { return options_; }

  // Runs the indexer on the calling thread until nothing is queued; returns
  // the number of changes applied. For tests with start_indexer = false.
  size_t ProcessPendingForTest();

 private:
  struct Pending {
    uint64_t seq = 0;     // bumped by every Enqueue
    bool queued = false;  // in queue_ (not being processed, not failed)
  };

  VectorIndex(const ObjectStore& store, VectorIndexOptions options);
  void EnqueueLocked(std::string_view id) REQUIRES(pending_mu_);
  void IndexerLoop();
  // Applies up to batch_size queued changes; returns how many it took.
  size_t ProcessBatch() EXCLUDES(pending_mu_, graph_mu_);
  Status CheckQuery(std::span<const float> query, size_t k) const;

  const ObjectStore& store_;
  const VectorIndexOptions options_;
  const DistanceSpace space_;

  // Serialises ProcessBatch: one id is never indexed by two batches at once.
  Mutex process_mu_;

  mutable SharedMutex graph_mu_;
  HnswGraph graph_ GUARDED_BY(graph_mu_);

  mutable Mutex pending_mu_;
  mutable CondVar work_cv_{&pending_mu_};  // queue_ non-empty or stopping_
  mutable CondVar idle_cv_{&pending_mu_};  // queue_ empty and nothing in flight
  std::unordered_map<std::string, Pending> pending_ GUARDED_BY(pending_mu_);
  std::deque<std::string> queue_ GUARDED_BY(pending_mu_);
  uint64_t next_seq_ GUARDED_BY(pending_mu_) = 1;
  size_t in_flight_ GUARDED_BY(pending_mu_) = 0;
  uint64_t failures_total_ GUARDED_BY(pending_mu_) = 0;
  bool stopping_ GUARDED_BY(pending_mu_) = false;

  std::thread indexer_;  // last: starts after everything above exists
};

}  // namespace baton::gateway
